using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Serialization;
using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.OpenApi;
using Dapper;

namespace CoordinationHub.Features.Referrals;

public enum ReferralStatus
{
    SENT, RECEIVED, NEEDS_INFO, ACCEPTED, DECLINED, IN_PROGRESS, COMPLETED, CLOSED_WITHOUT_OUTCOME, CANCELLED,
    /// <summary>Only as an earlier receiver sees it: it transferred the referral to another organisation.</summary>
    TRANSFERRED,
}

public enum Urgency { NORMAL, URGENT, IMMEDIATE }

/// <summary>What a referral may do next, for the caller; illegal transitions answer 409 with this list.</summary>
public enum ReferralAction
{
    RECEIVE, REQUEST_INFO, ANSWER_INFO, ACCEPT, DECLINE, START, COMPLETE, CLOSE_WITHOUT_OUTCOME, CANCEL, TRANSFER, REORIENT,
    WITHDRAW_CONSENT, ASSIGN_AGENT, POST_MESSAGE, RECTIFY_PERSON,
}

public enum ReferralRole { SENDER, RECEIVER, EARLIER_RECEIVER }

/// <summary>Legal bases that allow sharing without consent, each with its legal reference (see <see cref="Needs.LegalReference"/>).</summary>
public enum StatutoryBasis
{
    RSA_ORIENTATION, CHILD_PROTECTION_INFORMATION, APA_REQUEST, DOMICILIATION, LEGAL_AID_FILING,
    VULNERABLE_PERSONS_REGISTER, SHARED_SOCIAL_SECRECY,
}

public enum ConsentMethod { WRITTEN, ORAL, ELECTRONIC }
public enum ContactChannel { PHONE, EMAIL, POSTAL, IN_PERSON }
public enum DeclineReason { NOT_COMPETENT, NOT_ELIGIBLE, NO_CAPACITY, ALREADY_SUPPORTED, INCOMPLETE, OTHER }
public enum Outcome { AID_GRANTED, FILE_SUBMITTED, SUPPORT_STARTED, ORIENTED_ELSEWHERE, NOT_ELIGIBLE, OTHER }
public enum ClosureReason
{
    PERSON_DID_NOT_COME, PERSON_UNREACHABLE, PERSON_DECLINED, MOVED_AWAY, DECEASED, OTHER,
    /// <summary>Set by the platform: the person withdrew consent after acceptance.</summary>
    CONSENT_WITHDRAWN,
}
public enum CancelReason { NO_LONGER_NEEDED, SENT_BY_MISTAKE, PERSON_MOVED, CONSENT_WITHDRAWN, OTHER }
public enum TransferReason { NOT_COMPETENT, TERRITORY, DELEGATED, OTHER }
public enum RoutingMode { NAMED, RESOLVED }
public enum DeadlineSource { CONVENTION, URGENCY }

/// <summary>An agent as the calling software knows it: we do not manage people's accounts.</summary>
[ContractName("Agent")]
public sealed record AgentInput(string Reference, string DisplayName);

[ContractName("Contact")]
public sealed record ContactInput(ContactChannel Channel, string Value);

/// <summary>The person referred: no more than the receiver needs, and never a NIR.</summary>
[ContractName("Person")]
public sealed record PersonInput(
    string FamilyName, string GivenNames, DateOnly BirthDate, string CommuneInsee, string? Address, ContactInput? Contact,
    string? AllocataireNumber);

/// <summary>What the consent covers: this need, and this receiver when named (else whoever the routing resolves).</summary>
[ContractName("ConsentScope")]
public sealed record ConsentScopeInput(string Need, Guid? ReceiverId);

/// <summary>The person's consent, recorded as data.</summary>
[ContractName("Consent")]
public sealed record ConsentInput(
    string Purpose, ConsentScopeInput Scope, ConsentMethod Method, DateTimeOffset GivenAt, AgentInput CollectedBy, DateOnly? ExpiresOn);

/// <summary>Either a statutory basis from the fixed list, or the person's consent.</summary>
[ContractName("LegalBasis")]
public sealed record LegalBasisInput(StatutoryBasis? Statutory, ConsentInput? Consent);

