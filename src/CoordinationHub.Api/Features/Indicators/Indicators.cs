using FluentValidation;
using CoordinationHub.Platform.OpenApi;

namespace CoordinationHub.Features.Indicators;

/// <summary>The territory an indicator is about: a commune (INSEE code), an EPCI (SIREN) or a département (COG code).</summary>
public enum TerritoryLevel { COMMUNE, EPCI, DEPARTEMENT }

/// <summary>The columns of a needs table: calendar months, quarters or years.</summary>
public enum PeriodGrain { MONTH, QUARTER, YEAR }

/// <summary>
/// The rows of a needs table: the competence that routed the referral, the need as sent (a competence code or a
/// need category), or the territory one level down (the communes of an EPCI, the EPCIs of a département).
/// </summary>
public enum NeedRows { COMPETENCE, NEED, COMMUNE, EPCI }

/// <summary>
/// One figure of a table. A suppressed figure (statistical secrecy) says so and carries no value: it is never 0.
/// <c>ratePer1000</c> is the count per 1,000 inhabitants of the row's territory, when its population is known.
/// </summary>
[ContractName("IndicatorCell")]
public sealed record IndicatorCell(long? Value, bool Suppressed, double? RatePer1000 = null)
{
    public static readonly IndicatorCell Hidden = new(null, true);
}

/// <summary>A computed figure (a median, a share): suppressed when computed over fewer referrals than the threshold.</summary>
[ContractName("IndicatorMeasure")]
public sealed record IndicatorMeasure(double? Value, bool Suppressed)
{
    public static readonly IndicatorMeasure Hidden = new(null, true);
}

/// <summary>A line of a table: its key (a code), its label, its population when a territory, its cells and its total.</summary>
[ContractName("IndicatorRow")]
public sealed record IndicatorRow(string Key, string Label, long? Population, IReadOnlyList<IndicatorCell> Cells, IndicatorCell Total);

/// <summary>
/// A two-way table with its margins: <c>columns</c> name the cells of every row, in order; <c>columnTotals</c> and
/// <c>grandTotal</c> are the sums, suppressed with the same rule (primary and secondary).
/// </summary>
[ContractName("IndicatorTable")]
public sealed record IndicatorTable(
    string RowDimension,
    IReadOnlyList<string> Columns,
    IReadOnlyList<IndicatorRow> Rows,
    IReadOnlyList<IndicatorCell> ColumnTotals,
    IndicatorCell GrandTotal);

/// <summary>
/// The territory of an answer, with its population and the referential that gave it (the population's vintage,
/// e.g. <c>@etalab/decoupage-administratif@6.0.0</c>).
/// </summary>
[ContractName("IndicatorTerritory")]
public sealed record IndicatorTerritory(TerritoryLevel Level, string Code, string Name, long? Population, string? PopulationSource);

/// <summary>
/// How an answer was protected: <c>applied</c> is false for an organisation's own figures (no secrecy towards itself);
/// else no count from 1 to <c>threshold</c> − 1 is published, and enough others are suppressed that none can be recomputed.
/// </summary>
[ContractName("IndicatorSecrecy")]
public sealed record IndicatorSecrecy(bool Applied, int Threshold);

/// <summary>The checks every indicator query makes of its territory.</summary>
public static class IndicatorRules
{
    public const string CommunePattern = "^(\\d{5}|2[ABab]\\d{3})$";
    public const string EpciPattern = "^\\d{9}$";
    public const string DepartementPattern = "^(\\d{2,3}|2[ABab])$";

    public static void Territory<T>(AbstractValidator<T> v, Func<T, TerritoryLevel> level, Func<T, string> code)
    {
        v.RuleFor(q => level(q)).IsInEnum().OverridePropertyName("level");
        v.RuleFor(q => code(q)).NotEmpty().OverridePropertyName("code")
            .Must((q, c) => System.Text.RegularExpressions.Regex.IsMatch(c ?? "", level(q) switch
            {
                TerritoryLevel.COMMUNE => CommunePattern, TerritoryLevel.EPCI => EpciPattern, _ => DepartementPattern,
            }))
            .WithMessage("A commune is its INSEE code (5 characters), an EPCI its SIREN (9 digits), a département its code (01, 2A, 974).");
    }
}
