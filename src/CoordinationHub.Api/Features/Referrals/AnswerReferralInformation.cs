using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>The sender answers the receiver's question: back to RECEIVED, the deadline moved by the time the clock stood still.</summary>
[ContractName("ReferralAnswer")]
public sealed record AnswerReferralInformationCommand(AgentInput Agent, string Text) : ReferralCommand, IReferralText;

public sealed class AnswerReferralInformationValidator : AbstractValidator<AnswerReferralInformationCommand>
{
    public AnswerReferralInformationValidator()
    {
        Include(new ReferralTextRules());
        RuleFor(c => c.Text).NotEmpty();
    }
}

public sealed class AnswerReferralInformationHandler(ReferralWorkflow workflow)
    : ICommandHandler<AnswerReferralInformationCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(AnswerReferralInformationCommand command, CancellationToken ct)
    {
        return await workflow.ActAsync(command.Id, command.ExpectedVersion, ReferralAction.ANSWER_INFO, "referral.status-changed", async s =>
        {
            s.Row.Status = nameof(ReferralStatus.RECEIVED);
            if (s.Row.InfoRequestedAt is { } since) s.Row.DeadlineAt += s.Now - since;
            s.Row.InfoRequestedAt = null;
            await workflow.AppendAsync(s, MessageKind.ANSWER, command.Agent, command.Text);
        }, ct);
    }
}