[ContractName("ReferralOrganisation")]
public sealed record ReferralOrganisation(Guid Id, string Name, string Kind);

[ContractName("ReferralLegalBasis")]
public sealed record ReferralLegalBasis(StatutoryBasis? Statutory, string? LegalReference, ConsentInput? Consent, DateTimeOffset? ConsentWithdrawnAt);

[ContractName("ReferralRouting")]
public sealed record ReferralRouting(RoutingMode Mode, IReadOnlyList<ChainStep> Chain);

/// <summary>The response deadline; while the receiver waits for the sender's answer the clock is stopped (<c>pausedSince</c>).</summary>
[ContractName("ReferralDeadline")]
public sealed record ReferralDeadline(DateTimeOffset DueAt, DeadlineSource Source, Guid? ConventionId, DateTimeOffset? PausedSince);

/// <summary>
/// A referral as the caller may see it (<see cref="ReferralVisibility"/>). An earlier receiver sees it as TRANSFERRED:
/// to whom (<c>receiver</c>) and when (<c>transferredAt</c>), nothing later and never the person; a receiver after the
/// person withdrew consent sees that and when (<c>legalBasis.consentWithdrawnAt</c>), not the person.
/// </summary>
[ContractName("Referral")]
public sealed class ReferralDto
{
    public Guid Id { get; init; }
    public ReferralStatus Status { get; init; }
    /// <summary>Computed: awaiting a response (SENT or RECEIVED) after its deadline.</summary>
    public bool Overdue { get; init; }
    public ReferralRole YourRole { get; init; }
    public IReadOnlyList<ReferralAction> AllowedActions { get; init; } = [];
    public ReferralOrganisation Sender { get; init; } = null!;
    public ReferralOrganisation Receiver { get; init; } = null!;
    /// <summary>The need as sent: a competence code or a need category.</summary>
    public string Need { get; init; } = "";
    /// <summary>The competence that routes the need.</summary>
    public string Competence { get; init; } = "";
    public Urgency Urgency { get; init; }
    public string CommuneInsee { get; init; } = "";
    /// <summary>
    /// The person, to the sender and the current receiver; null once purged (<c>personPurgedAt</c>), and to the receiver once
    /// the person withdrew consent.
    /// </summary>
    public PersonInput? Person { get; init; }
    public string? Context { get; init; }
    /// <summary>When the person's data was destroyed (retention period over, or erasure): the referral remains as statistics.</summary>
    public DateTimeOffset? PersonPurgedAt { get; init; }
    public AgentInput SenderAgent { get; init; } = null!;
    public AgentInput? AssignedAgent { get; init; }
    public ReferralLegalBasis LegalBasis { get; init; } = null!;
    public ReferralRouting Routing { get; init; } = null!;
    public ReferralDeadline Deadline { get; init; } = null!;
    public DeclineReason? DeclineReason { get; init; }
    public Guid? SuggestedReceiverId { get; init; }
    public Outcome? Outcome { get; init; }
    public ClosureReason? ClosureReason { get; init; }
    public CancelReason? CancelReason { get; init; }
    public Guid? DuplicateOf { get; init; }
    public Guid? ReorientedFromId { get; init; }
    public Guid? ReorientedToId { get; init; }
    public DateTimeOffset SentAt { get; init; }
    public DateTimeOffset? ReceivedAt { get; init; }
    public DateTimeOffset? RespondedAt { get; init; }
    public DateTimeOffset? ClosedAt { get; init; }
    /// <summary>To an earlier receiver only: when it transferred the referral (it sees nothing after).</summary>
    public DateTimeOffset? TransferredAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    [JsonIgnore] public int Version { get; init; }
}

