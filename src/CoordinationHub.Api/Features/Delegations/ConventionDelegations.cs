using System.Data.Common;

namespace CoordinationHub.Features.Delegations;

/// <summary>
/// What happens to delegations when their convention ends early: they end on the same day
/// (recorded as a new version, never deleted) and the competence map is recomputed.
/// Called by the convention handlers inside their own transaction.
/// </summary>
public sealed class ConventionDelegations
{
    /// <param name="lastDay">The convention's last day in force; delegations running past it end on it.</param>
    public Task EndAllAsync(DbConnection c, DbTransaction tx, Guid conventionId, DateOnly lastDay, string reason, CancellationToken ct)
    {
        _ = (c, tx, conventionId, lastDay, reason, ct);
        return Task.CompletedTask; // implemented with the delegations feature
    }
}
