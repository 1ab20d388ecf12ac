using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Indicators;

/// <summary>
/// Referrals by need in a territory, per period: public (suppressed) when <see cref="Organisation"/> is null, else the
/// organisation's own figures, as sender or receiver, unsuppressed. Months from <c>From</c> to <c>To</c> (inclusive,
/// any day of the month; default the last 12 months).
/// </summary>
public sealed record GetNeedIndicatorsQuery(
    TerritoryLevel Level,
    string Code,
    PeriodGrain Period = PeriodGrain.MONTH,
    NeedRows Rows = NeedRows.COMPETENCE,
    DateOnly? From = null,
    DateOnly? To = null,
    string? Competence = null) : IQuery<NeedIndicators>
{
    /// <summary>Set by the own-figures endpoint from the caller's key, never from the request.</summary>
    public Guid? Organisation { get; init; }
}

/// <summary>Referrals by need and period in a territory: one table, rows by need (or sub-territory), columns by period.</summary>
[ContractName("NeedIndicators")]
public sealed record NeedIndicators(
    IndicatorTerritory Territory,
    PeriodGrain Period,
    DateOnly From,
    DateOnly To,
    NeedRows Rows,
    IndicatorSecrecy Secrecy,
    IndicatorTable Table);

public sealed class GetNeedIndicatorsValidator : AbstractValidator<GetNeedIndicatorsQuery>
{
    public GetNeedIndicatorsValidator()
    {
        IndicatorRules.Territory(this, q => q.Level, q => q.Code);
        RuleFor(q => q.Rows).Must((q, rows) => rows switch
            {
                NeedRows.COMMUNE => q.Level != TerritoryLevel.COMMUNE,
                NeedRows.EPCI => q.Level == TerritoryLevel.DEPARTEMENT,
                _ => true,
            })
            .WithMessage("rows=COMMUNE needs an EPCI or a département; rows=EPCI a département.");
        RuleFor(q => q.Competence).Matches(Referrals.Needs.NeedPattern).When(q => q.Competence is not null);
    }
}

public sealed class GetNeedIndicatorsHandler(Db db, IndicatorScope scope) : IQueryHandler<GetNeedIndicatorsQuery, NeedIndicators>
{
    public async ValueTask<NeedIndicators> Handle(GetNeedIndicatorsQuery query, CancellationToken ct)
    {
        var (from, to) = scope.Months(query.From, query.To);
        await using var c = await db.OpenAsync(ct);
        var territory = await scope.ResolveAsync(c, query.Level, query.Code, ct);
        var columns = Periods(query.Period, from, to);

        var sql = BuildSql(query);
        var counts = (await c.QueryAsync<Count>(db.Command(sql,
            territory.Parameters(from, to, query.Organisation, scope.Now, query.Competence), ct))).ToList();

        var rows = await RowsAsync(c, query, territory, counts, ct);
        var index = rows.Select((r, i) => (r.Key, i)).ToDictionary(x => x.Key, x => x.i);
        var cells = new long[rows.Count, columns.Count];
        var columnIndex = columns.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => x.i);
        foreach (var n in counts)
            if (index.TryGetValue(n.RowId?.ToString() ?? n.RowKey ?? "", out var r))
                cells[r, columnIndex[PeriodOf(query.Period, n.MonthOn)]] += n.N;

