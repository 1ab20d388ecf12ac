using System.Data.Common;
using CoordinationHub.Features.PersonalData;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.Http;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

public enum ReferralBox { SENT, RECEIVED }

/// <summary>Who a line of a box is about: enough to recognise the person, the rest is on the referral.</summary>
[ContractName("PersonSummary")]
public sealed record PersonSummary(string FamilyName, string GivenNames, DateOnly BirthDate);

/// <summary>A line of a box: the person's name (null once purged), statuses and dates.</summary>
[ContractName("ReferralSummary")]
public sealed class ReferralSummary
{
    public Guid Id { get; init; }
    public ReferralStatus Status { get; init; }
    public bool Overdue { get; init; }
    public ReferralOrganisation Sender { get; init; } = null!;
    public ReferralOrganisation Receiver { get; init; } = null!;
    public string Need { get; init; } = "";
    public string Competence { get; init; } = "";
    public Urgency Urgency { get; init; }
    public string CommuneInsee { get; init; } = "";
    public PersonSummary? Person { get; init; }
    public AgentInput? AssignedAgent { get; init; }
    public DateTimeOffset DeadlineAt { get; init; }
    public DateTimeOffset SentAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>
/// The caller's sent or received referrals, newest first, filtered; keyset pages. A person is found
/// by family name, given names and birth date together, through their blind index. The received box
/// lists what the caller holds; <c>status=TRANSFERRED</c>, what it transferred (and sees as
/// <see cref="ReferralVisibility"/> lets an earlier receiver see it).
/// </summary>
[ContractOperations("ListSentReferrals", "ListReceivedReferrals")]
public sealed record ListReferralsQuery(
    ReferralBox Box, ReferralStatus? Status, string? Need, Urgency? Urgency, bool? Overdue, DateOnly? SentFrom, DateOnly? SentTo,
    string? Commune, string? AssignedAgent, string? FamilyName, string? GivenNames, DateOnly? BirthDate, int? Limit, string? Cursor)
    : IQuery<Page<ReferralSummary>>;

public sealed class ListReferralsValidator : AbstractValidator<ListReferralsQuery>
{
    public ListReferralsValidator()
    {
        RuleFor(q => q.Need).MaximumLength(32).Matches(Needs.NeedPattern);
        RuleFor(q => q.Commune).Matches("^(\\d{5}|2[AB]\\d{3})$").WithMessage("A commune is its INSEE code (5 characters).");
        RuleFor(q => q.AssignedAgent).MaximumLength(100);
        RuleFor(q => q.FamilyName).MaximumLength(100);
        RuleFor(q => q.GivenNames).MaximumLength(100);
        RuleFor(q => q.BirthDate).InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange);
        RuleFor(q => q).Must(q => (q.FamilyName is null) == (q.GivenNames is null) && (q.FamilyName is null) == (q.BirthDate is null))
            .OverridePropertyName("familyName").WithMessage("A person is searched by familyName, givenNames and birthDate together.");
        RuleFor(q => q.Limit).InclusiveBetween(1, Cursor.MaxLimit);
        RuleFor(q => q.Cursor).MaximumLength(200);
        RuleFor(q => q.SentFrom).InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange);
        RuleFor(q => q.SentTo).InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange);
    }
}

