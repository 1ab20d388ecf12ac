using System.Data.Common;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.Delegations;

/// <summary>
/// What happens to delegations when their convention ends early: they end on the same day
/// (recorded as a new version, never deleted) and the competence map is recomputed.
/// Called by the convention handlers inside their own transaction.
/// </summary>
public sealed class ConventionDelegations(Db db, DelegationWrites writes)
{
    /// <param name="lastDay">The convention's last day in force; delegations running past it end on it.</param>
    public async Task EndAllAsync(DbConnection c, DbTransaction tx, Guid conventionId, DateOnly lastDay, string reason, CancellationToken ct)
    {
        var running = (await c.QueryAsync<Guid>(db.Command(RunningSql, new { conventionId, lastDay }, ct, tx))).ToList();
        var batch = writes.Batch();
        foreach (var current in await DelegationStore.LoadCurrentAsync(db, c, tx, running, ct))
            batch.End(current, lastDay, reason, DelegationChange.ENDED_WITH_CONVENTION);
        await batch.CompleteAsync(c, tx, ct);
    }

    /// <summary>
    /// An amendment may not pull the ground from under a running delegation: from its effective
    /// date the convention must still cover each delegation's competence and communes (409 otherwise;
    /// end or change the delegation first).
    /// </summary>
    public async Task EnsureStillCoveredAsync(DbConnection c, DbTransaction tx, Guid conventionId, DateOnly effectiveOn,
        IReadOnlyCollection<string> competences, IReadOnlyCollection<Guid> communes, CancellationToken ct)
    {
        var covered = communes.ToHashSet();
        var rows = await c.QueryAsync<DelegationCommuneRow>(db.Command(RunningCommunesSql, new { conventionId, effectiveOn }, ct, tx));
        var orphan = rows.FirstOrDefault(r => !covered.Contains(r.CommuneId));
        var competence = (await c.QueryAsync<CompetenceRow>(db.Command(RunningCompetencesSql, new { conventionId, effectiveOn }, ct, tx)))
            .FirstOrDefault(r => !competences.Contains(r.Competence));
        var id = competence?.Id ?? orphan?.Id;
        if (id is not null)
            throw new Platform.Errors.ConflictException("conventions.amendment-orphans-delegation",
                $"From {effectiveOn:yyyy-MM-dd} the amendment would no longer cover delegation {id} ({(competence is not null ? $"competence {competence.Competence}" : "one of its communes")}): end or change the delegation first.")
                { ConflictingResource = $"/v1/delegations/{id}" };
    }

    private sealed class CompetenceRow { public Guid Id { get; init; } public string Competence { get; init; } = ""; }

    private const string RunningCommunesSql = """
        SELECT d.id, d.delegator_id, d.delegate_id, d.convention_id, d.start_on, d.end_on, dc.commune_id
        FROM delegation d
        JOIN delegation_commune dc ON dc.delegation_id = d.id AND dc.version_no = d.current_version
        WHERE d.convention_id = @conventionId AND d.end_on >= @effectiveOn AND d.start_on <= d.end_on
        """;
    private const string RunningCompetencesSql = """
        SELECT d.id, d.competence_code AS competence FROM delegation d
        WHERE d.convention_id = @conventionId AND d.end_on >= @effectiveOn AND d.start_on <= d.end_on
        """;
    private const string RunningSql = "SELECT id FROM delegation WHERE convention_id = @conventionId AND end_on > @lastDay ORDER BY id";
}
