using CoordinationHub.Platform.OpenApi;
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

public sealed class GetAnswerIndicatorsHandler : IQueryHandler<GetAnswerIndicatorsQuery, AnswerIndicators>
{
    public ValueTask<AnswerIndicators> Handle(GetAnswerIndicatorsQuery query, CancellationToken ct) => throw new NotSupportedException("In progress.");
}
