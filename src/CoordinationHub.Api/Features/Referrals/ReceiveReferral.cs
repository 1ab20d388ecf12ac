using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>The receiver acknowledges the referral (its first read does the same).</summary>
public sealed record ReceiveReferralCommand : ReferralCommand;

public sealed class ReceiveReferralHandler(ReferralWorkflow workflow) : ICommandHandler<ReceiveReferralCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(ReceiveReferralCommand command, CancellationToken ct) =>
        await ReceiveAsync(workflow, command.Id, command.ExpectedVersion, ct);

    internal static Task<ReferralDto> ReceiveAsync(ReferralWorkflow workflow, Guid id, int? expectedVersion, CancellationToken ct) =>
        workflow.ActAsync(id, expectedVersion, ReferralAction.RECEIVE, "referral.received", s =>
        {
            s.Row.Status = nameof(ReferralStatus.RECEIVED);
            s.Row.ReceivedAt ??= s.Now;
            return Task.CompletedTask;
        }, ct);
}