public sealed class ListReferralsHandler(Db db, Caller caller, TimeProvider clock, ReferralRouter router, ReferralPersonData people,
    PersonAccess access)
    : IQueryHandler<ListReferralsQuery, Page<ReferralSummary>>
{
    public async ValueTask<Page<ReferralSummary>> Handle(ListReferralsQuery q, CancellationToken ct)
    {
        var org = caller.OrganisationId ?? throw new ForbiddenException("Referral boxes belong to an organisation's key.");
        var limit = q.Limit ?? Cursor.DefaultLimit;
        var after = Cursor.Decode(q.Cursor, 1) is { } parts ? Cursor.Id(parts[0]) : (Guid?)null;
        var now = clock.GetUtcNow();
        var page = await db.RetryAsync(async (c, t) =>
        {
            var competence = q.Need is null ? null : await router.CompetenceAsync(c, null, q.Need, t);
            var rows = (await c.QueryAsync<Row>(db.Command(BuildSql(q, after is not null), new
            {
                org, status = q.Status?.ToString(), competence, urgency = q.Urgency?.ToString(), now, awaiting = Awaiting,
                sentFrom = q.SentFrom is { } f ? new DateTimeOffset(f.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) : (DateTimeOffset?)null,
                sentBefore = q.SentTo is { } to ? new DateTimeOffset(to.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) : (DateTimeOffset?)null,
                commune = q.Commune, assignedAgent = q.AssignedAgent, afterId = after ?? Guid.Empty, limit = limit + 1,
                personKey = q.FamilyName is null ? null : people.KeyOf(q.FamilyName, q.GivenNames!, q.BirthDate!.Value),
            }, t))).ToList();
            // Each line as the caller may see it: as its sender, its receiver, or (the TRANSFERRED tab) the receiver that
            // transferred it.
            var view = q.Box == ReferralBox.SENT ? ReferralView.Sender : ReferralView.Receiver;
            var earlier = IsTransferredTab(q) ? await EarlierViewsAsync(c, org, rows, t) : null;
            var persons = await people.ReadManyAsync(c, null, earlier is not null ? []
                : rows.Take(limit).Where(r => view.SeesPerson(r.ConsentWithdrawnAt is not null)).Select(r => r.Id).ToList(), t);
            var items = rows.Select(r =>
            {
                var line = new ReferralSummary
                {
                    Id = r.Id, Status = Enum.Parse<ReferralStatus>(r.Status),
                    Overdue = Awaiting.Contains(r.Status) && r.DeadlineAt < now,
                    Sender = new ReferralOrganisation(r.SenderId, r.SenderName, r.SenderKind),
                    Receiver = new ReferralOrganisation(r.ReceiverId, r.ReceiverName, r.ReceiverKind),
                    Need = r.Need, Competence = r.CompetenceCode, Urgency = Enum.Parse<Urgency>(r.Urgency), CommuneInsee = r.CommuneCode ?? "",
                    Person = persons.TryGetValue(r.Id, out var p)
                        ? new PersonSummary(p.Person.FamilyName, p.Person.GivenNames, p.Person.BirthDate) : null,
                    AssignedAgent = r.AssignedAgentReference is null ? null : new AgentInput(r.AssignedAgentReference, r.AssignedAgentName ?? ""),
                    DeadlineAt = r.DeadlineAt, SentAt = r.SentAt, UpdatedAt = r.UpdatedAt,
                };
                return earlier is null ? line : ReferralVisibility.Cut(line, earlier[r.Id].View, earlier[r.Id].To);
            }).ToList();
            return Cursor.ToPage(items, limit, i => [i.Id.ToString()]);
        }, ct);
        // One batch of access rows for the page, written before the page is served.
        await access.RecordAsync(page.Items.Where(i => i.Person is not null).Select(i => i.Id), ct);
        return page;
    }

    private static readonly string[] Awaiting = [nameof(ReferralStatus.SENT), nameof(ReferralStatus.RECEIVED)];

    /// <summary>How the caller, which transferred these referrals, sees each: its view and the organisation it handed it to.</summary>
    private async Task<Dictionary<Guid, (ReferralView View, ReferralOrganisation To)>> EarlierViewsAsync(DbConnection c, Guid org,
        IReadOnlyList<Row> rows, CancellationToken ct)
    {
        if (rows.Count == 0) return [];
        var spans = await ReferralVisibility.SpansAsync(db, c, rows.Select(r => r.Id).ToList(), ct);
        var views = rows.ToDictionary(r => r.Id, r => ReferralVisibility.Of(r.SenderId, r.ReceiverId, spans[r.Id], org)
            ?? throw new InvalidOperationException($"{org} took no part in referral {r.Id}."));
        var names = (await c.QueryAsync<OrganisationRow>(db.Command(OrganisationsSql,
                new { ids = views.Values.Select(v => v.TransferredToId!.Value).Distinct().ToArray() }, ct)))
            .ToDictionary(o => o.Id, o => new ReferralOrganisation(o.Id, o.Name, o.Kind));
        return views.ToDictionary(v => v.Key, v => (v.Value, names[v.Value.TransferredToId!.Value]));
    }

    private static bool IsTransferredTab(ListReferralsQuery q) =>
        q.Box == ReferralBox.RECEIVED && q.Status == ReferralStatus.TRANSFERRED;

    /// <summary>
    /// Only the filters asked for go into the WHERE clause. The page of ids is chosen first, on the box's
    /// index (receiver_id or sender_id, id) walked backwards from the cursor, and only then joined: the
    /// planner cannot prefer a scan and a sort, so a page costs the same at 10,000 or 1,000,000 rows.
    /// </summary>
    internal static string BuildSql(ListReferralsQuery q, bool paged)
    {
        var box = q.Box == ReferralBox.RECEIVED ? "p.receiver_id" : "p.sender_id";
        // The transferred tab: what the caller sees of those is that it transferred them, so filters on what came
        // after (status, overdue, agent) or on the person match none of them.
        var transferred = IsTransferredTab(q);
        var where = new List<string> { transferred ? ReferralVisibility.TransferredBoxFilter : $"{box} = @org" };
        if (q.Status is not null && !transferred) where.Add("p.status = @status");
        if (q.Need is not null) where.Add("p.competence_code = @competence");
        if (q.Urgency is not null) where.Add("p.urgency = @urgency");
        if (q.Overdue == true) where.Add(transferred ? "1 = 0" : "p.status {in:awaiting} AND p.deadline_at < @now");
        if (q.Overdue == false && !transferred) where.Add("NOT (p.status {in:awaiting} AND p.deadline_at < @now)");
        if (q.SentFrom is not null) where.Add("p.sent_at >= @sentFrom");
        if (q.SentTo is not null) where.Add("p.sent_at < @sentBefore");
        if (q.Commune is not null) where.Add("p.commune_id IN (SELECT pc.id FROM organisation pc WHERE pc.kind = 'COMMUNE' AND pc.code = @commune)");
        if (q.AssignedAgent is not null) where.Add(transferred ? "1 = 0" : "p.assigned_agent_reference = @assignedAgent");
        // A receiver no longer finds by name a person who withdrew consent.
        if (q.FamilyName is not null)
            where.Add(transferred ? "1 = 0"
                : q.Box == ReferralBox.RECEIVED ? "p.person_key = @personKey AND p.consent_withdrawn_at IS NULL" : "p.person_key = @personKey");
        if (paged) where.Add("p.id < @afterId");
        var order = transferred ? "p.id DESC" : $"{box} DESC, p.id DESC";
        return $"""
            SELECT r.id, r.status, r.sender_id, s.name AS sender_name, s.kind AS sender_kind, r.receiver_id, v.name AS receiver_name,
                   v.kind AS receiver_kind, r.need, r.competence_code, r.urgency, cm.code AS commune_code, r.assigned_agent_reference,
                   r.assigned_agent_name, r.deadline_at, r.sent_at, r.updated_at, r.consent_withdrawn_at
            FROM (SELECT p.id FROM referral p
                  WHERE {string.Join("\n    AND ", where)}
                  ORDER BY {order}
                  {"{limit}"}) page
            JOIN referral r ON r.id = page.id
            JOIN organisation s ON s.id = r.sender_id
            JOIN organisation v ON v.id = r.receiver_id
            JOIN organisation cm ON cm.id = r.commune_id
            ORDER BY r.id DESC
            """;
    }

    private sealed class Row
    {
        public Guid Id { get; init; }
        public string Status { get; init; } = "";
        public Guid SenderId { get; init; }
        public string SenderName { get; init; } = "";
        public string SenderKind { get; init; } = "";
        public Guid ReceiverId { get; init; }
        public string ReceiverName { get; init; } = "";
        public string ReceiverKind { get; init; } = "";
        public string Need { get; init; } = "";
        public string CompetenceCode { get; init; } = "";
        public string Urgency { get; init; } = "";
        public string? CommuneCode { get; init; }
        public string? AssignedAgentReference { get; init; }
        public string? AssignedAgentName { get; init; }
        public DateTimeOffset DeadlineAt { get; init; }
        public DateTimeOffset SentAt { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }
        public DateTimeOffset? ConsentWithdrawnAt { get; init; }
    }

    private sealed class OrganisationRow
    {
        public Guid Id { get; init; }
        public string Name { get; init; } = "";
        public string Kind { get; init; } = "";
    }

    private const string OrganisationsSql = "SELECT id, name, kind FROM organisation WHERE id {in:ids}";
}