/// <summary>A referral row as stored (enums as text); handlers change it and <see cref="ReferralStore.UpdateAsync"/> writes it.</summary>
public sealed class ReferralRow
{
    public Guid Id { get; set; }
    public Guid SenderId { get; set; }
    public Guid ReceiverId { get; set; }
    public string Need { get; set; } = "";
    public string CompetenceCode { get; set; } = "";
    public string Urgency { get; set; } = "";
    public string Status { get; set; } = "";
    public Guid CommuneId { get; set; }
    public string PersonKey { get; set; } = "";
    public string SenderAgentReference { get; set; } = "";
    public string SenderAgentName { get; set; } = "";
    public string? AssignedAgentReference { get; set; }
    public string? AssignedAgentName { get; set; }
    public string? StatutoryBasis { get; set; }
    public string? ConsentPurpose { get; set; }
    public string? ConsentScopeNeed { get; set; }
    public Guid? ConsentScopeReceiverId { get; set; }
    public string? ConsentMethod { get; set; }
    public DateTimeOffset? ConsentGivenAt { get; set; }
    public string? ConsentCollectedByReference { get; set; }
    public string? ConsentCollectedByName { get; set; }
    public DateOnly? ConsentExpiresOn { get; set; }
    public DateTimeOffset? ConsentWithdrawnAt { get; set; }
    public string RoutingMode { get; set; } = "";
    public string RoutingChain { get; set; } = "[]";
    public DateTimeOffset DeadlineAt { get; set; }
    public string DeadlineSource { get; set; } = "";
    public Guid? DeadlineConventionId { get; set; }
    public DateTimeOffset? InfoRequestedAt { get; set; }
    public string? DeclineReason { get; set; }
    public Guid? SuggestedReceiverId { get; set; }
    public string? Outcome { get; set; }
    public string? CancelReason { get; set; }
    public Guid? ForcedDuplicateOf { get; set; }
    public Guid? ReorientedFromId { get; set; }
    public Guid? ReorientedToId { get; set; }
    public DateTimeOffset SentAt { get; set; }
    public DateTimeOffset? ReceivedAt { get; set; }
    public DateTimeOffset? RespondedAt { get; set; }
    public DateTimeOffset? ClosedAt { get; set; }
    public int? RetentionDays { get; set; }
    public DateTimeOffset? PersonPurgedAt { get; set; }
    public int Version { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    [JsonIgnore] public ReferralStatus State => Enum.Parse<ReferralStatus>(Status);

    /// <summary>The row as it is now, before a handler changes it (what the indicators' rollups subtract).</summary>
    public ReferralRow Copy() => (ReferralRow)MemberwiseClone();
    public bool HasConsent => ConsentMethod is not null;
    public bool ConsentWithdrawn => ConsentWithdrawnAt is not null;

    /// <summary>Awaiting the receiver's response past the deadline; the clock stops in NEEDS_INFO.</summary>
    public bool OverdueAt(DateTimeOffset now) => State is ReferralStatus.SENT or ReferralStatus.RECEIVED && DeadlineAt < now;
}

/// <summary>Who may do what, from which status. Plain C#: the life of a referral in one table.</summary>
public static class ReferralLife
{
    private static readonly ReferralStatus[] Open =
        [ReferralStatus.SENT, ReferralStatus.RECEIVED, ReferralStatus.NEEDS_INFO, ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS];
    private static readonly ReferralStatus[] Awaiting = [ReferralStatus.SENT, ReferralStatus.RECEIVED];

    public static readonly IReadOnlyList<string> OpenStatuses = Open.Select(s => s.ToString()).ToList();

    /// <summary>The actions the caller in <paramref name="role"/> may take on <paramref name="r"/> now.</summary>
    public static IReadOnlyList<ReferralAction> Allowed(ReferralRow r, ReferralRole role)
    {
        var s = r.State;
        var actions = new List<ReferralAction>();
        void If(bool condition, ReferralAction action) { if (condition) actions.Add(action); }
        if (role == ReferralRole.RECEIVER)
        {
            If(s == ReferralStatus.SENT, ReferralAction.RECEIVE);
            If(Awaiting.Contains(s), ReferralAction.REQUEST_INFO);
            If(Awaiting.Contains(s), ReferralAction.ACCEPT);
            If(Awaiting.Contains(s), ReferralAction.DECLINE);
            If(s == ReferralStatus.ACCEPTED, ReferralAction.START);
            If(s == ReferralStatus.IN_PROGRESS, ReferralAction.COMPLETE);
            If(s is ReferralStatus.ACCEPTED or ReferralStatus.IN_PROGRESS, ReferralAction.CLOSE_WITHOUT_OUTCOME);
            If(Awaiting.Contains(s) && !r.ConsentWithdrawn, ReferralAction.TRANSFER);
            If(s is ReferralStatus.RECEIVED or ReferralStatus.NEEDS_INFO or ReferralStatus.ACCEPTED or ReferralStatus.IN_PROGRESS,
                ReferralAction.ASSIGN_AGENT);
            actions.Add(ReferralAction.POST_MESSAGE);
        }
        else if (role == ReferralRole.SENDER)
        {
            If(s == ReferralStatus.NEEDS_INFO, ReferralAction.ANSWER_INFO);
            If(s is ReferralStatus.SENT or ReferralStatus.RECEIVED or ReferralStatus.NEEDS_INFO, ReferralAction.CANCEL);
            If(s == ReferralStatus.DECLINED && r.ReorientedToId is null && !r.ConsentWithdrawn, ReferralAction.REORIENT);
            If(r.HasConsent && !r.ConsentWithdrawn, ReferralAction.WITHDRAW_CONSENT);
            If(r.PersonPurgedAt is null, ReferralAction.RECTIFY_PERSON);
            actions.Add(ReferralAction.POST_MESSAGE);
        }
        return actions;
    }

