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
    DateOnly? EffectiveOn, bool DryRun, Guid? DelegatorId, bool AllowEmpty = false, int? ConfirmEnded = null) : ICommand<ImportReport>;

public sealed class QueuePushHandler(Db db, Caller caller, TimeProvider clock) : ICommandHandler<QueuePushCommand, ImportReport>
{
    public async ValueTask<ImportReport> Handle(QueuePushCommand command, CancellationToken ct)
    {
        var delegatorId = PushDelegationsHandler.DelegatorOf(caller, command.DelegatorId);
        await PushParameters.CheckCompetencesAsync(db, command.Competences, ct);
        var id = Guid.CreateVersion7();
        var now = clock.GetUtcNow();
        var directory = QueuedJob.Directory(db);
        var file = Path.Combine(directory, id.ToString("N"));
        File.Move(command.File, file);
        var job = new QueuedJob(id, delegatorId, caller.OrganisationId, caller.KeyId, caller.IsPlatformAdmin, command.Format.ToString(),
            command.Mode.ToString(), string.Join(',', command.Competences.Order()), command.EffectiveOn ?? DateOnly.FromDateTime(now.UtcDateTime),
            command.DryRun, command.ContentSha256, file, now, command.AllowEmpty, command.ConfirmEnded);
        // SQLite has one writer, which a running push holds for its whole transaction: the job is recorded beside its
        // body (durable before the 202), and the worker registers it between two pushes.
        if (db.Dialect.Provider == DatabaseProvider.Sqlite) await job.WriteAsync(ct);
        else
            await using (var c = await db.OpenAsync(ct))
                await c.ExecuteAsync(db.Command(QueuedJob.InsertSql, job.Row(), ct));
        return job.Report();
    }
}

/// <summary>A queued job as the worker reads it, and as it is recorded in a file beside its body until registered (SQLite).</summary>
public sealed record QueuedJob(
    Guid Id, Guid DelegatorId, Guid? OrganisationId, Guid ApiKeyId, bool IsAdmin, string Format, string Mode, string Competences,
    DateOnly EffectiveOn, bool DryRun, string Sha, string File, DateTimeOffset Now, bool AllowEmpty, int? ConfirmEnded)
{
    private const string Extension = ".job";

    public static string Directory(Db db)
    {
        var directory = Path.Combine(db.DataDirectory, "imports");
        System.IO.Directory.CreateDirectory(directory);
        return directory;
    }

    /// <summary>Parameters as the statements take them (SQLite's writer binds by their names).</summary>
    public object Row() => new
    {
        id = Id, delegatorId = DelegatorId, organisationId = OrganisationId, apiKeyId = ApiKeyId, isAdmin = IsAdmin, format = Format, mode = Mode,
        competences = Competences, effectiveOn = EffectiveOn, dryRun = DryRun, sha = Sha, file = File, now = Now, allowEmpty = AllowEmpty,
        confirmEnded = ConfirmEnded,
    };

    public ImportReport Report() => new(Id, DelegatorId, Enum.Parse<PushMode>(Mode), DryRun, ImportStatus.QUEUED, Sha,
        new ImportCounts(0, 0, 0, 0, 0, 0), [], Now, Now, false);

    public async Task WriteAsync(CancellationToken ct)
    {
        var path = File + Extension;
        await System.IO.File.WriteAllTextAsync(path + ".tmp", System.Text.Json.JsonSerializer.Serialize(this), ct);
        System.IO.File.Move(path + ".tmp", path, overwrite: true);
    }

    public static QueuedJob? Read(Db db, Guid id) => Read(Path.Combine(Directory(db), id.ToString("N") + Extension));

    private static QueuedJob? Read(string path)
    {
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<QueuedJob>(System.IO.File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>The jobs recorded in files, into the table (the worker, between two pushes); a file goes once its row exists.</summary>
    public static async Task RegisterAsync(Db db, ILogger logger, CancellationToken ct)
    {
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory(db), "*" + Extension).Order(StringComparer.Ordinal))
        {
            if (Read(path) is not { } job) continue;
            try
            {
                await db.InTransactionAsync((c, tx, t) => c.ExecuteAsync(db.Command(InsertSql, job.Row(), t, tx)), ct);
            }
            catch (Exception e) when (db.Dialect.IsUniqueViolation(e)) { } // registered before a crash took the file's removal
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One job that cannot be registered keeps its file (and says why); the others go on.
                logger.LogError(e, "Import job file {Path} could not be registered", path);
                continue;
            }
            System.IO.File.Delete(path);
        }
    }

    internal const string InsertSql = """
        INSERT INTO import_job (id, delegator_id, organisation_id, api_key_id, is_admin, format, mode, competences, effective_on, dry_run,
                                content_sha256, status, body_file, created_at, allow_empty, confirm_ended)
        VALUES (@id, @delegatorId, @organisationId, @apiKeyId, @isAdmin, @format, @mode, @competences, @effectiveOn, @dryRun,
                @sha, 'QUEUED', @file, @now, @allowEmpty, @confirmEnded)
        """;
}

