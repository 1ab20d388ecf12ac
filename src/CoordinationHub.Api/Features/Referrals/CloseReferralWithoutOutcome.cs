using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>The receiver closes the referral without an outcome (the person did not come…).</summary>
[ContractName("ReferralClosure")]
public sealed record CloseReferralWithoutOutcomeCommand(AgentInput Agent, ClosureReason Reason, string? Text) : ReferralCommand, IReferralText;

public sealed class CloseReferralWithoutOutcomeValidator : AbstractValidator<CloseReferralWithoutOutcomeCommand>
{
    public CloseReferralWithoutOutcomeValidator()
    {
        Include(new ReferralTextRules());
        RuleFor(c => c.Reason).IsInEnum().NotEqual(ClosureReason.CONSENT_WITHDRAWN)
            .WithMessage("Consent is withdrawn by the sender with POST /v1/referrals/{id}/consent/revocation.");
    }
}

public sealed class CloseReferralWithoutOutcomeHandler(ReferralWorkflow workflow) : ICommandHandler<CloseReferralWithoutOutcomeCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(CloseReferralWithoutOutcomeCommand command, CancellationToken ct)
    {
        return await workflow.ActAsync(command.Id, command.ExpectedVersion, ReferralAction.CLOSE_WITHOUT_OUTCOME, "referral.status-changed", async s =>
        {
            s.Row.Status = nameof(ReferralStatus.CLOSED_WITHOUT_OUTCOME);
            s.Row.Outcome = command.Reason.ToString();
            s.Row.ClosedAt = s.Now;
            await workflow.AppendAsync(s, MessageKind.CLOSURE, command.Agent, command.Text);
        }, ct);
    }
}
