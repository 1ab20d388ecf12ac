using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>Before sending: who would receive a referral for this need in this commune today, and how fast they answer.</summary>
public sealed record GetReferralRoutingQuery(string Commune, string Need) : IQuery<RoutingDto>;

/// <summary>
/// The receiver and the chain that chose it, its intake (paused: then the next body that acts for the
/// need there), its published delay, and the days it would have to answer a NORMAL referral from you.
/// </summary>
[Platform.OpenApi.ContractName("ReferralRoute")]
public sealed record RoutingDto(
    MapCommune Commune, string Need, string Competence, bool IsLegal, ReferralOrganisation Receiver, IReadOnlyList<ChainStep> Chain,
    IntakeDto Intake, ReferralOrganisation? NextReceiver, int ResponseDays, DeadlineSource ResponseDaysSource);

public sealed class GetReferralRoutingValidator : AbstractValidator<GetReferralRoutingQuery>
{
    public GetReferralRoutingValidator()
    {
        RuleFor(q => q.Commune).NotEmpty().Matches("^(\\d{5}|2[AB]\\d{3})$").WithMessage("A commune is its INSEE code (5 characters).");
        RuleFor(q => q.Need).NotEmpty().MaximumLength(32).Matches(Needs.NeedPattern);
    }
}

public sealed class GetReferralRoutingHandler(Db db, Caller caller, TimeProvider clock, ReferralRouter router)
    : IQueryHandler<GetReferralRoutingQuery, RoutingDto>
{
    public async ValueTask<RoutingDto> Handle(GetReferralRoutingQuery query, CancellationToken ct)
    {
        var org = caller.OrganisationId ?? throw new ForbiddenException("Routing is asked by an organisation's key.");
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        return await db.RetryAsync(async (c, t) =>
        {
            var competence = await router.CompetenceAsync(c, null, query.Need, t);
            var route = await router.RouteAsync(c, null, query.Commune, competence, null, today, t);
            var (days, source, _, _) = await router.ResponseDaysAsync(c, null, org, route.Receiver.Id, competence, Urgency.NORMAL, today, t);
            return new RoutingDto(route.Commune, query.Need, competence, route.IsLegal, route.Receiver, route.Chain, route.Intake,
                route.NextReceiver, days, source);
        }, ct);
    }
}
