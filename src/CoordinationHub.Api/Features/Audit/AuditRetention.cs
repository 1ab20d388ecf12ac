using CoordinationHub.Platform;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.Audit;

/// <summary>
/// Audit rows older than <c>Retention:AuditDays</c> (default 365) are deleted, a batch per transaction, by the purge job.
/// The CNIL's recommendation on logging (délibération n° 2021-122, « journalisation ») keeps such traces six months to
/// one year; one year here. A referral's audit stays while its person's data is held (it is the person's dossier
/// history), and goes by the same age rule once that data is purged.
/// </summary>
public sealed class AuditRetention(Db db, TimeProvider clock, IConfiguration configuration)
{
    public const int Batch = 1000;

    public int Days => configuration.GetValue("Retention:AuditDays", 365);

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var cutoff = clock.GetUtcNow().AddDays(-Days);
        var total = 0;
        while (true)
        {
            var deleted = await db.InTransactionAsync((c, tx, t) => c.ExecuteAsync(db.Command(PurgeSql, new { cutoff, limit = Batch }, t, tx)), ct);
            total += deleted;
            if (deleted < Batch) break;
        }
        if (total > 0) Telemetry.PurgedRows.Add(total, new KeyValuePair<string, object?>("table", "audit_event"));
        return total;
    }

    private const string PurgeSql = """
        DELETE FROM audit_event WHERE id IN (
            SELECT a.id FROM audit_event a
            WHERE a.occurred_at < @cutoff
              AND NOT EXISTS (SELECT 1 FROM referral r WHERE a.resource_type = 'referral' AND r.id = a.resource_id AND r.person_purged_at IS NULL)
            ORDER BY a.occurred_at {limit})
        """;
}
