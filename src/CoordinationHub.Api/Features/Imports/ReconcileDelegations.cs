using CoordinationHub.Features.Delegations;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Imports;

/// <summary>
/// Where our delegations and a département's own system disagree: the running delegations it never
/// sent (by external reference, in any applied push), and the records of its last applied push that
/// we hold differently since (changed or ended through the API).
/// </summary>
public sealed record ReconcileDelegationsQuery(string Departement) : IQuery<Reconciliation>;

public sealed record NeverSent(Guid DelegationId, string? ExternalRef, string Competence, DateOnly StartOn, DateOnly EndOn);

public sealed record HeldDifferently(int Line, string ExternalRef, Guid DelegationId, DateOnly SentStartOn, DateOnly SentEndOn,
    DateOnly HeldStartOn, DateOnly HeldEndOn, bool CommunesDiffer);

public sealed record Reconciliation(Guid DelegatorId, Guid? LastPushId, DateOnly Date, IReadOnlyList<NeverSent> NeverSent, IReadOnlyList<HeldDifferently> HeldDifferently);

public sealed class ReconcileDelegationsValidator : AbstractValidator<ReconcileDelegationsQuery>
{
    public ReconcileDelegationsValidator() => RuleFor(q => q.Departement).NotEmpty().Matches("^(\\d{2,3}|2[AB])$");
}

public sealed class ReconcileDelegationsHandler(Db db, Caller caller, TimeProvider clock) : IQueryHandler<ReconcileDelegationsQuery, Reconciliation>
{
    public async ValueTask<Reconciliation> Handle(ReconcileDelegationsQuery query, CancellationToken ct) => await db.RetryAsync(async (c, t) =>
    {
        var delegator = await c.QuerySingleOrDefaultAsync<Guid?>(db.Command(DepartementSql, new { code = query.Departement.ToUpperInvariant() }, t))
            ?? throw new NotFoundException("département", query.Departement);
        if (!caller.IsPlatformAdmin && !caller.Is(delegator)) throw new NotFoundException("département", query.Departement);
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var neverSent = (await c.QueryAsync<NeverSent>(db.Command(NeverSentSql, new { delegator, today }, t))).ToList();

        var last = await c.QueryFirstOrDefaultAsync<Guid?>(db.Command(LastPushSql, new { delegator, dryRun = false }, t));
        var held = new List<HeldDifferently>();
        if (last is { } job)
        {
            foreach (var r in await c.QueryAsync<SentRow>(db.Command(SentSql, new { job }, t)))
            {
                var now = await DelegationStore.LoadAsync(db, c, null, r.DelegationId, null, t);
                if (now is null) continue;
                var communesDiffer = PushDelegationsHandler.CommunesHash(now.CommuneIds) != r.CommunesSha256;
                if (communesDiffer || now.StartOn != r.StartOn || now.EndOn != r.EndOn)
                    held.Add(new HeldDifferently(r.Line, r.ExternalRef, r.DelegationId, r.StartOn, r.EndOn, now.StartOn, now.EndOn, communesDiffer));
            }
        }
        return new Reconciliation(delegator, last, today, neverSent, held);
    }, ct);

    private sealed class SentRow
    {
        public int Line { get; init; }
        public string ExternalRef { get; init; } = "";
        public Guid DelegationId { get; init; }
        public DateOnly StartOn { get; init; }
        public DateOnly EndOn { get; init; }
        public string CommunesSha256 { get; init; } = "";
    }

    private const string DepartementSql = "SELECT id FROM organisation WHERE kind = 'DEPARTEMENT' AND code = @code";
    private const string NeverSentSql = """
        SELECT d.id AS delegation_id, d.external_ref, d.competence_code AS competence, d.start_on, d.end_on
        FROM delegation d
        WHERE d.delegator_id = @delegator AND d.end_on >= @today AND d.start_on <= d.end_on
          AND NOT EXISTS (
              SELECT 1 FROM import_record r JOIN import_job j ON j.id = r.job_id
              WHERE j.delegator_id = @delegator AND j.status = 'APPLIED' AND r.external_ref = d.external_ref)
        ORDER BY d.external_ref, d.id
        """;
    // An empty upsert changed nothing: it is not the last push that reconciliation compares against.
    private const string LastPushSql = """
        SELECT id FROM import_job j WHERE delegator_id = @delegator AND status = 'APPLIED' AND dry_run = @dryRun
          AND EXISTS (SELECT 1 FROM import_record r WHERE r.job_id = j.id)
        ORDER BY finished_at DESC, id DESC
        """;
    private const string SentSql = """
        SELECT line, external_ref, delegation_id, start_on, end_on, communes_sha256 FROM import_record WHERE job_id = @job ORDER BY line
        """;
}
