using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.PersonalData;

public enum PurgeTrigger { SCHEDULED, COMMAND_LINE, REQUEST }

/// <summary>What a purge did, or would do (<see cref="DryRun"/>).</summary>
public sealed record PurgeReport(bool DryRun, DateTimeOffset At, int DefaultRetentionDays, IReadOnlyList<Guid> Referrals, int Versions, int Messages);

/// <summary>
/// Retention: the person's data of a referral closed (completed, declined, cancelled, closed without
/// outcome) for longer than its retention period — the days the convention between sender and
/// receiver set when it was sent, else <c>PersonalData:RetentionDays</c> — is destroyed. The referral
/// stays as statistics (need, commune, dates, statuses). Every purge writes a person_purge row and,
/// per referral, an audit record and a <c>referral.person-purged</c> event.
/// </summary>
public sealed class PersonDataPurge(Db db, ReferralPersonData people, ChangeLog changeLog, TimeProvider clock, IConfiguration configuration,
    Platform.Security.DataKeys keys)
{
    private const int Batch = 200;
    private static readonly string[] Closed =
        [nameof(ReferralStatus.COMPLETED), nameof(ReferralStatus.DECLINED), nameof(ReferralStatus.CANCELLED), nameof(ReferralStatus.CLOSED_WITHOUT_OUTCOME)];

    public int DefaultRetentionDays => configuration.GetValue("PersonalData:RetentionDays", 365);

    public async Task<PurgeReport> RunAsync(bool dryRun, PurgeTrigger trigger, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var due = await db.RetryAsync(async (c, t) =>
        {
            var shortest = Math.Min(DefaultRetentionDays, await c.ExecuteScalarAsync<int?>(db.Command(ShortestSql, new { closed = Closed }, t)) ?? int.MaxValue);
            var candidates = await c.QueryAsync<Candidate>(db.Command(CandidatesSql, new { closed = Closed, cutoff = now.AddDays(-shortest) }, t));
            return candidates.Where(r => r.ClosedAt.AddDays(r.RetentionDays ?? DefaultRetentionDays) <= now).Select(r => r.Id).ToList();
        }, ct);
        var (versions, messages) = (0, 0);
        foreach (var ids in due.Chunk(Batch))
        {
            var (v, m) = dryRun
                ? await db.RetryAsync(async (c, t) => (await c.ExecuteScalarAsync<int>(db.Command(CountVersionsSql, new { ids }, t)),
                    await c.ExecuteScalarAsync<int>(db.Command(CountMessagesSql, new { ids }, t))), ct)
                : await db.InTransactionAsync((c, tx, t) => PurgeAsync(c, tx, ids, trigger, now, t), ct);
            versions += v;
            messages += m;
        }
        if (!dryRun && due.Count > 0) await keys.ScrubAsync(vacuum: true, ct);
        return new PurgeReport(dryRun, now, DefaultRetentionDays, due, versions, messages);
    }

    /// <summary>
    /// Destroys the person's data of these referrals, their data keys included, in the caller's transaction, and audits it.
    /// The caller runs <see cref="Platform.Security.DataKeys.ScrubAsync"/> after its commit.
    /// </summary>
    public async Task<(int Versions, int Messages)> PurgeAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx,
        IReadOnlyList<Guid> ids, PurgeTrigger trigger, DateTimeOffset now, CancellationToken ct)
    {
        var (versions, messages) = await people.PurgeAsync(c, tx, ids, ct);
        await c.ExecuteAsync(db.Command(MarkSql, new { ids, now }, ct, tx));
        await c.ExecuteAsync(db.Command(AuditSql, new
        {
            id = Guid.CreateVersion7(), now, trigger = trigger.ToString(), referralId = ids.Count == 1 ? ids[0] : (Guid?)null, referrals = ids.Count,
            versions, messages,
        }, ct, tx));
        foreach (var id in ids)
            await changeLog.RecordAsync(c, tx, "referral", id, "referral.person-purged", null, new { id, trigger = trigger.ToString(), purgedAt = now }, ct);
        return (versions, messages);
    }

    private sealed class Candidate
    {
        public Guid Id { get; init; }
        public DateTimeOffset ClosedAt { get; init; }
        public int? RetentionDays { get; init; }
    }

    private const string ShortestSql = """
        SELECT MIN(retention_days) FROM referral WHERE person_purged_at IS NULL AND status {in:closed} AND retention_days IS NOT NULL
        """;
    private const string CandidatesSql = """
        SELECT id, closed_at, retention_days FROM referral
        WHERE person_purged_at IS NULL AND status {in:closed} AND closed_at < @cutoff
        ORDER BY closed_at
        """;
    private const string CountVersionsSql = "SELECT COUNT(*) FROM referral_person_version WHERE referral_id {in:ids}";
    private const string CountMessagesSql = "SELECT COUNT(*) FROM referral_message WHERE referral_id {in:ids} AND body IS NOT NULL";
    // The duplicate guard's key goes too: a blind index still says "this person".
    private const string MarkSql = """
        UPDATE referral SET person_purged_at = @now, person_key = 'purged', version = version + 1, updated_at = @now WHERE id {in:ids}
        """;
    private const string AuditSql = """
        INSERT INTO person_purge (id, purged_at, trigger_kind, referral_id, referrals, versions, messages)
        VALUES (@id, @now, @trigger, @referralId, @referrals, @versions, @messages)
        """;
}

/// <summary>
/// Runs the purges every <c>PersonalData:PurgeInterval</c> (default one hour): the person's data past its retention, then
/// the audit rows past theirs (<see cref="Audit.AuditRetention"/>). Events and deliveries are purged by the webhook dispatcher.
/// </summary>
public sealed class PurgeJob(IServiceScopeFactory scopes, Db db, IConfiguration configuration, ILogger<PurgeJob> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = configuration.GetValue("PersonalData:PurgeInterval", TimeSpan.FromHours(1));
        using var timer = new PeriodicTimer(interval);
        do
        {
            using var activity = Platform.Telemetry.Source.StartActivity("RetentionPurge");
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var report = await scope.ServiceProvider.GetRequiredService<PersonDataPurge>().RunAsync(false, PurgeTrigger.SCHEDULED, stoppingToken);
                if (report.Referrals.Count > 0)
                    logger.LogInformation("Purged the person's data of {Referrals} referrals ({Versions} versions, {Messages} messages)",
                        report.Referrals.Count, report.Versions, report.Messages);
                // After the person's data: a referral's audit rows become purgeable once its data is gone.
                var audit = await scope.ServiceProvider.GetRequiredService<Audit.AuditRetention>().RunAsync(stoppingToken);
                if (audit > 0) logger.LogInformation("Purged {Rows} audit rows older than the audit retention", audit);
                Platform.Telemetry.PurgeRuns.Add(1, new KeyValuePair<string, object?>("outcome", "succeeded"));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Platform.Telemetry.PurgeRuns.Add(1, new KeyValuePair<string, object?>("outcome", "failed"));
                activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, e.GetType().Name);
                if (db.Outage.Observe(e))
                    logger.LogWarning("The retention purge could not reach the database; it runs again in {Interval}", interval);
                else logger.LogError(e, "The retention purge failed; it runs again in {Interval}", interval);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
