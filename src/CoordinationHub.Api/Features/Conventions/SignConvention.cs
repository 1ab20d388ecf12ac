using CoordinationHub.Platform.OpenApi;
using System.Text.Json.Serialization;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Conventions;

/// <summary>
/// The caller's organisation signs the pending version (the convention itself, or its latest
/// amendment). When the last party signs, the version is SIGNED and applies from its effective date.
/// </summary>
[ContractName("ConventionSigning")]
public sealed record SignConventionCommand(string SignerName, DateOnly? SignedOn) : ICommand<ConventionDto>
{
    [JsonIgnore] public Guid Id { get; init; }
}

public sealed class SignConventionValidator : AbstractValidator<SignConventionCommand>
{
    public SignConventionValidator()
    {
        RuleFor(c => c.SignerName).NotEmpty().MaximumLength(200);
    }
}

public sealed class SignConventionHandler(Db db, Caller caller, TimeProvider clock, ChangeLog changeLog, Delegations.ConventionDelegations delegations)
    : ICommandHandler<SignConventionCommand, ConventionDto>
{
    public async ValueTask<ConventionDto> Handle(SignConventionCommand command, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var today = ConventionAccess.Today(clock);
        var signedOn = command.SignedOn ?? today;
        return await db.InTransactionAsync(async (c, tx, t) =>
        {
            var before = ConventionAccess.Visible(await ConventionStore.LoadAsync(db, c, tx, command.Id, t, forUpdate: true), caller, command.Id);
            // A signature binds the organisation that holds the key: the administrator cannot sign for a party.
            ConventionAccess.RequireParty(before, caller, "sign it");
            if (before.Recorded == ConventionStatus.TERMINATED)
                throw new ConflictException("conventions.terminated", $"Convention {before.Reference} was terminated; nothing can be signed any more.");
            var pending = ConventionAccess.Pending(before)
                ?? throw new ConflictException("conventions.nothing-to-sign", $"Every version of convention {before.Reference} is already signed by all parties.");
            var organisationId = caller.OrganisationId!.Value;
            if (before.Signatures.Any(s => s.AmendmentNo == pending.AmendmentNo && s.OrganisationId == organisationId))
                throw new ConflictException("conventions.already-signed", $"Your organisation already signed version {pending.AmendmentNo} of convention {before.Reference}.");
            if (signedOn > today)
                throw new RuleException("conventions.signature-in-future", "A signature is recorded once made: signedOn cannot be after today.");

            await c.ExecuteAsync(db.Command(SignatureSql, new
            {
                conventionId = before.Id, pending.AmendmentNo, organisationId, signerName = command.SignerName.Trim(), signedOn, apiKeyId = caller.KeyId, now,
            }, t, tx));
            var signers = before.Signatures.Where(s => s.AmendmentNo == pending.AmendmentNo).Select(s => s.OrganisationId).Append(organisationId).ToHashSet();
            var complete = before.Parties.All(p => signers.Contains(p.OrganisationId));
            if (complete && pending.AmendmentNo > 0)
                await delegations.EnsureStillCoveredAsync(c, tx, before.Id, pending.EffectiveOn, pending.Competences, pending.Communes, t);
            if (complete)
            {
                await c.ExecuteAsync(db.Command(VersionSignedSql, new { conventionId = before.Id, pending.AmendmentNo, now }, t, tx));
                if (pending.AmendmentNo == 0) await c.ExecuteAsync(db.Command(ConventionSignedSql, new { id = before.Id, now }, t, tx));
            }
            await c.ExecuteAsync(db.Command(TouchSql, new { id = before.Id, now }, t, tx));

            var after = (await ConventionStore.LoadAsync(db, c, tx, before.Id, t))!;
            // An amendment that brings the end forward ends the convention's delegations with it.
            var lastDay = after.LastDayOn(pending.EffectiveOn);
            if (complete && pending.AmendmentNo > 0 && lastDay < before.LastDayOn(pending.EffectiveOn))
                await delegations.EndAllAsync(c, tx, before.Id, lastDay, $"Amendment {pending.AmendmentNo} of convention {before.Reference} ends it on {lastDay:yyyy-MM-dd}.", t);
            // Every signature is an event; the last one of a version is also the event subscribers act on (signed, or amendment
            // signed), which names the change in the audit.
            var (snapshotBefore, snapshotAfter) = (ConventionAudit.Snapshot(before), ConventionAudit.Snapshot(after));
            List<ChangeLog.Entry> events = [new("convention", before.Id, "convention.signature-added", snapshotBefore, snapshotAfter, Audited: !complete)];
            if (complete)
                events.Add(new("convention", before.Id, pending.AmendmentNo == 0 ? "convention.signed" : "convention.amendment-signed", snapshotBefore, snapshotAfter));
            await changeLog.RecordAsync(c, tx, events, t);
            return await ConventionAccess.ToDtoAsync(db, c, tx, after, today, caller, t);
        }, ct);
    }

    private const string SignatureSql = """
        INSERT INTO convention_signature (convention_id, amendment_no, organisation_id, signer_name, signed_on, api_key_id, recorded_at)
        VALUES (@conventionId, @amendmentNo, @organisationId, @signerName, @signedOn, @apiKeyId, @now)
        """;
    private const string VersionSignedSql = "UPDATE convention_version SET status = 'SIGNED', signed_at = @now WHERE convention_id = @conventionId AND amendment_no = @amendmentNo";
    private const string ConventionSignedSql = "UPDATE convention SET status = 'SIGNED', signed_at = @now WHERE id = @id AND status = 'DRAFT'";
    private const string TouchSql = "UPDATE convention SET version = version + 1, updated_at = @now WHERE id = @id";
}
