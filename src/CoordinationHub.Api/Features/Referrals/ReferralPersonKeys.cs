using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.Referrals;

/// <summary>
/// The one-time pass that recomputes, at start-up, the blind index of referrals written before it covered every given
/// name (migration 0014 marks them <c>rekey_pending</c>): each key from the person as sealed, a batch a transaction.
/// A purged referral has no person left to key: it keeps its old key, which no new key can equal, and is unmarked.
/// Until the pass is over the guard may miss a duplicate among unmarked rows, never invent one.
/// </summary>
public sealed class ReferralPersonKeys(Db db, ReferralPersonData people, ILogger<ReferralPersonKeys> logger)
{
    private const int Batch = 500;

    /// <returns>How many keys it recomputed.</returns>
    public async Task<int> RecomputeAsync(CancellationToken ct)
    {
        var total = 0;
        while (true)
        {
            var done = await db.InTransactionAsync(async (c, tx, t) =>
            {
                var ids = (await c.QueryAsync<Guid>(db.Command(PendingSql, new { limit = Batch }, t, tx))).ToList();
                if (ids.Count == 0) return -1;
                var persons = await people.ReadManyAsync(c, tx, ids, t);
                var rows = 0;
                foreach (var id in ids)
                {
                    if (persons.TryGetValue(id, out var p))
                        rows += await c.ExecuteAsync(db.Command(RekeySql, new { id, key = people.KeyOf(p.Person) }, t, tx));
                    else await c.ExecuteAsync(db.Command(UnmarkSql, new { id }, t, tx));
                }
                return rows;
            }, ct);
            if (done < 0) break;
            total += done;
        }
        if (total > 0) logger.LogInformation("Recomputed the person key of {Count} referrals (every given name, migration 0014).", total);
        return total;
    }

    private const string PendingSql = "SELECT id FROM referral WHERE rekey_pending IS NOT NULL ORDER BY id {limit}";
    private const string RekeySql = "UPDATE referral SET person_key = @key, rekey_pending = NULL WHERE id = @id";
    private const string UnmarkSql = "UPDATE referral SET rekey_pending = NULL WHERE id = @id";
}
