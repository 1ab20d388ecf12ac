using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>The receiver asks the sender a question: NEEDS_INFO, and the deadline clock stops until the answer.</summary>
[ContractName("ReferralQuestion")]
public sealed record RequestReferralInformationCommand(AgentInput Agent, string Text) : ReferralCommand, IReferralText;

public sealed class RequestReferralInformationValidator : AbstractValidator<RequestReferralInformationCommand>
{
    public RequestReferralInformationValidator()
    {
        Include(new ReferralTextRules());
        RuleFor(c => c.Text).NotEmpty();
    }
}

public sealed class RequestReferralInformationHandler(ReferralWorkflow workflow)
    : ICommandHandler<RequestReferralInformationCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(RequestReferralInformationCommand command, CancellationToken ct)
    {
        return await workflow.ActAsync(command.Id, command.ExpectedVersion, ReferralAction.REQUEST_INFO, "referral.status-changed", async s =>
        {
            s.Row.Status = nameof(ReferralStatus.NEEDS_INFO);
            s.Row.ReceivedAt ??= s.Now;
            s.Row.InfoRequestedAt = s.Now;
            await workflow.AppendAsync(s, MessageKind.QUESTION, command.Agent, command.Text);
        }, ct);
    }
}
