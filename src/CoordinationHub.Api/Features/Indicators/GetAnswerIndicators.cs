using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Indicators;

/// <summary>
/// How referrals sent in a territory from <c>From</c> to <c>To</c> (months, inclusive) were answered, per competence:
/// public (suppressed) when <see cref="Organisation"/> is null, else the organisation's own part, unsuppressed.
/// </summary>
public sealed record GetAnswerIndicatorsQuery(
    TerritoryLevel Level,
    string Code,
    DateOnly? From = null,
    DateOnly? To = null) : IQuery<AnswerIndicators>
{
    /// <summary>Set by the own-figures endpoint from the caller's key, never from the request.</summary>
    public Guid? Organisation { get; init; }
}

/// <summary>
/// The answers to one competence's referrals (or all, <c>competence</c> = <c>TOTAL</c>). Every receiver that held a
/// referral counts its part (<c>received</c>): a transfer is the first receiver's answer, and the next receiver's
/// part begins. Times are from sending; shares are of <c>received</c>.
/// </summary>
[ContractName("AnswerFigures")]
public sealed record AnswerFigures(
    string Competence,
    IndicatorCell Received,
    IndicatorMeasure FirstResponseMedianHours,
    IndicatorMeasure FirstResponseP90Hours,
    IndicatorMeasure OutcomeMedianDays,
    IndicatorMeasure OutcomeP90Days,
    IndicatorMeasure AnsweredInTimeShare,
    IndicatorMeasure OverdueNowShare,
    IndicatorMeasure TransferredShare,
    IndicatorMeasure ReorientedShare,
    IndicatorMeasure ClosedWithoutOutcomeShare,
    IndicatorCell ConsentWithdrawals);

/// <summary>Answer times and results in a territory: per competence, in total, and the outcomes and decline reasons.</summary>
[ContractName("AnswerIndicators")]
public sealed record AnswerIndicators(
    IndicatorTerritory Territory,
    DateOnly From,
    DateOnly To,
    DateTimeOffset At,
    IndicatorSecrecy Secrecy,
    IReadOnlyList<AnswerFigures> Competences,
    AnswerFigures Total,
    IndicatorTable Outcomes,
    IndicatorTable DeclineReasons);

public sealed class GetAnswerIndicatorsValidator : AbstractValidator<GetAnswerIndicatorsQuery>
{
    public GetAnswerIndicatorsValidator() => IndicatorRules.Territory(this, q => q.Level, q => q.Code);
}

public sealed class GetAnswerIndicatorsHandler(Db db, IndicatorScope scope) : IQueryHandler<GetAnswerIndicatorsQuery, AnswerIndicators>
{
    public const string Total = "TOTAL";

