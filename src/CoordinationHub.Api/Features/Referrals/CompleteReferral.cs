using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>The receiver closes the loop with an outcome from the list and a text.</summary>
[ContractName("ReferralCompletion")]
public sealed record CompleteReferralCommand(AgentInput Agent, Outcome Outcome, string? Text) : ReferralCommand, IReferralText;

public sealed class CompleteReferralValidator : AbstractValidator<CompleteReferralCommand>
{
    public CompleteReferralValidator()
    {
        Include(new ReferralTextRules());
        RuleFor(c => c.Outcome).IsInEnum();
    }
}

public sealed class CompleteReferralHandler(ReferralWorkflow workflow) : ICommandHandler<CompleteReferralCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(CompleteReferralCommand command, CancellationToken ct)
    {
        return await workflow.ActAsync(command.Id, command.ExpectedVersion, ReferralAction.COMPLETE, "referral.status-changed", async s =>
        {
            s.Row.Status = nameof(ReferralStatus.COMPLETED);
            s.Row.Outcome = command.Outcome.ToString();
            s.Row.ClosedAt = s.Now;
            await workflow.AppendAsync(s, MessageKind.OUTCOME, command.Agent, command.Text);
        }, ct);
    }
}
