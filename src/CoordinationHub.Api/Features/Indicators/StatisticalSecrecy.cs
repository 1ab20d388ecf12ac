namespace CoordinationHub.Features.Indicators;

/// <summary>
/// Statistical secrecy for a two-way table of counts with its margins (row totals, column totals, grand total).
/// <para>
/// Primary suppression: every figure from 1 to the threshold minus one is suppressed (an empty cell, 0, counts nobody
/// and is published). Secondary suppression: enough
/// other figures are suppressed that no suppressed one can be recomputed from the published ones. The table with
/// its margins is a bipartite graph — one node per row (and one for the column totals' row), one per column (and one
/// for the row totals' column), one edge per figure — in which every line adds up. The suppressed figures are
/// unknowns: one is determined by the published figures exactly when its edge is a bridge of the graph of suppressed
/// edges (no cycle runs through it). So the method suppresses, to a fixed point: in every line holding exactly one
/// suppressed figure, the smallest other figure of the line; then, for a suppressed edge that is still a bridge, the
/// smallest figure that closes a cycle through it. Non-zero figures are taken before zeros, interior cells before
/// margins, smallest first.
/// </para>
/// <para>
/// Why non-zero first: counts are never negative. A cycle of suppressed figures that are all at least 1 lets each of
/// them move by one either way (adding and taking away along the cycle) while every published figure and total stays
/// the same, so none is pinned by the equations or by the bounds. Published zeros are known and never on a cycle.
/// </para>
/// Plain C#, tested without a database (StatisticalSecrecyTests, with CsCheck against a linear-algebra check).
/// </summary>
public static class StatisticalSecrecy
{
    /// <summary>The lowest threshold a public answer may use, whatever the configuration says.</summary>
    public const int Minimum = 11;

    /// <summary>
    /// The suppression mask of <paramref name="cells"/> (R×C) with its margins: an (R+1)×(C+1) array whose last row
    /// holds the column totals and last column the row totals (the grand total at [R, C]).
    /// </summary>
    public static bool[,] Suppress(long[,] cells, int threshold)
    {
        var full = WithMargins(cells);
        int rows = full.GetLength(0), columns = full.GetLength(1);
        var hidden = new bool[rows, columns];
        for (var i = 0; i < rows; i++)
            for (var j = 0; j < columns; j++)
                hidden[i, j] = full[i, j] > 0 && full[i, j] < threshold;
        while (CompleteLines(full, hidden) || BreakBridge(full, hidden)) { }
        return hidden;
    }

    /// <summary>The table with its margins appended: row totals as a last column, column totals as a last row.</summary>
    public static long[,] WithMargins(long[,] cells)
    {
        int r = cells.GetLength(0), c = cells.GetLength(1);
        var full = new long[r + 1, c + 1];
        for (var i = 0; i < r; i++)
            for (var j = 0; j < c; j++)
            {
                full[i, j] = cells[i, j];
                full[i, c] += cells[i, j];
                full[r, j] += cells[i, j];
                full[r, c] += cells[i, j];
            }
        return full;
    }

    /// <summary>Suppresses a second figure in every line that holds exactly one; true when it suppressed any.</summary>
    private static bool CompleteLines(long[,] full, bool[,] hidden)
    {
        int rows = full.GetLength(0), columns = full.GetLength(1);
        var changed = false;
        for (var i = 0; i < rows; i++)
            if (Enumerable.Range(0, columns).Count(j => hidden[i, j]) == 1)
                changed |= Hide(full, hidden, Enumerable.Range(0, columns).Select(j => (i, j)));
        for (var j = 0; j < columns; j++)
            if (Enumerable.Range(0, rows).Count(i => hidden[i, j]) == 1)
                changed |= Hide(full, hidden, Enumerable.Range(0, rows).Select(i => (i, j)));
        return changed;
    }

