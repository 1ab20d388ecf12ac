using System.Data.Common;
using CoordinationHub.Features.PersonalData;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;

namespace CoordinationHub.Features.Referrals;

public enum MessageKind
{
    MESSAGE, QUESTION, ANSWER, ACCEPTANCE, DECLINE, START, OUTCOME, CLOSURE, CANCELLATION, TRANSFER, REORIENTATION, CONSENT_WITHDRAWAL,
    RECTIFICATION, PERSON_REQUEST,
}

/// <summary>One entry of a referral's thread: a message, or the text that went with a transition.</summary>
[Platform.OpenApi.ContractName("ReferralMessage")]
public sealed record ThreadMessage(
    Guid Id, int Seq, MessageKind Kind, ReferralOrganisation AuthorOrganisation, AgentInput AuthorAgent, string? Body, DateTimeOffset CreatedAt);

/// <summary>The state a transition works on, inside its transaction.</summary>
public sealed record ReferralStep(DbConnection C, DbTransaction Tx, ReferralRow Row, ReferralRole Role, DateTimeOffset Now, CancellationToken Ct)
{
    /// <summary>
    /// The events the action emits besides its own, in order (an acceptance that assigns an agent, a withdrawal of consent
    /// that ends the referral): every change is told by its documented event, whatever the path that made it. The action's
    /// audit record stays one, named by its own event.
    /// </summary>
    public List<string> AlsoEmits { get; } = [];
}

/// <summary>
/// Runs every action on an existing referral the same way: lock it, check who acts (404 to a
/// stranger, 403 to the wrong party), the ETag (412), that the action is allowed now (409 with the
/// allowed ones); apply; write the row, the audit record and the outbox event in one transaction.
/// </summary>
public sealed class ReferralWorkflow(Db db, Caller caller, TimeProvider clock, ChangeLog changeLog, ReferralPersonData people, PersonAccess access)
{
    public async Task<ReferralDto> ActAsync(Guid id, int? expectedVersion, ReferralAction action, string eventType,
        Func<ReferralStep, Task> apply, CancellationToken ct) =>
        (await RunAsync(id, expectedVersion, action, eventType, apply, answer: true, ct))!;

    /// <summary>
    /// The same, for an action answered by another read afterwards (a transfer, a re-orientation): no answer is built
    /// here, so no read of the person is logged that the caller is never served.
    /// </summary>
    public Task ApplyAsync(Guid id, int? expectedVersion, ReferralAction action, string eventType,
        Func<ReferralStep, Task> apply, CancellationToken ct) =>
        RunAsync(id, expectedVersion, action, eventType, apply, answer: false, ct);