/// <summary>Records read so far by the pushes this process is applying (a running push holds its transaction).</summary>
public sealed class ImportProgress
{
    /// <summary>A push is here from its start until its outcome is recorded and the map includes it.</summary>
    private readonly ConcurrentDictionary<Guid, int> read = new();
    public void Report(Guid job, int records) => read[job] = records;
    public void Forget(Guid job) => read.TryRemove(job, out _);
    public int? Of(Guid job) => read.TryGetValue(job, out var n) ? n : null;
}

/// <summary>
/// Applies queued pushes one at a time, each under a short lease renewed by a heartbeat while it runs: a job
/// whose worker died (its transaction rolled back, nothing applied) shows a stale heartbeat within seconds
/// and is taken again once its lease lapses. Attempts are counted: a job that fails, or whose worker dies,
/// <see cref="ImportOptions.MaxAttempts"/> times ends FAILED with the reason. Its outcome is written in the
/// push's own transaction, so a job that was applied is never taken again.
/// </summary>
public sealed class ImportWorker(IServiceProvider services, Db db, TimeProvider clock, ImportSafety safety, ILogger<ImportWorker> logger)
    : BackgroundService
{
    public static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(2);
    /// <summary>A job whose heartbeat is older than this lost its worker.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(10);
    /// <summary>A push the client waits for has no heartbeat: past this, the process that ran it died.</summary>
    public static readonly TimeSpan SyncLease = TimeSpan.FromMinutes(2);
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
                if (!db.Outage.Observe(e)) logger.LogWarning(e, "Import worker failed; it tries again");
            }
            await wake.WaitAsync(PollEvery, stoppingToken);
        }
    }

    private async Task<JobRow?> ClaimAsync(CancellationToken ct)
    {
        if (db.Dialect.Provider == DatabaseProvider.Sqlite) await QueuedJob.RegisterAsync(db, logger, ct);
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
            if (job.Attempts >= safety.Options.MaxAttempts)
            {
                await FailAsync(c, job, job.Attempts, now, job.FailureReason
                    ?? $"The worker applying it stopped (process killed or restarted) during each of its {job.Attempts} attempts.", ct);
                continue;
            }
            if (!File.Exists(job.BodyFile)) continue; // spooled on another instance
            if (await c.ExecuteAsync(db.Command(ClaimSql, new { job.Id, now, until = now + Lease }, ct)) == 1) return job;
        }
        return null;
    }

    private async Task RunAsync(JobRow job, CancellationToken ct)
    {
        // One span per job (the push's handler and SQL under it), none for the polls that find nothing.
        using var activity = Platform.Telemetry.Source.StartActivity("ImportJob", System.Diagnostics.ActivityKind.Consumer);
        activity?.SetTag("coordinationhub.import.id", job.Id);
        using var renew = new CancellationTokenSource();
        var renewing = RenewAsync(job.Id, renew.Token);
        try
        {
            await using var scope = services.CreateAsyncScope();
            scope.ServiceProvider.GetRequiredService<Caller>().Set(new ApiKeyIdentity(job.ApiKeyId, job.OrganisationId, job.IsAdmin,
                new HashSet<string> { Scopes.DelegationsImport, Scopes.DelegationsWrite }));
            var report = await scope.ServiceProvider.GetRequiredService<ISender>().Send(new PushDelegationsCommand(
                job.BodyFile!, Enum.Parse<PushFormat>(job.Format), job.ContentSha256, Enum.Parse<PushMode>(job.Mode),
                job.Competences.Split(',', StringSplitOptions.RemoveEmptyEntries), job.EffectiveOn, job.DryRun, job.DelegatorId, job.Id,
                job.AllowEmpty, job.ConfirmEnded), ct);
            File.Delete(job.BodyFile!);
            logger.LogInformation("Import job {Id}: {Status}", job.Id, report.Status);
            Platform.Telemetry.ImportJobs.Add(1, new KeyValuePair<string, object?>("outcome", report.Status.ToString().ToLowerInvariant()));
        }
        catch (Exception e) when (e is not (ImportSafety.ProcessKilled or OperationCanceledException))
        {
            // Announced in the job: the reason, and the attempt that comes (or FAILED after the last).
            logger.LogWarning(e, "Import job {Id} failed on attempt {Attempt}", job.Id, job.Attempts + 1);
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, e.GetType().Name);
            Platform.Telemetry.ImportJobs.Add(1, new KeyValuePair<string, object?>("outcome", "failed"));
            var reason = $"Attempt {job.Attempts + 1} failed: {(e is Platform.Errors.ProblemException p ? p.Message : e.GetType().Name + ": " + e.Message)}";
            await using var c = await db.OpenAsync(CancellationToken.None);
            if (job.Attempts + 1 >= safety.Options.MaxAttempts) await FailAsync(c, job, job.Attempts + 1, clock.GetUtcNow(), reason, CancellationToken.None);
            else await c.ExecuteAsync(db.Command(RetrySql, new { job.Id, reason }, CancellationToken.None));
        }
        finally
        {
            await renew.CancelAsync();
            await renewing;
        }
    }

    private async Task FailAsync(System.Data.Common.DbConnection c, JobRow job, int attempt, DateTimeOffset now, string reason, CancellationToken ct)
    {
        var report = new ImportReport(job.Id, job.DelegatorId, Enum.Parse<PushMode>(job.Mode), job.DryRun, ImportStatus.FAILED, job.ContentSha256,
            new ImportCounts(0, 0, 0, 0, 0, 0), [], job.CreatedAt, now, false)
        { Attempt = attempt, MaxAttempts = safety.Options.MaxAttempts, FailureReason = reason };
        await c.ExecuteAsync(db.Command(FailSql, new
        {
            job.Id, reason, now, report = System.Text.Json.JsonSerializer.Serialize(report, PushDelegationsHandler.ReportJson),
        }, ct));
        if (job.BodyFile is not null) File.Delete(job.BodyFile);
        logger.LogWarning("Import job {Id} FAILED: {Reason}", job.Id, reason);
    }

    private async Task RenewAsync(Guid id, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(HeartbeatEvery, ct);
                await using var c = await db.OpenAsync(ct);
                var now = clock.GetUtcNow();
                await c.ExecuteAsync(db.Command(RenewSql, new { id, now, until = now + Lease }, ct));
            }
            catch (OperationCanceledException) { }
            // SQLite's writer may be the push itself: this process reports its own jobs alive from memory (ImportProgress).
            catch (Exception e) { logger.LogDebug(e, "Could not renew the lease of import job {Id}", id); }
        }
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
        public int Attempts { get; init; }
        public string? FailureReason { get; init; }
        public bool AllowEmpty { get; init; }
        public int? ConfirmEnded { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
    }

    private const string WaitingSql = """
        SELECT id, delegator_id, organisation_id, api_key_id, is_admin, format, mode, competences, effective_on, dry_run, content_sha256,
               body_file, attempts, failure_reason, allow_empty, confirm_ended, created_at
        FROM import_job
        WHERE status IN ('QUEUED', 'RUNNING') AND (lease_until IS NULL OR lease_until < @now)
        ORDER BY created_at
        """;
    private const string ClaimSql = """
        UPDATE import_job SET status = 'RUNNING', lease_until = @until, heartbeat_at = @now, attempts = attempts + 1
        WHERE id = @id AND status IN ('QUEUED', 'RUNNING') AND (lease_until IS NULL OR lease_until < @now)
        """;
    private const string RetrySql = """
        UPDATE import_job SET status = 'QUEUED', lease_until = NULL, failure_reason = @reason WHERE id = @id AND status = 'RUNNING'
        """;
    private const string FailSql = """
        UPDATE import_job SET status = 'FAILED', failure_reason = @reason, report = @report, finished_at = @now, lease_until = NULL, body_file = NULL
        WHERE id = @id AND status IN ('QUEUED', 'RUNNING')
        """;
    private const string InterruptedSql = """
        UPDATE import_job SET status = 'INTERRUPTED', finished_at = @now, lease_until = NULL
        WHERE id = @id AND status = 'RUNNING' AND body_file IS NULL AND lease_until < @now
        """;
    private const string RenewSql = "UPDATE import_job SET lease_until = @until, heartbeat_at = @now WHERE id = @id AND status = 'RUNNING'";
}