/// <summary>How many referrals of the caller's box are in each status, and how many are overdue: a dashboard.</summary>
public sealed record CountReferralsQuery(ReferralBox Box) : IQuery<ReferralCounts>;

[ContractName("ReferralStatusCount")]
public sealed record StatusCount(ReferralStatus Status, int Count);

public sealed record ReferralCounts(ReferralBox Box, IReadOnlyList<StatusCount> ByStatus, int Overdue, int Total);

public sealed class CountReferralsHandler(Db db, Caller caller, TimeProvider clock) : IQueryHandler<CountReferralsQuery, ReferralCounts>
{
    public async ValueTask<ReferralCounts> Handle(CountReferralsQuery q, CancellationToken ct)
    {
        var org = caller.OrganisationId ?? throw new ForbiddenException("Referral boxes belong to an organisation's key.");
        return await db.RetryAsync(async (c, t) =>
        {
            var received = q.Box == ReferralBox.RECEIVED;
            var rows = (await c.QueryAsync<Row>(db.Command(received ? ReceivedSql : SentSql, new { org }, t))).ToList();
            var overdue = await c.ExecuteScalarAsync<int>(db.Command(received ? ReceivedOverdueSql : SentOverdueSql,
                new { org, now = clock.GetUtcNow(), awaiting = new[] { nameof(ReferralStatus.SENT), nameof(ReferralStatus.RECEIVED) } }, t));
            // The received box counts what the caller transferred, as it sees those: TRANSFERRED.
            if (received)
                rows.Add(new Row
                {
                    Status = nameof(ReferralStatus.TRANSFERRED),
                    N = await c.ExecuteScalarAsync<int>(db.Command(ReferralVisibility.TransferredCountSql, new { org }, t)),
                });
            var byStatus = Enum.GetValues<ReferralStatus>().Where(s => received || s != ReferralStatus.TRANSFERRED)
                .Select(s => new StatusCount(s, rows.Where(r => r.Status == s.ToString()).Sum(r => r.N))).ToList();
            return new ReferralCounts(q.Box, byStatus, overdue, byStatus.Sum(s => s.Count));
        }, ct);
    }

    private sealed class Row { public string Status { get; init; } = ""; public int N { get; init; } }

    private const string ReceivedSql = "SELECT status, COUNT(*) AS n FROM referral WHERE receiver_id = @org GROUP BY status";
    private const string SentSql = "SELECT status, COUNT(*) AS n FROM referral WHERE sender_id = @org GROUP BY status";
    private const string ReceivedOverdueSql = """
        SELECT COUNT(*) FROM referral WHERE receiver_id = @org AND status {in:awaiting} AND deadline_at < @now
        """;
    private const string SentOverdueSql = """
        SELECT COUNT(*) FROM referral WHERE sender_id = @org AND status {in:awaiting} AND deadline_at < @now
        """;
}
