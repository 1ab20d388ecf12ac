using System.Data.Common;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.Delegations;

/// <summary>
/// What happens to delegations when their convention ends early: they end on the same day
/// (recorded as a new version, never deleted) and the competence map is recomputed.
/// Called by the convention handlers inside their own transaction.
/// </summary>
public sealed class ConventionDelegations(Db db, DelegationRules rules)
{
    /// <param name="lastDay">The convention's last day in force; delegations running past it end on it.</param>
    public async Task EndAllAsync(DbConnection c, DbTransaction tx, Guid conventionId, DateOnly lastDay, string reason, CancellationToken ct)
    {
        var running = (await c.QueryAsync<Guid>(db.Command(RunningSql, new { conventionId, lastDay }, ct, tx))).ToList();
        foreach (var id in running)
        {
            var current = (await DelegationStore.LoadAsync(db, c, tx, id, null, ct))!;
            await rules.RecordVersionAsync(c, tx, id, current.VersionNo + 1, current.StartOn, lastDay, current.CommuneIds,
                DelegationChange.ENDED_WITH_CONVENTION, reason, current.Competence, current, ct);
        }
    }

    private const string RunningSql = "SELECT id FROM delegation WHERE convention_id = @conventionId AND end_on > @lastDay ORDER BY id";
}
