using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>The receiver accepts the referral, optionally naming the agent in charge (référent).</summary>
[ContractName("ReferralAcceptance")]
public sealed record AcceptReferralCommand(AgentInput Agent, string? Text, AgentInput? AssignedAgent) : ReferralCommand, IReferralText;

public sealed class AcceptReferralValidator : AbstractValidator<AcceptReferralCommand>
{
    public AcceptReferralValidator()
    {
        Include(new ReferralTextRules());
        RuleFor(c => c.AssignedAgent!).ChildRules(ReferralRules.AgentFields).When(c => c.AssignedAgent is not null);
    }
}

public sealed class AcceptReferralHandler(ReferralWorkflow workflow, AssignmentLog assignments) : ICommandHandler<AcceptReferralCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(AcceptReferralCommand command, CancellationToken ct)
    {
        return await workflow.ActAsync(command.Id, command.ExpectedVersion, ReferralAction.ACCEPT, "referral.status-changed", async s =>
        {
            s.Row.Status = nameof(ReferralStatus.ACCEPTED);
            s.Row.ReceivedAt ??= s.Now;
            s.Row.RespondedAt = s.Now;
            if (command.AssignedAgent is { } agent)
            {
                await assignments.AssignAsync(s, agent);
                s.AlsoEmits.Add("referral.agent-assigned");
            }
            await workflow.AppendAsync(s, MessageKind.ACCEPTANCE, command.Agent, command.Text);
        }, ct);
    }
}
