using System.Collections.Concurrent;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Imports;

/// <summary>
/// A push too large to answer while the client waits becomes a job: its spooled body is kept under
/// the data directory, and <see cref="ImportWorker"/> applies it. Answered 202 with the job.
/// </summary>
public sealed record QueuePushCommand(
    string File, PushFormat Format, string ContentSha256, PushMode Mode, IReadOnlyList<string> Competences,
    DateOnly? EffectiveOn, bool DryRun, Guid? DelegatorId) : ICommand<ImportReport>;

public sealed class QueuePushHandler(Db db, Caller caller, TimeProvider clock) : ICommandHandler<QueuePushCommand, ImportReport>
{
    public async ValueTask<ImportReport> Handle(QueuePushCommand command, CancellationToken ct)
    {
        var delegatorId = PushDelegationsHandler.DelegatorOf(caller, command.DelegatorId);
        var id = Guid.CreateVersion7();
        var now = clock.GetUtcNow();
        var directory = Path.Combine(db.DataDirectory, "imports");
        System.IO.Directory.CreateDirectory(directory);
        var file = Path.Combine(directory, id.ToString("N"));
        File.Move(command.File, file);
        var effectiveOn = command.EffectiveOn ?? DateOnly.FromDateTime(now.UtcDateTime);
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync(db.Command(QueueSql, new
        {
            id, delegatorId, organisationId = caller.OrganisationId, apiKeyId = caller.KeyId, isAdmin = caller.IsPlatformAdmin,
            format = command.Format.ToString(), mode = command.Mode.ToString(), competences = string.Join(',', command.Competences.Order()),
            effectiveOn, dryRun = command.DryRun, sha = command.ContentSha256, file, now,
        }, ct));
        return new ImportReport(id, delegatorId, command.Mode, command.DryRun, ImportStatus.QUEUED, command.ContentSha256,
            new ImportCounts(0, 0, 0, 0, 0, 0), [], now, now, false);
    }

    private const string QueueSql = """
        INSERT INTO import_job (id, delegator_id, organisation_id, api_key_id, is_admin, format, mode, competences, effective_on, dry_run,
                                content_sha256, status, body_file, created_at)
        VALUES (@id, @delegatorId, @organisationId, @apiKeyId, @isAdmin, @format, @mode, @competences, @effectiveOn, @dryRun,
                @sha, 'QUEUED', @file, @now)
        """;
}

/// <summary>Records read so far by the pushes this process is applying (a running push holds its transaction).</summary>
public sealed class ImportProgress
{
    private readonly ConcurrentDictionary<Guid, int> read = new();
    public void Report(Guid job, int records) => read[job] = records;
    public void Forget(Guid job) => read.TryRemove(job, out _);
    public int? Of(Guid job) => read.TryGetValue(job, out var n) ? n : null;
}

/// <summary>
/// Applies queued pushes one at a time, each under a lease renewed while it runs: a job whose process
/// was killed (its transaction rolled back, nothing applied) is taken again once its lease lapses.
/// </summary>
public sealed class ImportWorker(IServiceProvider services, Db db, TimeProvider clock, ILogger<ImportWorker> logger) : BackgroundService
{
    public static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    private readonly SemaphoreSlim wake = new(0);

    /// <summary>A job was queued here: look at once.</summary>
    public void Wake() => wake.Release();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await ClaimAsync(stoppingToken) is { } job) await RunAsync(job, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Import worker failed; it tries again");
            }
            await wake.WaitAsync(PollEvery, stoppingToken);
        }
    }

    private async Task<JobRow?> ClaimAsync(CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var now = clock.GetUtcNow();
        foreach (var job in await c.QueryAsync<JobRow>(db.Command(WaitingSql, new { now }, ct)))
        {
            // A push the client waited for has no spooled body: past its lease, the process that ran it died.
            if (job.BodyFile is null)
            {
                await c.ExecuteAsync(db.Command(InterruptedSql, new { job.Id, now }, ct));
                continue;
            }
            if (!File.Exists(job.BodyFile)) continue; // spooled on another instance
            if (await c.ExecuteAsync(db.Command(ClaimSql, new { job.Id, now, until = now + Lease }, ct)) == 1) return job;
        }
        return null;
    }

    private async Task RunAsync(JobRow job, CancellationToken ct)
    {
        using var renew = new CancellationTokenSource();
        var renewing = RenewAsync(job.Id, renew.Token);
        try
        {
            await using var scope = services.CreateAsyncScope();
            scope.ServiceProvider.GetRequiredService<Caller>().Set(new ApiKeyIdentity(job.ApiKeyId, job.OrganisationId, job.IsAdmin,
                new HashSet<string> { Scopes.DelegationsImport, Scopes.DelegationsWrite }));
            var report = await scope.ServiceProvider.GetRequiredService<ISender>().Send(new PushDelegationsCommand(
                job.BodyFile!, Enum.Parse<PushFormat>(job.Format), job.ContentSha256, Enum.Parse<PushMode>(job.Mode),
                job.Competences.Split(',', StringSplitOptions.RemoveEmptyEntries), job.EffectiveOn, job.DryRun, job.DelegatorId, job.Id), ct);
            File.Delete(job.BodyFile!);
            logger.LogInformation("Import job {Id}: {Status}", job.Id, report.Status);
        }
        finally
        {
            await renew.CancelAsync();
            await renewing;
        }
    }

    private async Task RenewAsync(Guid id, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                await Task.Delay(Lease / 4, ct);
                await using var c = await db.OpenAsync(ct);
                await c.ExecuteAsync(db.Command(RenewSql, new { id, until = clock.GetUtcNow() + Lease }, ct));
            }
        }
        catch (OperationCanceledException) { }
        catch (Exception e) { logger.LogWarning(e, "Could not renew the lease of import job {Id}", id); }
    }

    private sealed class JobRow
    {
        public Guid Id { get; init; }
        public Guid DelegatorId { get; init; }
        public Guid? OrganisationId { get; init; }
        public Guid ApiKeyId { get; init; }
        public bool IsAdmin { get; init; }
        public string Format { get; init; } = "";
        public string Mode { get; init; } = "";
        public string Competences { get; init; } = "";
        public DateOnly EffectiveOn { get; init; }
        public bool DryRun { get; init; }
        public string ContentSha256 { get; init; } = "";
        public string? BodyFile { get; init; }
    }

    private const string WaitingSql = """
        SELECT id, delegator_id, organisation_id, api_key_id, is_admin, format, mode, competences, effective_on, dry_run, content_sha256, body_file
        FROM import_job
        WHERE status IN ('QUEUED', 'RUNNING') AND (lease_until IS NULL OR lease_until < @now)
        ORDER BY created_at
        """;
    private const string ClaimSql = """
        UPDATE import_job SET status = 'RUNNING', lease_until = @until
        WHERE id = @id AND status IN ('QUEUED', 'RUNNING') AND (lease_until IS NULL OR lease_until < @now)
        """;
    private const string InterruptedSql = """
        UPDATE import_job SET status = 'INTERRUPTED', finished_at = @now, lease_until = NULL
        WHERE id = @id AND status = 'RUNNING' AND body_file IS NULL AND lease_until < @now
        """;
    private const string RenewSql = "UPDATE import_job SET lease_until = @until WHERE id = @id AND status = 'RUNNING'";
}