    /// <summary>
    /// Finds a suppressed figure whose edge is a bridge and suppresses the smallest figure joining the two sides the
    /// bridge separates (which closes a cycle through it); true when it found one.
    /// </summary>
    private static bool BreakBridge(long[,] full, bool[,] hidden)
    {
        if (FindBridge(hidden) is not { } bridge) return false;
        int rows = full.GetLength(0), columns = full.GetLength(1);
        hidden[bridge.Row, bridge.Column] = false;
        var side = Reach(hidden, bridge.Row);
        hidden[bridge.Row, bridge.Column] = true;
        // Nodes: rows 0..rows-1, then columns rows..rows+columns-1.
        var candidates = new List<(int, int)>();
        for (var i = 0; i < rows; i++)
            for (var j = 0; j < columns; j++)
                if (!hidden[i, j] && side[i] != side[rows + j]) candidates.Add((i, j));
        return Hide(full, hidden, candidates);
    }

    private static bool Hide(long[,] full, bool[,] hidden, IEnumerable<(int Row, int Column)> line)
    {
        int lastRow = full.GetLength(0) - 1, lastColumn = full.GetLength(1) - 1;
        var pick = line.Where(p => !hidden[p.Row, p.Column])
            .OrderBy(p => full[p.Row, p.Column] == 0 ? 1 : 0)
            .ThenBy(p => p.Row == lastRow || p.Column == lastColumn ? 1 : 0)
            .ThenBy(p => full[p.Row, p.Column]).ThenBy(p => p.Row).ThenBy(p => p.Column)
            .Select(p => ((int, int)?)p).FirstOrDefault();
        if (pick is not { } cell) return false;
        hidden[cell.Item1, cell.Item2] = true;
        return true;
    }

    /// <summary>Which nodes the suppressed edges connect to row <paramref name="start"/>.</summary>
    private static bool[] Reach(bool[,] hidden, int start)
    {
        int rows = hidden.GetLength(0), columns = hidden.GetLength(1);
        var seen = new bool[rows + columns];
        var stack = new Stack<int>([start]);
        seen[start] = true;
        while (stack.Count > 0)
            foreach (var next in Neighbours(hidden, stack.Pop()))
                if (!seen[next]) { seen[next] = true; stack.Push(next); }
        return seen;
    }

    private static IEnumerable<int> Neighbours(bool[,] hidden, int node)
    {
        int rows = hidden.GetLength(0), columns = hidden.GetLength(1);
        if (node < rows)
        {
            for (var j = 0; j < columns; j++)
                if (hidden[node, j]) yield return rows + j;
        }
        else
        {
            for (var i = 0; i < rows; i++)
                if (hidden[i, node - rows]) yield return i;
        }
    }

    /// <summary>A bridge of the graph of suppressed figures (Tarjan's low-link, iterative), or null.</summary>
    public static (int Row, int Column)? FindBridge(bool[,] hidden)
    {
        int rows = hidden.GetLength(0), columns = hidden.GetLength(1), nodes = rows + columns;
        var order = new int[nodes];
        var low = new int[nodes];
        var counter = 0;
        for (var root = 0; root < nodes; root++)
        {
            if (order[root] != 0) continue;
            // Frame: node, its parent, the neighbours left to visit.
            var stack = new Stack<(int Node, int Parent, IEnumerator<int> Next)>();
            order[root] = low[root] = ++counter;
            stack.Push((root, -1, Neighbours(hidden, root).GetEnumerator()));
            while (stack.Count > 0)
            {
                var (node, parent, next) = stack.Peek();
                if (next.MoveNext())
                {
                    var to = next.Current;
                    if (to == parent) continue; // a grid has one edge per pair: skipping the parent skips the edge we came by
                    if (order[to] == 0)
                    {
                        order[to] = low[to] = ++counter;
                        stack.Push((to, node, Neighbours(hidden, to).GetEnumerator()));
                    }
                    else low[node] = Math.Min(low[node], order[to]);
                }
                else
                {
                    stack.Pop();
                    if (parent < 0) continue;
                    low[parent] = Math.Min(low[parent], low[node]);
                    if (low[node] > order[parent])
                        return parent < rows ? (parent, node - rows) : (node, parent - rows);
                }
            }
        }
        return null;
    }
}
