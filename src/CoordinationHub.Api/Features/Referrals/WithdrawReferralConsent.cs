using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>
/// The person withdrew consent (recorded by the sender, who collected it). The receiver loses the
/// person's data at once (it sees that consent was withdrawn and when, nothing personal), and an open
/// referral ends: CANCELLED before acceptance, CLOSED_WITHOUT_OUTCOME after (both CONSENT_WITHDRAWN);
/// a closed one can no longer be re-oriented. A statutory basis cannot be withdrawn.
/// </summary>
[ContractName("ConsentRevocation")]
public sealed record WithdrawReferralConsentCommand(AgentInput Agent, string? Text) : ReferralCommand, IReferralText;

public sealed class WithdrawReferralConsentValidator : AbstractValidator<WithdrawReferralConsentCommand>
{
    public WithdrawReferralConsentValidator() => Include(new ReferralTextRules());
}

public sealed class WithdrawReferralConsentHandler(ReferralWorkflow workflow) : ICommandHandler<WithdrawReferralConsentCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(WithdrawReferralConsentCommand command, CancellationToken ct)
    {
        return await workflow.ActAsync(command.Id, command.ExpectedVersion, ReferralAction.WITHDRAW_CONSENT, "referral.consent-withdrawn", async s =>
        {
            var status = s.Row.Status;
            Withdraw(s.Row, s.Now);
            // An open referral ends with the withdrawal: its status event, as a cancellation or a closure sends.
            if (s.Row.Status != status) s.AlsoEmits.Add("referral.status-changed");
            await workflow.AppendAsync(s, MessageKind.CONSENT_WITHDRAWAL, command.Agent, command.Text);
        }, ct);
    }

    /// <summary>
    /// Records the withdrawal and ends an open referral with it: CANCELLED before acceptance, CLOSED_WITHOUT_OUTCOME after
    /// (the work cannot go on without the person's data), both with the reason CONSENT_WITHDRAWN.
    /// </summary>
    public static void Withdraw(ReferralRow row, DateTimeOffset now)
    {
        row.ConsentWithdrawnAt = now;
        if (row.State is ReferralStatus.SENT or ReferralStatus.RECEIVED or ReferralStatus.NEEDS_INFO)
        {
            row.Status = nameof(ReferralStatus.CANCELLED);
            row.CancelReason = nameof(CancelReason.CONSENT_WITHDRAWN);
            row.ClosedAt = now;
        }
        else if (row.State is ReferralStatus.ACCEPTED or ReferralStatus.IN_PROGRESS)
        {
            row.Status = nameof(ReferralStatus.CLOSED_WITHOUT_OUTCOME);
            row.Outcome = nameof(ClosureReason.CONSENT_WITHDRAWN);
            row.ClosedAt = now;
        }
    }
}
