using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>
/// The person withdrew consent (recorded by the sender, who collected it). Before acceptance the
/// referral is withdrawn (CANCELLED, CONSENT_WITHDRAWN); after, it stays with the receiver, who sees
/// the withdrawal, and it can no longer be transferred or re-oriented.
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
            Withdraw(s.Row, s.Now);
            await workflow.AppendAsync(s, MessageKind.CONSENT_WITHDRAWAL, command.Agent, command.Text);
        }, ct);
    }

    /// <summary>Records the withdrawal; before acceptance the referral is withdrawn with it (CANCELLED, CONSENT_WITHDRAWN).</summary>
    public static void Withdraw(ReferralRow row, DateTimeOffset now)
    {
        row.ConsentWithdrawnAt = now;
        if (row.State is ReferralStatus.SENT or ReferralStatus.RECEIVED or ReferralStatus.NEEDS_INFO)
        {
            row.Status = nameof(ReferralStatus.CANCELLED);
            row.CancelReason = nameof(CancelReason.CONSENT_WITHDRAWN);
            row.ClosedAt = now;
        }
    }
}
