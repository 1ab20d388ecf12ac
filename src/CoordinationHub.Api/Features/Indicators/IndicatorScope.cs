using System.Data.Common;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using Microsoft.Extensions.Options;

namespace CoordinationHub.Features.Indicators;

/// <summary>Section <c>Indicators</c>.</summary>
public sealed class IndicatorOptions
{
    /// <summary>
    /// The statistical secrecy threshold of public answers: no count below it is published. A setting below
    /// <see cref="StatisticalSecrecy.Minimum"/> (11) is raised to it: public answers never go lower.
    /// </summary>
    public int SecrecyThreshold { get; set; } = StatisticalSecrecy.Minimum;

    public int Threshold => Math.Max(StatisticalSecrecy.Minimum, SecrecyThreshold);
}

/// <summary>A territory found in the directory, with what selects its cells in the rollups.</summary>
public sealed record ResolvedTerritory(IndicatorTerritory Territory, Guid Id, string Departement)
{
    public object Parameters(DateOnly from, DateOnly to, Guid? organisation, DateTimeOffset now, string? competence = null) =>
        new { id = Id, departement = Departement, from, to, org = organisation, now, competence };
}

/// <summary>What the indicator handlers share: the territory, the months asked, the threshold.</summary>
public sealed class IndicatorScope(Db db, IOptions<IndicatorOptions> options, TimeProvider clock)
{
    public int Threshold => options.Value.Threshold;

    public DateTimeOffset Now => clock.GetUtcNow();

    /// <summary>The first day of the months from <paramref name="from"/> to <paramref name="to"/> (default: the last 12).</summary>
    public (DateOnly From, DateOnly To) Months(DateOnly? from, DateOnly? to)
    {
        var last = IndicatorRollup.MonthOf(to is { } t ? new DateTimeOffset(t.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) : Now);
        var first = from is { } f ? new DateOnly(f.Year, f.Month, 1) : last.AddMonths(-11);
        if (first > last) throw new BadRequestException("indicators.period", "from is after to.");
        if (first < last.AddMonths(-119)) throw new BadRequestException("indicators.period", "At most 120 months at once.");
        return (first, last);
    }

    public async Task<ResolvedTerritory> ResolveAsync(DbConnection c, TerritoryLevel level, string code, CancellationToken ct)
    {
        var kind = level.ToString();
        var row = await c.QuerySingleOrDefaultAsync<TerritoryRow>(db.Command(TerritorySql, new { kind, code = code.ToUpperInvariant() }, ct))
            ?? throw new NotFoundException(level switch
            {
                TerritoryLevel.COMMUNE => "commune", TerritoryLevel.EPCI => "EPCI", _ => "département",
            }, code);
        var population = level == TerritoryLevel.DEPARTEMENT
            ? await c.ExecuteScalarAsync<long?>(db.Command(DepartementPopulationSql, new { departement = row.DepartementCode, active = true }, ct))
            : row.Population;
        var source = await c.ExecuteScalarAsync<string?>(db.Command(SourceSql, null, ct));
        return new ResolvedTerritory(new IndicatorTerritory(level, row.Code, row.Name, population, source), row.Id,
            row.DepartementCode ?? "");
    }

    /// <summary>The cells of a territory in the rollups (alias <c>s</c>): its département's, its commune's, its EPCI's communes'.</summary>
    public static string Filter(TerritoryLevel level) => level switch
    {
        TerritoryLevel.COMMUNE => "s.departement_code = @departement AND s.commune_id = @id",
        TerritoryLevel.EPCI => "s.commune_id IN (SELECT m.id FROM organisation m WHERE m.epci_id = @id)",
        _ => "s.departement_code = @departement",
    };

    /// <summary>A count, or suppressed; its rate per 1,000 inhabitants when the population is known.</summary>
    public static IndicatorCell Cell(long value, bool suppressed, long? population) => suppressed
        ? IndicatorCell.Hidden
        : new IndicatorCell(value, false, population is > 0 ? Math.Round(value * 1000.0 / population.Value, 3) : null);

    private sealed class TerritoryRow
    {
        public Guid Id { get; init; }
        public string Code { get; init; } = "";
        public string Name { get; init; } = "";
        public long? Population { get; init; }
        public string? DepartementCode { get; init; }
    }

    private const string TerritorySql = """
        SELECT id, code, name, population, departement_code FROM organisation WHERE kind = @kind AND code = @code
        """;
    private const string DepartementPopulationSql = """
        SELECT SUM(population) FROM organisation WHERE kind = 'COMMUNE' AND is_active = @active AND departement_code = @departement
        """;
    // The referential the populations come from, with its vintage (e.g. @etalab/decoupage-administratif@6.0.0).
    private const string SourceSql = """
        SELECT MAX(source) FROM referential_import WHERE imported_at = (SELECT MAX(imported_at) FROM referential_import)
        """;
}