        var secret = query.Organisation is null;
        var hidden = secret ? StatisticalSecrecy.Suppress(cells, scope.Threshold) : new bool[rows.Count + 1, columns.Count + 1];
        var full = StatisticalSecrecy.WithMargins(cells);
        var population = territory.Territory.Population;
        var table = new IndicatorTable(
            query.Rows.ToString(),
            columns,
            [.. rows.Select((row, i) => new IndicatorRow(row.Key, row.Label, row.Population,
                [.. columns.Select((_, j) => IndicatorScope.Cell(full[i, j], hidden[i, j], row.Population))],
                IndicatorScope.Cell(full[i, columns.Count], hidden[i, columns.Count], row.Population)))],
            [.. columns.Select((_, j) => IndicatorScope.Cell(full[rows.Count, j], hidden[rows.Count, j], population))],
            IndicatorScope.Cell(full[rows.Count, columns.Count], hidden[rows.Count, columns.Count], population));
        return new NeedIndicators(territory.Territory, query.Period, from, to.AddMonths(1).AddDays(-1), query.Rows,
            new IndicatorSecrecy(secret, scope.Threshold), table);
    }

    /// <summary>The counts by month and row, from the département's rollup for a public answer about a whole département.</summary>
    public static string BuildSql(GetNeedIndicatorsQuery query)
    {
        var perDepartement = query.Organisation is null && query.Level == TerritoryLevel.DEPARTEMENT
            && query.Rows is NeedRows.COMPETENCE or NeedRows.NEED;
        return CountsTemplate
            .Replace("{table}", perDepartement ? "referral_stat_departement" : "referral_stat")
            .Replace("{row}", query.Rows switch
            {
                NeedRows.COMPETENCE => "s.competence_code AS row_key, NULL AS row_id",
                NeedRows.NEED => "s.need AS row_key, NULL AS row_id",
                NeedRows.COMMUNE => "NULL AS row_key, s.commune_id AS row_id",
                _ => "NULL AS row_key, m.epci_id AS row_id",
            })
            .Replace("{group}", query.Rows switch
            {
                NeedRows.COMPETENCE => "s.competence_code", NeedRows.NEED => "s.need", NeedRows.COMMUNE => "s.commune_id", _ => "m.epci_id",
            })
            .Replace("{join}", query.Rows == NeedRows.EPCI ? "JOIN organisation m ON m.id = s.commune_id" : "")
            .Replace("{territory}", IndicatorScope.Filter(query.Level))
            .Replace("{competence}", query.Competence is null ? "" : "AND s.competence_code = @competence")
            .Replace("{measure}", query.Organisation is null ? PublicMeasure : OwnMeasure);
    }

    /// <summary>
    /// The rows: every commune or EPCI of the territory (an empty one is a row too), or the competences and needs
    /// counted, in code order.
    /// </summary>
    private async Task<List<(string Key, string Label, long? Population)>> RowsAsync(System.Data.Common.DbConnection c,
        GetNeedIndicatorsQuery query, ResolvedTerritory territory, List<Count> counts, CancellationToken ct)
    {
        if (query.Rows is NeedRows.COMMUNE or NeedRows.EPCI)
        {
            var sql = query.Rows == NeedRows.EPCI ? EpcisSql
                : query.Level == TerritoryLevel.EPCI ? CommunesOfEpciSql : CommunesOfDepartementSql;
            var units = await c.QueryAsync<Unit>(db.Command(sql, new { id = territory.Id, departement = territory.Departement, active = true }, ct));
            var rows = units.Select(u => (Key: u.Id.ToString(), u.Code, u.Name, u.Population)).ToList();
            // A referral counted in a commune no longer listed (merged since): its own row, so the totals hold.
            foreach (var id in counts.Where(n => n.RowId is not null).Select(n => n.RowId!.Value.ToString()).Distinct()
                         .Where(id => rows.All(r => r.Key != id)).ToList())
                rows.Add((id, id, id, null));
            return [.. rows.OrderBy(r => r.Code, StringComparer.Ordinal).Select(r => (r.Key, $"{r.Code} {r.Name}", r.Population))];
        }
        var labels = query.Rows == NeedRows.COMPETENCE
            ? (await c.QueryAsync<(string Code, string Label)>(db.Command(CompetencesSql, null, ct))).ToDictionary(x => x.Code, x => x.Label)
            : [];
        return [.. counts.Select(n => n.RowKey!).Distinct().Order(StringComparer.Ordinal)
            .Select(k => (k, labels.GetValueOrDefault(k) ?? k, territory.Territory.Population))];
    }

    /// <summary>The columns: one per month, quarter or year from the first month to the last.</summary>
    public static IReadOnlyList<string> Periods(PeriodGrain grain, DateOnly from, DateOnly to)
    {
        var periods = new List<string>();
        for (var m = from; m <= to; m = m.AddMonths(1))
            if (periods.Count == 0 || periods[^1] != PeriodOf(grain, m)) periods.Add(PeriodOf(grain, m));
        return periods;
    }

    public static string PeriodOf(PeriodGrain grain, DateOnly month) => grain switch
    {
        PeriodGrain.MONTH => $"{month.Year:D4}-{month.Month:D2}",
        PeriodGrain.QUARTER => $"{month.Year:D4}-Q{(month.Month + 2) / 3}",
        _ => $"{month.Year:D4}",
    };

    private sealed class Count
    {
        public DateOnly MonthOn { get; init; }
        public string? RowKey { get; init; }
        public Guid? RowId { get; init; }
        public long N { get; init; }
    }

    private sealed class Unit
    {
        public Guid Id { get; init; }
        public string Code { get; init; } = "";
        public string Name { get; init; } = "";
        public long? Population { get; init; }
    }

    // Public: each referral once. Own: what the organisation sent, and what it received from others (each of its parts).
    private const string PublicMeasure = "s.measure = 'referrals'";
    private const string OwnMeasure = """
        (s.sender_id = @org AND s.measure = 'referrals' OR s.receiver_id = @org AND s.sender_id <> @org AND s.measure = 'received')
        """;
    private const string CountsTemplate = """
        SELECT s.month_on, {row}, SUM(s.n) AS n
        FROM {table} s {join}
        WHERE {territory} AND s.month_on >= @from AND s.month_on <= @to {competence}
          AND {measure}
        GROUP BY s.month_on, {group}
        """;
    private const string CommunesOfDepartementSql = """
        SELECT id, code, name, population FROM organisation WHERE kind = 'COMMUNE' AND departement_code = @departement AND is_active = @active
        """;
    private const string CommunesOfEpciSql = """
        SELECT id, code, name, population FROM organisation WHERE kind = 'COMMUNE' AND epci_id = @id AND is_active = @active
        """;
    private const string EpcisSql = """
        SELECT e.id, e.code, e.name, e.population FROM organisation e
        WHERE e.kind = 'EPCI' AND e.id IN (SELECT m.epci_id FROM organisation m WHERE m.kind = 'COMMUNE' AND m.departement_code = @departement)
        """;
    private const string CompetencesSql = "SELECT code, label FROM competence";
}
