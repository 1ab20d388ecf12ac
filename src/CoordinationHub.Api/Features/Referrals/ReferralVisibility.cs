using System.Data.Common;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;

namespace CoordinationHub.Features.Referrals;

/// <summary>A span during which an organisation held a referral as its receiver.</summary>
public sealed class ReceiverSpan
{
    public Guid ReferralId { get; init; }
    public Guid OrganisationId { get; init; }
    public DateTimeOffset SinceAt { get; init; }
    public DateTimeOffset? LeftAt { get; init; }
    public Guid? TransferredToId { get; init; }
}

/// <summary>
/// What one organisation may see of a referral, from <see cref="ReferralVisibility"/>: its role, and for an
/// earlier receiver when it transferred the referral (<see cref="LeftAt"/>), to whom, and the last entry of the
/// thread it saw.
/// </summary>
public sealed record ReferralView(ReferralRole Role, DateTimeOffset? LeftAt = null, Guid? TransferredToId = null, int? LeftAtSeq = null)
{
    public static readonly ReferralView Sender = new(ReferralRole.SENDER);
    public static readonly ReferralView Receiver = new(ReferralRole.RECEIVER);

    public bool IsEarlier => Role == ReferralRole.EARLIER_RECEIVER;

    /// <summary>
    /// The person's data (names, context, versions, message bodies): the sender, who collected it; the current
    /// receiver, until the person withdraws consent (a statutory basis cannot be withdrawn). Never an earlier receiver.
    /// </summary>
    public bool SeesPerson(ReferralRow r) => SeesPerson(r.ConsentWithdrawn);

    public bool SeesPerson(bool consentWithdrawn) => Role == ReferralRole.SENDER || Role == ReferralRole.RECEIVER && !consentWithdrawn;

    /// <summary>
    /// The bodies of the thread's entries it sees (they often hold the person): the parties who wrote and read them, until
    /// the person withdraws consent; the sender, who collected it, always.
    /// </summary>
    public bool SeesMessageBodies(ReferralRow r) => Role == ReferralRole.SENDER || !r.ConsentWithdrawn;

    /// <summary>Something that happened at <paramref name="at"/> (a read of the person): up to the transfer, for an earlier receiver.</summary>
    public bool Sees(DateTimeOffset at) => LeftAt is not { } left || at <= left;

    /// <summary>An entry of the thread: up to its transfer message, for an earlier receiver.</summary>
    public bool SeesMessage(int seq) => !IsEarlier || LeftAtSeq is { } last && seq <= last;
}

/// <summary>
/// Visibility by participation, the one rule every read, list, count, access log, dossier and event asks: the sender
/// sees its referral whole; the current receiver sees it whole while it holds it (the person only while consent
/// holds); an organisation that transferred it sees what it took part in, up to its transfer — that it transferred
/// it, to whom and when, and nothing later: no later status, outcome, agent, date, message or read of the person.
/// Anyone else gets the same 404 as for an id that does not exist, and learns nothing.
/// </summary>
public static class ReferralVisibility
{
    /// <summary>The caller's view of the referral, from the row and its receivers' spans; 404 when it took no part.</summary>
    public static async Task<ReferralView> ViewAsync(Db db, DbConnection c, DbTransaction? tx, ReferralRow? row, Guid id, Caller caller,
        CancellationToken ct)
    {
        if (row is not null && caller.OrganisationId is { } org)
        {
            if (row.SenderId == org) return ReferralView.Sender;
            if (row.ReceiverId == org) return ReferralView.Receiver;
            var spans = (await c.QueryAsync<ReceiverSpan>(db.Command(SpansSql, new { ids = new[] { id } }, ct, tx))).ToList();
            if (Of(row.SenderId, row.ReceiverId, spans, org) is { } view)
                return view with
                {
                    LeftAtSeq = await c.QuerySingleOrDefaultAsync<int?>(db.Command(LeftAtSeqSql, new { id, org }, ct, tx)),
                };
        }
        throw new NotFoundException("referral", id);
    }

    /// <summary>The view of <paramref name="org"/>, from the referral's parties and its receivers' spans; null when it took no part.</summary>
    public static ReferralView? Of(Guid senderId, Guid receiverId, IEnumerable<ReceiverSpan> spans, Guid org)
    {
        if (org == senderId) return ReferralView.Sender;
        if (org == receiverId) return ReferralView.Receiver;
        var all = spans.ToList();
        var last = all.Where(s => s.OrganisationId == org && s.LeftAt is not null).MaxBy(s => s.LeftAt);
        if (last is null) return null;
        // Rows written before transferred_to_id: the receiver whose span began when this one ended.
        var to = last.TransferredToId
            ?? all.Where(s => s.OrganisationId != org && s.SinceAt >= last.LeftAt).MinBy(s => s.SinceAt)?.OrganisationId
            ?? receiverId;
        return new ReferralView(ReferralRole.EARLIER_RECEIVER, last.LeftAt, to);
    }

