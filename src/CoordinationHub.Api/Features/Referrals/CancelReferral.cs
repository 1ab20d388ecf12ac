using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>The sender withdraws the referral before it is accepted.</summary>
[ContractName("ReferralCancellation")]
public sealed record CancelReferralCommand(AgentInput Agent, CancelReason Reason, string? Text) : ReferralCommand, IReferralText;

public sealed class CancelReferralValidator : AbstractValidator<CancelReferralCommand>
{
    public CancelReferralValidator()
    {
        Include(new ReferralTextRules());
        RuleFor(c => c.Reason).IsInEnum().NotEqual(CancelReason.CONSENT_WITHDRAWN)
            .WithMessage("Consent is withdrawn with POST /v1/referrals/{id}/consent/revocation.");
    }
}

public sealed class CancelReferralHandler(ReferralWorkflow workflow) : ICommandHandler<CancelReferralCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(CancelReferralCommand command, CancellationToken ct)
    {
        return await workflow.ActAsync(command.Id, command.ExpectedVersion, ReferralAction.CANCEL, "referral.status-changed", async s =>
        {
            s.Row.Status = nameof(ReferralStatus.CANCELLED);
            s.Row.CancelReason = command.Reason.ToString();
            s.Row.ClosedAt = s.Now;
            await workflow.AppendAsync(s, MessageKind.CANCELLATION, command.Agent, command.Text);
        }, ct);
    }
}
