using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>The receiver starts working with the person (ACCEPTED → IN_PROGRESS).</summary>
[ContractName("ReferralStart")]
public sealed record StartReferralCommand(AgentInput Agent, string? Text) : ReferralCommand, IReferralText;

public sealed class StartReferralValidator : AbstractValidator<StartReferralCommand>
{
    public StartReferralValidator() => Include(new ReferralTextRules());
}

public sealed class StartReferralHandler(ReferralWorkflow workflow) : ICommandHandler<StartReferralCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(StartReferralCommand command, CancellationToken ct)
    {
        return await workflow.ActAsync(command.Id, command.ExpectedVersion, ReferralAction.START, "referral.status-changed", async s =>
        {
            s.Row.Status = nameof(ReferralStatus.IN_PROGRESS);
            await workflow.AppendAsync(s, MessageKind.START, command.Agent, command.Text);
        }, ct);
    }
}