    private async Task<ReferralDto?> RunAsync(Guid id, int? expectedVersion, ReferralAction action, string eventType,
        Func<ReferralStep, Task> apply, bool answer, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            var row = await ReferralStore.LoadAsync(db, c, tx, id, t, forUpdate: true);
            var view = await ReferralVisibility.ViewAsync(db, c, tx, row, id, caller, t);
            var role = view.Role;
            var now = clock.GetUtcNow();
            Check(row!, role, action, expectedVersion);
            var before = ReferralStore.Snapshot(row!);
            var original = row!.Copy();
            var version = row.Version;
            var receiverBefore = row.ReceiverId;
            var step = new ReferralStep(c, tx, row, role, now, t);
            await apply(step);
            await ReferralStore.UpdateAsync(db, c, tx, original, row, version, now, t);
            // Addressed now, in this transaction: a transfer reaches the receiver that made it, and nothing later does.
            var after = ReferralStore.Snapshot(row);
            var audience = ReferralVisibility.Audience(row.SenderId, receiverBefore, row.ReceiverId);
            // One audit record for the action, named by its own event; the further events are for the subscribers.
            await changeLog.RecordAsync(c, tx, [.. new[] { eventType }.Concat(step.AlsoEmits).Distinct()
                .Select((type, i) => new ChangeLog.Entry("referral", id, type, before, after, audience, Audited: i == 0))], t);
            if (!answer) return null;
            var dto = await ReferralStore.ToDtoAsync(db, c, tx, row, view, people, now, t);
            if (dto.Person is not null) await access.RecordAsync(c, tx, [id], t);
            return dto;
        }, ct);

    /// <summary>Who acts, on which version, and whether the life of the referral allows it now.</summary>
    public static void Check(ReferralRow row, ReferralRole role, ReferralAction action, int? expectedVersion)
    {
        var owner = action is ReferralAction.ANSWER_INFO or ReferralAction.CANCEL or ReferralAction.REORIENT or ReferralAction.WITHDRAW_CONSENT
                or ReferralAction.RECTIFY_PERSON
            ? ReferralRole.SENDER
            : action == ReferralAction.POST_MESSAGE ? role : ReferralRole.RECEIVER;
        if (role != owner || role == ReferralRole.EARLIER_RECEIVER)
            throw new ForbiddenException(role == ReferralRole.EARLIER_RECEIVER
                ? "Your organisation transferred this referral; it no longer acts on it."
                : $"Only the {owner.ToString().ToLowerInvariant()} may {Verb(action)} this referral.");
        if (expectedVersion is { } expected && expected != row.Version)
            throw new PreconditionFailedException($"The referral is at version {row.Version}, not {expected}; read it again.");
        var allowed = ReferralLife.Allowed(row, role);
        if (!allowed.Contains(action))
            throw new ConflictException("referrals.illegal-transition",
                $"A referral that is {row.Status}{(row.ConsentWithdrawn ? " (consent withdrawn)" : "")} cannot {Verb(action)}; "
                + $"allowed now: {(allowed.Count == 0 ? "none" : string.Join(", ", allowed))}.")
                { Extensions = { ["referralStatus"] = row.Status, ["allowedActions"] = allowed.Select(a => a.ToString()).ToArray() } };
    }

    private static string Verb(ReferralAction a) => a.ToString().ToLowerInvariant().Replace('_', ' ');

    /// <summary>Appends to the thread (the referral row is locked, so the next number is ours).</summary>
    /// <summary>
    /// The agent acting: the one an issuer's token proves when the request carries one (the declared agent must name it:
    /// its subject or e-mail, else 422 <c>auth.agent-mismatch</c>), else the agent the calling software declares.
    /// </summary>
    public AgentInput Acting(AgentInput declared) => caller.Agent switch
    {
        null => declared,
        { } agent when agent.Matches(declared.Reference) => new AgentInput(agent.Reference, agent.DisplayName),
        { } agent => throw new RuleException("auth.agent-mismatch",
            $"The request names the agent '{declared.Reference.Trim()}', but its token authenticates another agent "
            + $"(issuer '{agent.Issuer}'): name the authenticated agent, by its e-mail or subject."),
    };

    public async Task<ThreadMessage> AppendAsync(ReferralStep s, MessageKind kind, AgentInput agent, string? body, Guid? referralId = null)
    {
        agent = Acting(agent);
        var target = referralId ?? s.Row.Id;
        var seq = await s.C.ExecuteScalarAsync<int>(db.Command(NextSeqSql, new { id = target }, s.Ct, s.Tx));
        var org = await s.C.QuerySingleAsync<OrgRow>(db.Command(OrgSql, new { id = caller.OrganisationId }, s.Ct, s.Tx));
        var message = new ThreadMessage(Guid.CreateVersion7(), seq, kind, new ReferralOrganisation(org.Id, org.Name, org.Kind),
            new AgentInput(agent.Reference.Trim(), agent.DisplayName.Trim()), body?.Trim(), s.Now);
        await people.WriteMessageAsync(s.C, s.Tx, message, target, s.Ct);
        return message;
    }

    private sealed class OrgRow
    {
        public Guid Id { get; init; }
        public string Name { get; init; } = "";
        public string Kind { get; init; } = "";
    }

    private const string NextSeqSql = "SELECT COALESCE(MAX(seq), 0) + 1 FROM referral_message WHERE referral_id = @id";
    private const string OrgSql = "SELECT id, name, kind FROM organisation WHERE id = @id";
}