/// <summary>The push's safety settings (section <c>Imports</c>).</summary>
public sealed class ImportOptions
{
    /// <summary>The share of its running delegations (of the snapshot's competences) a snapshot may end without confirmEnded.</summary>
    public double SnapshotMaxEndedShare { get; set; } = 0.20;
    /// <summary>A département's own share, by COG code (<c>Imports:SnapshotMaxEndedShareByDepartement:59=0.05</c>).</summary>
    public Dictionary<string, double> SnapshotMaxEndedShareByDepartement { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>Attempts a job gets (a failure, or a worker that died running it) before it is FAILED.</summary>
    public int MaxAttempts { get; set; } = 3;
}

/// <summary>
/// The settings a push reads, and the named instants of a push where a test stands in for <c>kill -9</c>: its hook
/// throws <see cref="ProcessKilled"/>, which nothing records, so the database is left as a killed process leaves it.
/// </summary>
public sealed class ImportSafety(Db db, Microsoft.Extensions.Options.IOptions<ImportOptions> options)
{
    public const string Applying = "applying", WritingStatus = "writing-status", Committed = "committed";
    public ImportOptions Options => options.Value;
    public Func<string, Guid, Task>? Hook { get; set; }

    public Task AtAsync(string instant, Guid job) => Hook?.Invoke(instant, job) ?? Task.CompletedTask;

    public async Task<double> MaxEndedShareAsync(Guid delegatorId, CancellationToken ct)
    {
        if (Options.SnapshotMaxEndedShareByDepartement.Count == 0) return Options.SnapshotMaxEndedShare;
        var code = await db.RetryAsync((c, t) => c.QuerySingleOrDefaultAsync<string?>(db.Command(CodeSql, new { delegatorId }, t)), ct);
        return code is not null && Options.SnapshotMaxEndedShareByDepartement.TryGetValue(code, out var own) ? own : Options.SnapshotMaxEndedShare;
    }

    public sealed class ProcessKilled : Exception;

    private const string CodeSql = "SELECT code FROM organisation WHERE id = @delegatorId AND kind = 'DEPARTEMENT'";
}
