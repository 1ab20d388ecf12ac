using CoordinationHub.Features.Indicators;
using CsCheck;

namespace CoordinationHub.Tests.Features.Indicators;

/// <summary>
/// Statistical secrecy over random tables (CsCheck), checked from the side of someone who reads every published figure
/// and total and tries to recompute a suppressed one: by the line equations (linear algebra, independent of the
/// method's graph reasoning), and with the bound that counts are never negative.
/// </summary>
public sealed class StatisticalSecrecyTests
{
    private static readonly Gen<long> Count = Gen.Frequency((3, Gen.Const(0L)), (4, Gen.Long[1, 10]), (4, Gen.Long[11, 300]));

    private static readonly Gen<(long[,] Cells, int Threshold)> Tables =
        Gen.Select(Gen.Int[1, 7], Gen.Int[1, 7], Gen.Int[11, 14])
            .SelectMany((r, c, t) => Count.Array[r * c].Select(values =>
            {
                var cells = new long[r, c];
                for (var i = 0; i < r; i++)
                    for (var j = 0; j < c; j++)
                        cells[i, j] = values[i * c + j];
                return (cells, t);
            }));

    [Fact]
    public void No_published_figure_or_total_is_a_count_below_the_threshold() =>
        Tables.Sample(t =>
        {
            var full = StatisticalSecrecy.WithMargins(t.Cells);
            var hidden = StatisticalSecrecy.Suppress(t.Cells, t.Threshold);
            foreach (var (i, j) in Figures(full))
                Assert.False(!hidden[i, j] && full[i, j] > 0 && full[i, j] < t.Threshold,
                    $"{full[i, j]} published at [{i},{j}] under threshold {t.Threshold}");
        }, iter: 3000);

    [Fact]
    public void No_suppressed_figure_is_determined_by_the_published_figures_and_totals() =>
        Tables.Sample(t =>
        {
            var full = StatisticalSecrecy.WithMargins(t.Cells);
            var hidden = StatisticalSecrecy.Suppress(t.Cells, t.Threshold);
            var unknowns = Figures(full).Where(p => hidden[p.Row, p.Column]).ToList();
            var equations = Equations(full).Select(line => unknowns.Select(u => line.GetValueOrDefault(u)).Select(x => (double)x).ToArray())
                .Where(row => row.Any(x => x != 0)).ToList();
            var rank = Rank(equations);
            for (var k = 0; k < unknowns.Count; k++)
            {
                var unit = new double[unknowns.Count];
                unit[k] = 1;
                Assert.True(Rank([.. equations, unit]) > rank,
                    $"the suppressed {full[unknowns[k].Row, unknowns[k].Column]} at {unknowns[k]} is recomputed from the published figures");
            }
        }, iter: 3000);

    [Fact]
    public void Every_suppressed_figure_can_move_by_one_either_way_without_changing_a_published_figure() =>
        Tables.Sample(t =>
        {
            // A cycle of suppressed figures, all at least 1, through the figure: add and take away one along it and every
            // line keeps its sum, no count goes negative. Such a cycle is another table the reader cannot tell apart.
            var full = StatisticalSecrecy.WithMargins(t.Cells);
            var hidden = StatisticalSecrecy.Suppress(t.Cells, t.Threshold);
            foreach (var (i, j) in Figures(full).Where(p => hidden[p.Row, p.Column] && full[p.Row, p.Column] > 0))
                Assert.True(Cycle(full, hidden, i, j), $"the suppressed {full[i, j]} at ({i}, {j}) is pinned: no cycle of non-zero suppressed figures");
        }, iter: 3000);

    [Fact]
    public void A_lone_small_cell_takes_a_neighbour_in_its_row_and_its_column_with_it()
    {
        long[,] cells = { { 5, 40, 30 }, { 50, 60, 70 } };
        var hidden = StatisticalSecrecy.Suppress(cells, 11);
        Assert.True(hidden[0, 0]);
        Assert.True(Enumerable.Range(0, 4).Count(j => hidden[0, j]) >= 2, "the row of the 5 keeps only the 5 suppressed");
        Assert.True(Enumerable.Range(0, 3).Count(i => hidden[i, 0]) >= 2, "the column of the 5 keeps only the 5 suppressed");
    }

    [Fact]
    public void A_configured_threshold_below_11_is_raised_to_11() =>
        Assert.Equal((11, 15), (new IndicatorOptions { SecrecyThreshold = 3 }.Threshold, new IndicatorOptions { SecrecyThreshold = 15 }.Threshold));

    private static IEnumerable<(int Row, int Column)> Figures(long[,] full)
    {
        for (var i = 0; i < full.GetLength(0); i++)
            for (var j = 0; j < full.GetLength(1); j++)
                yield return (i, j);
    }

    /// <summary>Every line adds up: the interior of each row to its total, of each column to its total, and the margins to the grand total.</summary>
    private static IEnumerable<Dictionary<(int, int), int>> Equations(long[,] full)
    {
        int rows = full.GetLength(0), columns = full.GetLength(1);
        for (var i = 0; i < rows; i++)
            yield return Enumerable.Range(0, columns).ToDictionary(j => (i, j), j => j == columns - 1 ? -1 : 1);
        for (var j = 0; j < columns; j++)
            yield return Enumerable.Range(0, rows).ToDictionary(i => (i, j), i => i == rows - 1 ? -1 : 1);
    }

    private static int Rank(List<double[]> matrix)
    {
        var m = matrix.Select(r => (double[])r.Clone()).ToList();
        var rank = 0;
        var width = m.Count == 0 ? 0 : m[0].Length;
        for (var col = 0; col < width && rank < m.Count; col++)
        {
            var pivot = Enumerable.Range(rank, m.Count - rank).FirstOrDefault(r => Math.Abs(m[r][col]) > 1e-9, -1);
            if (pivot < 0) continue;
            (m[rank], m[pivot]) = (m[pivot], m[rank]);
            for (var r = 0; r < m.Count; r++)
            {
                if (r == rank || Math.Abs(m[r][col]) < 1e-9) continue;
                var f = m[r][col] / m[rank][col];
                for (var c = col; c < width; c++) m[r][c] -= f * m[rank][c];
            }
            rank++;
        }
        return rank;
    }

    /// <summary>Whether row i and column j stay connected through suppressed, non-zero figures without (i, j) itself.</summary>
    private static bool Cycle(long[,] full, bool[,] hidden, int row, int column)
    {
        int rows = full.GetLength(0), columns = full.GetLength(1);
        bool Edge(int i, int j) => hidden[i, j] && full[i, j] > 0 && (i, j) != (row, column);
        var seen = new HashSet<int> { row };
        var queue = new Queue<int>([row]);
        while (queue.Count > 0)
        {
            var node = queue.Dequeue();
            var next = node < rows
                ? Enumerable.Range(0, columns).Where(j => Edge(node, j)).Select(j => rows + j)
                : Enumerable.Range(0, rows).Where(i => Edge(i, node - rows));
            foreach (var n in next)
                if (seen.Add(n)) queue.Enqueue(n);
        }
        return seen.Contains(rows + column);
    }
}
