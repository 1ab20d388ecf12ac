using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.PersonalData;

public enum PersonRequestKind { ERASURE, OBJECTION }
public enum PersonRequestOutcome { ERASED, REFUSED_STATUTORY }

/// <summary>A request of the person, as the organisation that received it recorded it, and the answer.</summary>
[ContractName("PersonRequestRecord")]
public sealed class PersonRequestDto
{
    public Guid Id { get; init; }
    public Guid ReferralId { get; init; }
    public PersonRequestKind Kind { get; init; }
    public Guid OrganisationId { get; init; }
    public string AgentReference { get; init; } = "";
    public string AgentName { get; init; } = "";
    public DateTimeOffset ReceivedAt { get; init; }
    public PersonRequestOutcome Outcome { get; init; }
    /// <summary>The statutory basis's legal reference, when the request is refused for it.</summary>
    public string? LegalReference { get; init; }
}

/// <summary>
/// The person asks for erasure or objects, through the sender or the current receiver. On consent:
/// the consent is withdrawn (before acceptance the referral is withdrawn) and the person's data is
/// purged at once. On a statutory basis: recorded, and answered with the legal reason; the data is
/// purged at the end of the retention period.
/// </summary>
[ContractName("PersonRequestDraft")]
public sealed record RecordPersonRequestCommand(PersonRequestKind Kind, AgentInput Agent) : ICommand<PersonRequestDto>
{
    [System.Text.Json.Serialization.JsonIgnore] public Guid Id { get; init; }
}

public sealed class RecordPersonRequestValidator : AbstractValidator<RecordPersonRequestCommand>
{
    public RecordPersonRequestValidator()
    {
        RuleFor(c => c.Kind).IsInEnum();
        ReferralRules.Agent(RuleFor(c => c.Agent));
    }
}

public sealed class RecordPersonRequestHandler(Db db, Caller caller, TimeProvider clock, ChangeLog changeLog, ReferralWorkflow workflow,
    PersonDataPurge purge, Platform.Security.DataKeys keys) : ICommandHandler<RecordPersonRequestCommand, PersonRequestDto>
{
    public async ValueTask<PersonRequestDto> Handle(RecordPersonRequestCommand command, CancellationToken ct)
    {
        var recorded = await db.InTransactionAsync(async (c, tx, t) =>
        {
            var row = await ReferralStore.LoadAsync(db, c, tx, command.Id, t, forUpdate: true);
            var role = await ReferralStore.RoleAsync(db, c, tx, row, command.Id, caller, t);
            if (role == ReferralRole.EARLIER_RECEIVER)
                throw new ForbiddenException("Your organisation transferred this referral: the sender or the current receiver records the request.");
            var now = clock.GetUtcNow();
            var version = row!.Version;
            var original = row.Copy();
            var step = new ReferralStep(c, tx, row, role, now, t);
            var (statusBefore, before) = (row.Status, ReferralStore.Snapshot(row));
            string? legalReference = null;
            string note;
            if (row.StatutoryBasis is { } basis)
            {
                legalReference = Needs.LegalReference(Enum.Parse<StatutoryBasis>(basis));
                note = $"The person's {command.Kind.ToString().ToLowerInvariant()} request was recorded and refused: the referral rests on "
                    + $"{basis} ({legalReference}); the data is purged at the end of the retention period after the referral closes.";
            }
            else
            {
                if (!row.ConsentWithdrawn) WithdrawReferralConsentHandler.Withdraw(row, now);
                note = $"The person's {command.Kind.ToString().ToLowerInvariant()} request was recorded: consent withdrawn and the person's data erased.";
            }
            await ReferralStore.UpdateAsync(db, c, tx, original, row, version, now, t);
            // The withdrawal ended an open referral: its status event, as a cancellation or a closure sends (before the purge's).
            if (row.Status != statusBefore)
                await changeLog.RecordAsync(c, tx, [new ChangeLog.Entry("referral", row.Id, "referral.status-changed", before, ReferralStore.Snapshot(row),
                    ReferralVisibility.Audience(row.SenderId, row.ReceiverId))], t);
            var outcome = legalReference is null ? PersonRequestOutcome.ERASED : PersonRequestOutcome.REFUSED_STATUTORY;
            if (outcome == PersonRequestOutcome.ERASED && row.PersonPurgedAt is null)
                await purge.PurgeAsync(c, tx, [row.Id], PurgeTrigger.REQUEST, now, t);
            // After the purge, which empties the thread: the note names no one.
            await workflow.AppendAsync(step, MessageKind.PERSON_REQUEST, command.Agent, note);
            var request = new PersonRequestDto
            {
                Id = Guid.CreateVersion7(), ReferralId = row.Id, Kind = command.Kind, OrganisationId = caller.OrganisationId!.Value,
                AgentReference = command.Agent.Reference.Trim(), AgentName = command.Agent.DisplayName.Trim(), ReceivedAt = now, Outcome = outcome,
                LegalReference = legalReference,
            };
            await c.ExecuteAsync(db.Command(InsertSql, new
            {
                request.Id, request.ReferralId, kind = request.Kind.ToString(), request.OrganisationId, request.AgentReference, request.AgentName,
                request.ReceivedAt, outcome = outcome.ToString(), request.LegalReference,
            }, t, tx));
            await changeLog.RecordAsync(c, tx, [new ChangeLog.Entry("referral", row.Id, "referral.person-request", null,
                new { referralId = row.Id, requestId = request.Id, kind = request.Kind.ToString(), outcome = outcome.ToString(), row.Status },
                ReferralVisibility.Audience(row.SenderId, row.ReceiverId))], t);
            return request;
        }, ct);
        if (recorded.Outcome == PersonRequestOutcome.ERASED) await keys.ScrubAsync(vacuum: false, ct);
        return recorded;
    }

    private const string InsertSql = """
        INSERT INTO person_request (id, referral_id, kind, organisation_id, agent_reference, agent_name, received_at, outcome, legal_reference)
        VALUES (@id, @referralId, @kind, @organisationId, @agentReference, @agentName, @receivedAt, @outcome, @legalReference)
        """;
}

/// <summary>The person's requests on a referral, in order (for the dossier).</summary>
public static class PersonRequests
{
    public static async Task<IReadOnlyList<PersonRequestDto>> ListAsync(Db db, System.Data.Common.DbConnection c, Guid referralId, CancellationToken ct) =>
        (await c.QueryAsync<Row>(db.Command(ListSql, new { referralId }, ct))).Select(r => new PersonRequestDto
        {
            Id = r.Id, ReferralId = r.ReferralId, Kind = Enum.Parse<PersonRequestKind>(r.Kind), OrganisationId = r.OrganisationId,
            AgentReference = r.AgentReference, AgentName = r.AgentName, ReceivedAt = r.ReceivedAt, Outcome = Enum.Parse<PersonRequestOutcome>(r.Outcome),
            LegalReference = r.LegalReference,
        }).ToList();

    private sealed class Row
    {
        public Guid Id { get; init; }
        public Guid ReferralId { get; init; }
        public string Kind { get; init; } = "";
        public Guid OrganisationId { get; init; }
        public string AgentReference { get; init; } = "";
        public string AgentName { get; init; } = "";
        public DateTimeOffset ReceivedAt { get; init; }
        public string Outcome { get; init; } = "";
        public string? LegalReference { get; init; }
    }

    private const string ListSql = """
        SELECT id, referral_id, kind, organisation_id, agent_reference, agent_name, received_at, outcome, legal_reference
        FROM person_request WHERE referral_id = @referralId ORDER BY received_at, id
        """;
}
