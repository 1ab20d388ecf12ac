using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>The receiver declines, with a reason from the list and a text, and may suggest a receiver the sender can re-orient to.</summary>
[ContractName("ReferralDecline")]
public sealed record DeclineReferralCommand(AgentInput Agent, DeclineReason Reason, string Text, Guid? SuggestedReceiverId)
    : ReferralCommand, IReferralText;

public sealed class DeclineReferralValidator : AbstractValidator<DeclineReferralCommand>
{
    public DeclineReferralValidator()
    {
        Include(new ReferralTextRules());
        RuleFor(c => c.Reason).IsInEnum();
        RuleFor(c => c.Text).NotEmpty();
    }
}

public sealed class DeclineReferralHandler(ReferralWorkflow workflow) : ICommandHandler<DeclineReferralCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(DeclineReferralCommand command, CancellationToken ct)
    {
        return await workflow.ActAsync(command.Id, command.ExpectedVersion, ReferralAction.DECLINE, "referral.status-changed", async s =>
        {
            if (command.SuggestedReceiverId is { } suggested && (suggested == s.Row.ReceiverId || suggested == s.Row.SenderId))
                throw new RuleException("referrals.invalid-suggestion", "Suggest another organisation than the sender or yourself.");
            s.Row.Status = nameof(ReferralStatus.DECLINED);
            s.Row.ReceivedAt ??= s.Now;
            s.Row.RespondedAt = s.Now;
            s.Row.ClosedAt = s.Now;
            s.Row.DeclineReason = command.Reason.ToString();
            s.Row.SuggestedReceiverId = command.SuggestedReceiverId;
            await workflow.AppendAsync(s, MessageKind.DECLINE, command.Agent, command.Text);
        }, ct);
    }
}