    public async ValueTask<AnswerIndicators> Handle(GetAnswerIndicatorsQuery query, CancellationToken ct)
    {
        var (from, to) = scope.Months(query.From, query.To);
        await using var c = await db.OpenAsync(ct);
        var territory = await scope.ResolveAsync(c, query.Level, query.Code, ct);
        var now = scope.Now;
        var parameters = territory.Parameters(from, to, query.Organisation, now);
        var own = query.Organisation is not null;
        var measures = await c.QueryAsync<Measure>(db.Command(BuildSql(query.Level, own), parameters, ct));
        var overdue = await c.QueryAsync<Measure>(db.Command(BuildOverdueSql(query.Level, own), parameters, ct));

        // competence -> measure -> count; the overdue parts as one more measure.
        var counts = measures.Concat(overdue.Select(o => new Measure { CompetenceCode = o.CompetenceCode, Name = Overdue, N = o.N }))
            .GroupBy(m => m.CompetenceCode)
            .ToDictionary(g => g.Key, g => g.GroupBy(m => m.Name).ToDictionary(x => x.Key, x => x.Sum(m => m.N)));
        var competences = counts.Where(kv => kv.Value.GetValueOrDefault("received") > 0).Select(kv => kv.Key)
            .Order(StringComparer.Ordinal).ToList();
        var all = competences.SelectMany(k => counts[k]).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value));

        var secret = query.Organisation is null;
        var threshold = secret ? scope.Threshold : 0;
        var received = Column(competences, counts, "received", threshold);
        var withdrawn = Column(competences, counts, "consent_withdrawn", threshold);
        var figures = competences.Select((k, i) => Figures(k, counts[k], received[i], withdrawn[i], threshold)).ToList();
        return new AnswerIndicators(territory.Territory, from, to.AddMonths(1).AddDays(-1), now, new IndicatorSecrecy(secret, scope.Threshold),
            figures, Figures(Total, all, received[^1], withdrawn[^1], threshold),
            Table(competences, counts, "outcome:", Enum.GetNames<Outcome>(), threshold),
            Table(competences, counts, "declined:", Enum.GetNames<DeclineReason>(), threshold));
    }

    /// <summary>The counts by competence and measure; a public answer about a whole département reads its own rollup.</summary>
    public static string BuildSql(TerritoryLevel level, bool own) => MeasuresTemplate
        .Replace("{table}", !own && level == TerritoryLevel.DEPARTEMENT ? "referral_stat_departement" : "referral_stat")
        .Replace("{territory}", IndicatorScope.Filter(level)).Replace("{own}", own ? OwnFilter : "");

    public static string BuildOverdueSql(TerritoryLevel level, bool own) => OverdueTemplate
        .Replace("{territory}", IndicatorScope.Filter(level)).Replace("{own}", own ? OwnFilter : "");

    private static AnswerFigures Figures(string competence, Dictionary<string, long> m, IndicatorCell received, IndicatorCell withdrawn,
        int threshold)
    {
        var parts = m.GetValueOrDefault("received");
        IndicatorMeasure Share(string measure)
        {
            var n = m.GetValueOrDefault(measure);
            // A share is a count and its complement over the parts: neither may be a small count.
            return parts == 0 || parts < threshold || Small(n, threshold) || Small(parts - n, threshold)
                ? IndicatorMeasure.Hidden : new(Math.Round((double)n / parts, 4), false);
        }
        return new AnswerFigures(competence, received,
            Percentile(m, IndicatorRollup.Response, 0.5, 1, threshold), Percentile(m, IndicatorRollup.Response, 0.9, 1, threshold),
            Percentile(m, IndicatorRollup.OutcomeTime, 0.5, 24, threshold), Percentile(m, IndicatorRollup.OutcomeTime, 0.9, 24, threshold),
            Share("responded_in_time"), Share(Overdue), Share("transferred"), Share("reoriented"), Share("closed_without_outcome"), withdrawn);
    }

    /// <summary>
    /// A percentile read from a duration histogram, interpolated inside its bucket, in hours (<paramref name="unit"/> 1) or
    /// days (24); suppressed when fewer durations than the threshold were counted.
    /// </summary>
    public static IndicatorMeasure Percentile(IReadOnlyDictionary<string, long> m, string histogram, double p, double unit, int threshold)
    {
        var bounds = IndicatorRollup.HourBuckets;
        var counts = bounds.Select(b => m.GetValueOrDefault($"{histogram}_le_{b}"))
            .Append(m.GetValueOrDefault($"{histogram}_gt_{bounds[^1]}")).ToArray();
        var total = counts.Sum();
        if (total == 0 || total < threshold) return IndicatorMeasure.Hidden; // never computed over fewer than the threshold
        var rank = p * total;
        long before = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] > 0 && before + counts[i] >= rank)
            {
                double lower = i == 0 ? 0 : bounds[i - 1], upper = i < bounds.Length ? bounds[i] : bounds[^1];
                var hours = lower + (upper - lower) * (rank - before) / counts[i];
                return new IndicatorMeasure(Math.Round(hours / unit, 1), false);
            }
            before += counts[i];
        }
        return new IndicatorMeasure(Math.Round(bounds[^1] / unit, 1), false);
    }

    /// <summary>One measure per competence as a one-column table with its total, suppressed as a table: the cells, then the total.</summary>
    private static IReadOnlyList<IndicatorCell> Column(List<string> competences, Dictionary<string, Dictionary<string, long>> counts,
        string measure, int threshold)
    {
        var table = Table(competences, counts, measure, [""], threshold);
        return [.. table.Rows.Select(r => r.Cells[0]), table.GrandTotal];
    }

    /// <summary>Rows by competence, a column per code (<paramref name="prefix"/> + code), suppressed when the threshold is set.</summary>
    private static IndicatorTable Table(List<string> competences, Dictionary<string, Dictionary<string, long>> counts, string prefix,
        IReadOnlyList<string> codes, int threshold)
    {
        var cells = new long[competences.Count, codes.Count];
        for (var i = 0; i < competences.Count; i++)
            for (var j = 0; j < codes.Count; j++)
                cells[i, j] = counts[competences[i]].GetValueOrDefault(prefix + codes[j]);
        var hidden = threshold > 0 ? StatisticalSecrecy.Suppress(cells, threshold) : new bool[competences.Count + 1, codes.Count + 1];
        var full = StatisticalSecrecy.WithMargins(cells);
        int r = competences.Count, k = codes.Count;
        return new IndicatorTable("COMPETENCE", [.. codes.Select(code => code.Length == 0 ? prefix : code)],
            [.. competences.Select((comp, i) => new IndicatorRow(comp, comp, null,
                [.. codes.Select((_, j) => IndicatorScope.Cell(full[i, j], hidden[i, j], null))],
                IndicatorScope.Cell(full[i, k], hidden[i, k], null)))],
            [.. codes.Select((_, j) => IndicatorScope.Cell(full[r, j], hidden[r, j], null))],
            IndicatorScope.Cell(full[r, k], hidden[r, k], null));
    }

    private static bool Small(long n, int threshold) => n > 0 && n < threshold;

    private const string Overdue = "overdue_now";

    private sealed class Measure
    {
        public string CompetenceCode { get; init; } = "";
        public string Name { get; init; } = "";
        public long N { get; init; }
    }

    // Its part as a receiver, and every part of the referrals it sent.
    private const string OwnFilter = "AND (s.sender_id = @org OR s.receiver_id = @org)";
    private const string MeasuresTemplate = """
        SELECT s.competence_code, s.measure AS name, SUM(s.n) AS n
        FROM {table} s
        WHERE {territory} AND s.month_on >= @from AND s.month_on <= @to {own}
        GROUP BY s.competence_code, s.measure
        """;
    // Parts still awaiting their receiver's response whose deadline has passed.
    private const string OverdueTemplate = """
        SELECT s.competence_code, SUM(s.n) AS n
        FROM referral_awaiting s
        WHERE {territory} AND s.month_on >= @from AND s.month_on <= @to AND s.due_at <= @now {own}
        GROUP BY s.competence_code
        """;
}