    public static bool IsOpen(ReferralStatus s) => Open.Contains(s);
}

/// <summary>Loads and writes referral rows, and builds the answer as <see cref="ReferralVisibility"/> lets each party see it.</summary>
public static class ReferralStore
{
    public static Task<ReferralRow?> LoadAsync(Db db, DbConnection c, DbTransaction? tx, Guid id, CancellationToken ct, bool forUpdate = false) =>
        c.QuerySingleOrDefaultAsync<ReferralRow>(db.Command(forUpdate ? ForUpdateSql : Sql, new { id }, ct, tx));

    /// <summary>Inserts the row and counts it in the indicators' rollups, in the same transaction.</summary>
    public static async Task InsertAsync(Db db, DbConnection c, DbTransaction tx, ReferralRow row, CancellationToken ct)
    {
        await c.ExecuteAsync(db.Command(InsertSql, row, ct, tx));
        await Indicators.IndicatorRollup.ApplyAsync(db, c, tx, null, row, row.UpdatedAt, ct);
    }

    /// <summary>
    /// Writes the row's mutable columns, if nobody changed it since <paramref name="expected"/>, and moves its counts in
    /// the indicators' rollups from <paramref name="before"/> (the row as loaded) to the row as it is now.
    /// </summary>
    public static async Task UpdateAsync(Db db, DbConnection c, DbTransaction tx, ReferralRow before, ReferralRow row, int expected,
        DateTimeOffset now, CancellationToken ct)
    {
        row.UpdatedAt = now;
        row.Version = expected + 1;
        var changed = await c.ExecuteAsync(db.Command(UpdateSql, new
        {
            row.Id, row.ReceiverId, row.Status, row.PersonKey, row.PersonPurgedAt, row.RetentionDays, row.AssignedAgentReference, row.AssignedAgentName, row.ConsentWithdrawnAt,
            row.DeadlineAt, row.InfoRequestedAt, row.DeclineReason, row.SuggestedReceiverId, row.Outcome, row.CancelReason,
            row.ReorientedToId, row.ReceivedAt, row.RespondedAt, row.ClosedAt, row.Version, row.UpdatedAt, expected,
        }, ct, tx));
        if (changed == 0) throw new PreconditionFailedException("The referral was changed by someone else meanwhile; read it again.");
        await Indicators.IndicatorRollup.ApplyAsync(db, c, tx, before, row, now, ct);
    }

    /// <summary>The caller's role (<see cref="ReferralVisibility.ViewAsync"/>); anyone who took no part gets 404.</summary>
    public static async Task<ReferralRole> RoleAsync(Db db, DbConnection c, DbTransaction? tx, ReferralRow? row, Guid id, Caller caller, CancellationToken ct) =>
        (await ReferralVisibility.ViewAsync(db, c, tx, row, id, caller, ct)).Role;

