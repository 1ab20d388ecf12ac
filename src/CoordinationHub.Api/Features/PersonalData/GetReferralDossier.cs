using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.PersonalData;

/// <summary>A change of the referral as the audit trail recorded it.</summary>
[ContractName("DossierEvent")]
public sealed class DossierEvent
{
    public DateTimeOffset OccurredAt { get; init; }
    public string Action { get; init; } = "";
    public Guid? OrganisationId { get; init; }
}

/// <summary>
/// Everything held on a referral for the person (right of access, GDPR art. 15): the data and its
/// versions, the statuses and their history, the thread, the agents assigned, who read it and when,
/// and the person's requests.
/// </summary>
[ContractName("ReferralDossier")]
public sealed record ReferralDossier(
    DateTimeOffset GeneratedAt, ReferralDto Referral, IReadOnlyList<PersonVersion> PersonVersions, IReadOnlyList<DossierEvent> History,
    IReadOnlyList<ThreadMessage> Thread, IReadOnlyList<AssignmentDto> Assignments, IReadOnlyList<AccessEntry> AccessLog,
    IReadOnlyList<PersonRequestDto> Requests);

public sealed record GetReferralDossierQuery(Guid Id) : IQuery<ReferralDossier>;

public sealed class GetReferralDossierHandler(Db db, Caller caller, TimeProvider clock, ReferralPersonData people, AssignmentLog assignments,
    PersonAccess access) : IQueryHandler<GetReferralDossierQuery, ReferralDossier>
{
    public async ValueTask<ReferralDossier> Handle(GetReferralDossierQuery query, CancellationToken ct)
    {
        var dossier = await db.RetryAsync(async (c, t) =>
        {
            var row = await ReferralStore.LoadAsync(db, c, null, query.Id, t);
            var view = await ReferralVisibility.ViewAsync(db, c, null, row, query.Id, caller, t);
            if (view.IsEarlier)
                throw new ForbiddenException("Your organisation transferred this referral: the sender or the current receiver hands the dossier over.");
            var now = clock.GetUtcNow();
            var log = await access.ReadAllAsync(c, query.Id, t);
            // After the person withdrew consent the receiver's dossier says so and when, and holds nothing of the person.
            return new ReferralDossier(now, await ReferralStore.ToDtoAsync(db, c, null, row!, view, people, now, t),
                view.SeesPerson(row!) ? await people.ReadVersionsAsync(c, null, query.Id, t) : [],
                (await c.QueryAsync<DossierEvent>(db.Command(HistorySql, new { id = query.Id }, t))).ToList(),
                ReferralVisibility.Thread(await people.ReadThreadAsync(c, null, query.Id, null, t), row!, view),
                await assignments.ListAsync(c, null, query.Id, t), log,
                await PersonRequests.ListAsync(db, c, query.Id, t));
        }, ct);
        if (dossier.Referral.Person is not null || dossier.Thread.Any(m => m.Body is not null)) await access.RecordAsync([query.Id], ct);
        return dossier;
    }

    private const string HistorySql = """
        SELECT occurred_at, action, organisation_id FROM audit_event
        WHERE resource_type = 'referral' AND resource_id = @id
        ORDER BY occurred_at, id
        """;
}
