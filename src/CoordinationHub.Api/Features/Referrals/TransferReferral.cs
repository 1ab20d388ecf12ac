using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>
/// The receiver hands the referral to another organisation (the body actually responsible…): the new
/// receiver gets it as SENT with a new deadline; the old one keeps only that it transferred it.
/// </summary>
[ContractName("ReferralTransfer")]
public sealed record TransferReferralCommand(AgentInput Agent, Guid ReceiverId, TransferReason Reason, string? Text) : ReferralCommand, IReferralText;

public sealed class TransferReferralValidator : AbstractValidator<TransferReferralCommand>
{
    public TransferReferralValidator()
    {
        Include(new ReferralTextRules());
        RuleFor(c => c.ReceiverId).NotEmpty();
        RuleFor(c => c.Reason).IsInEnum();
    }
}

public sealed class TransferReferralHandler(Db db, ReferralWorkflow workflow, ReferralRouter router, ISender sender) : ICommandHandler<TransferReferralCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(TransferReferralCommand command, CancellationToken ct)
    {
        await workflow.ApplyAsync(command.Id, command.ExpectedVersion, ReferralAction.TRANSFER, "referral.transferred", async s =>
        {
            var from = s.Row.ReceiverId;
            if (command.ReceiverId == from)
                throw new Platform.Errors.RuleException("referrals.transfer-to-self", "The referral is already with your organisation.");
            await workflow.AppendAsync(s, MessageKind.TRANSFER, command.Agent, command.Text);
            var commune = await s.C.ExecuteScalarAsync<string>(db.Command(CommuneSql, new { id = s.Row.CommuneId }, s.Ct, s.Tx));
            // No duplicate guard: it answers the sender about its own referrals, and a transfer is not the sender's act (it
            // would tell this receiver what the sender has open elsewhere).
            await ReferralSending.PrepareAsync(db, router, s.C, s.Tx, s.Row, commune!, command.ReceiverId, s.Now, s.Ct);
            await s.C.ExecuteAsync(db.Command(LeaveSql, new
            {
                referralId = s.Row.Id, organisationId = from, s.Now, reason = command.Reason.ToString(), to = s.Row.ReceiverId,
            }, s.Ct, s.Tx));
            await ReferralSending.ReceiverSinceAsync(db, s.C, s.Tx, s.Row, s.Now, s.Ct);
            s.Row.Status = nameof(ReferralStatus.SENT);
            s.Row.ReceivedAt = null;
            s.Row.InfoRequestedAt = null;
            s.Row.AssignedAgentReference = null;
            s.Row.AssignedAgentName = null;
        }, ct);
        // The caller is now an earlier receiver: it sees that it transferred it, to whom and when (ReferralVisibility).
        return await sender.Send(new GetReferralQuery(command.Id), ct);
    }

    private const string CommuneSql = "SELECT code FROM organisation WHERE id = @id";
    private const string LeaveSql = """
        UPDATE referral_receiver SET left_at = @now, transfer_reason = @reason, transferred_to_id = @to
        WHERE referral_id = @referralId AND organisation_id = @organisationId AND left_at IS NULL
        """;
}