    /// <summary>A line of the received box as an earlier receiver may see it: that it transferred it, to whom and when.</summary>
    public static ReferralSummary Cut(ReferralSummary full, ReferralView view, ReferralOrganisation transferredTo) => !view.IsEarlier ? full : new()
    {
        Id = full.Id, Status = ReferralStatus.TRANSFERRED, Overdue = false, Sender = full.Sender, Receiver = transferredTo, Need = full.Need,
        Competence = full.Competence, Urgency = full.Urgency, CommuneInsee = full.CommuneInsee, DeadlineAt = view.LeftAt!.Value,
        SentAt = full.SentAt, UpdatedAt = view.LeftAt!.Value,
    };

    /// <summary>The thread as <paramref name="view"/> may see it: up to its transfer, bodies while it may read them.</summary>
    public static IReadOnlyList<ThreadMessage> Thread(IEnumerable<ThreadMessage> thread, ReferralRow row, ReferralView view) =>
        [.. thread.Where(m => view.SeesMessage(m.Seq)).Select(m => view.SeesMessageBodies(row) ? m : m with { Body = null })];

    /// <summary>The spans of these referrals (a page of the transferred tab).</summary>
    public static async Task<ILookup<Guid, ReceiverSpan>> SpansAsync(Db db, DbConnection c, IReadOnlyList<Guid> ids, CancellationToken ct) =>
        ids.Count == 0 ? Array.Empty<ReceiverSpan>().ToLookup(s => s.ReferralId)
            : (await c.QueryAsync<ReceiverSpan>(db.Command(SpansSql, new { ids }, ct))).ToLookup(s => s.ReferralId);

    /// <summary>
    /// The referral as an earlier receiver may see it, cut from its current state (built with the receiver it was
    /// transferred to, and without the person).
    /// </summary>
    public static ReferralDto Cut(ReferralDto full, ReferralView view)
    {
        if (!view.IsEarlier) return full;
        var left = view.LeftAt!.Value;
        // What the transfer left: the referral as the transferring receiver handed it over. The deadline, routing,
        // agent, responses, outcome, later dates and the ETag's version belong to those who held it after.
        return new ReferralDto
        {
            Id = full.Id, Status = ReferralStatus.TRANSFERRED, Overdue = false, YourRole = ReferralRole.EARLIER_RECEIVER, AllowedActions = [],
            Sender = full.Sender, Receiver = full.Receiver, Need = full.Need, Competence = full.Competence, Urgency = full.Urgency,
            CommuneInsee = full.CommuneInsee, SenderAgent = full.SenderAgent,
            LegalBasis = full.LegalBasis with { ConsentWithdrawnAt = full.LegalBasis.ConsentWithdrawnAt <= left ? full.LegalBasis.ConsentWithdrawnAt : null },
            Routing = new ReferralRouting(RoutingMode.NAMED, []),
            Deadline = new ReferralDeadline(left, full.Deadline.Source, null, null),
            SentAt = full.SentAt, TransferredAt = left, UpdatedAt = left, Version = 0,
        };
    }

    /// <summary>
    /// Who an event of a referral is addressed to, decided when it is written: the sender and the receivers before
    /// and after the change (a transfer reaches the receiver that made it and the one it brings in; later events, only
    /// the new one).
    /// </summary>
    public static IReadOnlyList<Guid> Audience(Guid senderId, params Guid[] receivers) => [.. new[] { senderId }.Concat(receivers).Distinct()];

    /// <summary>The received box's TRANSFERRED tab: what the caller transferred and does not hold again.</summary>
    internal const string TransferredBoxFilter = """
        p.id IN (SELECT rr.referral_id FROM referral_receiver rr WHERE rr.organisation_id = @org AND rr.left_at IS NOT NULL)
            AND p.receiver_id <> @org
        """;

    /// <summary>How many the caller transferred and does not hold again (the received box's TRANSFERRED count).</summary>
    internal const string TransferredCountSql = """
        SELECT COUNT(DISTINCT rr.referral_id) FROM referral_receiver rr JOIN referral r ON r.id = rr.referral_id
        WHERE rr.organisation_id = @org AND rr.left_at IS NOT NULL AND r.receiver_id <> @org
        """;

    private const string SpansSql = """
        SELECT referral_id, organisation_id, since_at, left_at, transferred_to_id FROM referral_receiver WHERE referral_id {in:ids}
        """;
    private const string LeftAtSeqSql = """
        SELECT MAX(seq) FROM referral_message WHERE referral_id = @id AND author_organisation_id = @org AND kind = 'TRANSFER'
        """;
}