    public static async Task<ReferralDto> ToDtoAsync(Db db, DbConnection c, DbTransaction? tx, ReferralRow r, ReferralView view,
        ReferralPersonData people, DateTimeOffset now, CancellationToken ct)
    {
        var receiver = view.TransferredToId ?? r.ReceiverId;
        var names = (await c.QueryAsync<OrganisationRow>(db.Command(OrganisationsSql,
            new { ids = new[] { r.SenderId, receiver, r.CommuneId }.Distinct().ToArray() }, ct, tx)))
            .ToDictionary(o => o.Id, o => (new ReferralOrganisation(o.Id, o.Name, o.Kind), o.Code));
        var (person, purpose) = await people.ReadWithConsentAsync(c, tx, r, withPerson: view.SeesPerson(r), ct);
        return ToDto(r, view, names, person, purpose, now);
    }

    /// <summary>
    /// The referral as <paramref name="view"/> may see it, from what is already in memory. <paramref name="consentPurpose"/>: the
    /// consent's purpose opened (stored sealed with the referral's data key), null once erased with the person.
    /// </summary>
    public static ReferralDto ToDto(ReferralRow r, ReferralView view, IReadOnlyDictionary<Guid, (ReferralOrganisation Org, string? Code)> names,
        PersonRecord? person, string? consentPurpose, DateTimeOffset now)
    {
        var role = view.Role;
        if (!view.SeesPerson(r)) person = null;
        ReferralOrganisation Org(Guid id) => names.TryGetValue(id, out var o) ? o.Org : new(id, "", "");
        var consent = r.HasConsent
            ? new ConsentInput(consentPurpose ?? ErasedPurpose, new ConsentScopeInput(r.ConsentScopeNeed!, r.ConsentScopeReceiverId), Enum.Parse<ConsentMethod>(r.ConsentMethod!),
                r.ConsentGivenAt!.Value, new AgentInput(r.ConsentCollectedByReference!, r.ConsentCollectedByName!), r.ConsentExpiresOn)
            : null;
        var statutory = r.StatutoryBasis is null ? (StatutoryBasis?)null : Enum.Parse<StatutoryBasis>(r.StatutoryBasis);
        return ReferralVisibility.Cut(new ReferralDto
        {
            Id = r.Id,
            Status = r.State,
            Overdue = r.OverdueAt(now),
            YourRole = role, AllowedActions = ReferralLife.Allowed(r, role),
            Sender = Org(r.SenderId), Receiver = Org(view.TransferredToId ?? r.ReceiverId), Need = r.Need, Competence = r.CompetenceCode,
            Urgency = Enum.Parse<Urgency>(r.Urgency), CommuneInsee = names.GetValueOrDefault(r.CommuneId).Code ?? "",
            Person = person?.Person, Context = person?.Context,
            PersonPurgedAt = r.PersonPurgedAt,
            SenderAgent = new AgentInput(r.SenderAgentReference, r.SenderAgentName),
            AssignedAgent = r.AssignedAgentReference is null ? null : new AgentInput(r.AssignedAgentReference, r.AssignedAgentName!),
            LegalBasis = new ReferralLegalBasis(statutory, statutory is { } b ? Needs.LegalReference(b) : null, consent, r.ConsentWithdrawnAt),
            Routing = new ReferralRouting(Enum.Parse<RoutingMode>(r.RoutingMode), JsonSerializer.Deserialize<List<ChainStep>>(r.RoutingChain, Json)!),
            Deadline = new ReferralDeadline(r.DeadlineAt, Enum.Parse<DeadlineSource>(r.DeadlineSource), r.DeadlineConventionId, r.InfoRequestedAt),
            DeclineReason = Parse<DeclineReason>(r.DeclineReason), SuggestedReceiverId = r.SuggestedReceiverId,
            Outcome = r.State == ReferralStatus.COMPLETED ? Parse<Outcome>(r.Outcome) : null,
            ClosureReason = r.State == ReferralStatus.CLOSED_WITHOUT_OUTCOME ? Parse<ClosureReason>(r.Outcome) : null,
            CancelReason = Parse<CancelReason>(r.CancelReason), DuplicateOf = r.ForcedDuplicateOf,
            ReorientedFromId = r.ReorientedFromId, ReorientedToId = r.ReorientedToId,
            SentAt = r.SentAt, ReceivedAt = r.ReceivedAt, RespondedAt = r.RespondedAt, ClosedAt = r.ClosedAt, UpdatedAt = r.UpdatedAt,
            Version = r.Version,
        }, view);
    }

