using System.Data.Common;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;

namespace CoordinationHub.Features.Delegations;

/// <summary>
/// A delegation is granted, changed or ended only here, inside the caller's transaction: the API's
/// use cases and the départements' bulk push go through the same rules and write the same versions,
/// map periods, audit records and events.
/// </summary>
public sealed class DelegationWrites(Db db, DelegationRules rules, TimeProvider clock)
{
    public async Task<Guid> CreateAsync(DbConnection c, DbTransaction tx, DelegationProposal p, string? externalRef, CancellationToken ct)
    {
        await rules.CheckAsync(c, tx, p, ct);
        if (externalRef is not null
            && await c.QuerySingleOrDefaultAsync<Guid?>(db.Command(ExternalRefSql, new { delegatorId = p.DelegatorId, externalRef }, ct, tx)) is { } taken)
            throw new ConflictException("delegations.external-ref-taken", $"The delegator already has a delegation with external reference '{externalRef}'.")
                { ConflictingResource = $"/v1/delegations/{taken}" };

        var id = Guid.CreateVersion7();
        var now = clock.GetUtcNow();
        await c.ExecuteAsync(db.Command(InsertSql, new
        {
            id, p.DelegatorId, p.DelegateId, competence = p.Competence, p.ConventionId, externalRef, p.StartOn, p.EndOn, now,
        }, ct, tx));
        await rules.RecordVersionAsync(c, tx, id, 1, p.StartOn, p.EndOn, p.Communes.Select(x => x.Id).ToList(), DelegationChange.CREATED, null, p.Competence, null, ct);
        return id;
    }

    /// <summary>A new period or territory; the delegator, delegate, competence and convention stay.</summary>
    public async Task ChangeAsync(DbConnection c, DbTransaction tx, DelegationDto current, IReadOnlyList<CommuneRef> communes,
        DateOnly startOn, DateOnly endOn, string? reason, CancellationToken ct)
    {
        await rules.CheckAsync(c, tx, new DelegationProposal(current.Id, current.DelegatorId, current.DelegateId, current.Competence, current.ConventionId, communes, startOn, endOn), ct);
        await rules.RecordVersionAsync(c, tx, current.Id, current.VersionNo + 1, startOn, endOn, communes.Select(x => x.Id).ToList(),
            DelegationChange.CHANGED, reason, current.Competence, current, ct);
    }

    public async Task EndAsync(DbConnection c, DbTransaction tx, DelegationDto current, DateOnly lastDay, string reason, CancellationToken ct)
    {
        if (lastDay >= current.EndOn)
            throw new RuleException("delegations.not-an-early-end", $"The delegation already ends on {current.EndOn:yyyy-MM-dd}; to extend it, change it (PUT).");
        if (lastDay < current.StartOn.AddDays(-1))
            throw new RuleException("delegations.end-before-start", $"The last day cannot be before the day before the start ({current.StartOn:yyyy-MM-dd}).");
        await rules.RecordVersionAsync(c, tx, current.Id, current.VersionNo + 1, current.StartOn, lastDay, current.CommuneIds,
            DelegationChange.ENDED, reason, current.Competence, current, ct);
    }

    private const string ExternalRefSql = "SELECT id FROM delegation WHERE delegator_id = @delegatorId AND external_ref = @externalRef";
    private const string InsertSql = """
        INSERT INTO delegation (id, delegator_id, delegate_id, competence_code, convention_id, external_ref, current_version, start_on, end_on, version, created_at, updated_at)
        VALUES (@id, @delegatorId, @delegateId, @competence, @conventionId, @externalRef, 1, @startOn, @endOn, 1, @now, @now)
        """;
}
