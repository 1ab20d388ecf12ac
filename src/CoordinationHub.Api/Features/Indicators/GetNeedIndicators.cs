using CoordinationHub.Platform.OpenApi;
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

public sealed class GetNeedIndicatorsHandler : IQueryHandler<GetNeedIndicatorsQuery, NeedIndicators>
{
    public ValueTask<NeedIndicators> Handle(GetNeedIndicatorsQuery query, CancellationToken ct) => throw new NotSupportedException("In progress.");
}