    private static T? Parse<T>(string? value) where T : struct, Enum => value is null ? null : Enum.Parse<T>(value);

    /// <summary>What a consent's purpose reads once the person's data was erased or purged (it was shredded with it).</summary>
    public const string ErasedPurpose = "(erased with the person's data)";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>What audit rows and outbox events keep of a referral: ids and statuses, never the person.</summary>
    public static object Snapshot(ReferralRow r) => new
    {
        r.Id, r.Status, r.SenderId, r.ReceiverId, competence = r.CompetenceCode, r.Urgency, r.DeadlineAt, r.InfoRequestedAt,
        r.DeclineReason, r.SuggestedReceiverId, r.Outcome, r.CancelReason, consentWithdrawn = r.ConsentWithdrawn,
        r.ReorientedFromId, r.ReorientedToId, r.Version,
    };

    private sealed class OrganisationRow
    {
        public Guid Id { get; init; }
        public string Name { get; init; } = "";
        public string Kind { get; init; } = "";
        public string? Code { get; init; }
    }

    internal const string Columns = """
        id, sender_id, receiver_id, need, competence_code, urgency, status, commune_id, person_key, sender_agent_reference,
        sender_agent_name, assigned_agent_reference, assigned_agent_name, statutory_basis, consent_purpose, consent_scope_need,
        consent_scope_receiver_id, consent_method, consent_given_at, consent_collected_by_reference, consent_collected_by_name,
        consent_expires_on, consent_withdrawn_at, routing_mode, routing_chain, deadline_at, deadline_source, deadline_convention_id,
        info_requested_at, decline_reason, suggested_receiver_id, outcome, cancel_reason, forced_duplicate_of, reoriented_from_id,
        reoriented_to_id, sent_at, received_at, responded_at, closed_at, retention_days, person_purged_at, version, updated_at
        """;
    private const string Sql = $"SELECT {Columns} FROM referral WHERE id = @id";
    /// <summary>The referral row alone, without its counts (<see cref="InsertAsync"/> adds them).</summary>
    public const string InsertSql = $"""
        INSERT INTO referral ({Columns})
        VALUES (@id, @senderId, @receiverId, @need, @competenceCode, @urgency, @status, @communeId, @personKey,
                @senderAgentReference, @senderAgentName, @assignedAgentReference, @assignedAgentName,
                @statutoryBasis, @consentPurpose, @consentScopeNeed, @consentScopeReceiverId, @consentMethod,
                @consentGivenAt, @consentCollectedByReference, @consentCollectedByName, @consentExpiresOn,
                @consentWithdrawnAt, @routingMode, @routingChain, @deadlineAt, @deadlineSource,
                @deadlineConventionId, @infoRequestedAt, @declineReason, @suggestedReceiverId, @outcome,
                @cancelReason, @forcedDuplicateOf, @reorientedFromId, @reorientedToId, @sentAt, @receivedAt,
                @respondedAt, @closedAt, @retentionDays, @personPurgedAt, @version, @updatedAt)
        """;
    // Locks the referral: transitions, messages and transfers of one referral serialise on it.
    private const string ForUpdateSql = $"SELECT {Columns} FROM referral {{lock}} WHERE id = @id {{for_update}}";
    private const string UpdateSql = """
        UPDATE referral SET receiver_id = @receiverId, status = @status, person_key = @personKey, person_purged_at = @personPurgedAt,
               retention_days = @retentionDays,
               assigned_agent_reference = @assignedAgentReference,
               assigned_agent_name = @assignedAgentName, consent_withdrawn_at = @consentWithdrawnAt, deadline_at = @deadlineAt,
               info_requested_at = @infoRequestedAt, decline_reason = @declineReason, suggested_receiver_id = @suggestedReceiverId,
               outcome = @outcome, cancel_reason = @cancelReason, reoriented_to_id = @reorientedToId, received_at = @receivedAt,
               responded_at = @respondedAt, closed_at = @closedAt, version = @version, updated_at = @updatedAt
        WHERE id = @id AND version = @expected
        """;
    private const string OrganisationsSql = "SELECT id, name, kind, code FROM organisation WHERE id {in:ids}";
}
