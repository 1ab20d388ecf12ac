using System.Data.Common;
using System.Text.Json;
using CoordinationHub.Features.Delegations;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.Http;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Imports;

public enum PushMode { UPSERT, SNAPSHOT }

/// <summary>INTERRUPTED: the process applying a push that the client waited for died; nothing of it was applied, send it again.</summary>
public enum ImportStatus { QUEUED, RUNNING, APPLIED, VALIDATED, REFUSED, INTERRUPTED }

/// <summary>
/// A département's delegations, pushed in bulk from a spooled body: created or changed by external
/// reference (UPSERT), and with SNAPSHOT the delegations of the named competences that the push
/// does not list are ended the day before <c>EffectiveOn</c>. All or nothing.
/// </summary>
public sealed record PushDelegationsCommand(
    string File, PushFormat Format, string ContentSha256, PushMode Mode, IReadOnlyList<string> Competences,
    DateOnly? EffectiveOn, bool DryRun, Guid? DelegatorId, Guid? JobId = null) : ICommand<ImportReport>;

public sealed record ImportCounts(int Read, int Valid, int Created, int Changed, int Unchanged, int Ended);

/// <summary>A record the push could not take, and why: its line, its external reference, the rule's problem type.</summary>
public sealed record ImportError(int Line, string? ExternalRef, string Type, string Message);

public sealed record ImportReport(
    Guid Id, Guid DelegatorId, PushMode Mode, bool DryRun, ImportStatus Status, string ContentSha256,
    ImportCounts Counts, IReadOnlyList<ImportError> Errors, DateTimeOffset StartedAt, DateTimeOffset FinishedAt, bool Replayed);

/// <summary>The query string of a push, checked before its body is read.</summary>
public static class PushParameters
{
    public const int MaxCompetences = 50;

    public static IReadOnlyList<string> Check(PushMode mode, string? competences, DateOnly? effectiveOn)
    {
        var list = (competences ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (mode == PushMode.SNAPSHOT && list.Length == 0)
            throw new BadRequestException("imports.competences-required", "A snapshot names the competences whose list is complete (competences=RSA_INSTRUCTION,…).");
        if (list.Length > MaxCompetences || list.Any(c => c.Length > 32))
            throw new BadRequestException("imports.competences", $"competences lists at most {MaxCompetences} codes of the catalogue, comma-separated.");
        if (effectiveOn is { } on && (on < Dates.Earliest || on > Dates.Latest)) throw new BadRequestException("imports.effective-on", Dates.OutOfRange);
        return list;
    }
}

public sealed class PushDelegationsHandler(
    Db db, Caller caller, DelegationWrites writes, ChangeLog changeLog, CompetenceMap.CompetenceMapWriter map, CompetenceMap.MapChanges mapChanges, TimeProvider clock,
    ImportProgress progress, CompetenceMap.CompetenceMapCache cache, ILogger<PushDelegationsHandler> logger)
    : ICommandHandler<PushDelegationsCommand, ImportReport>
{
    /// <summary>The largest push: a département's whole snapshot is about 9 × 800 records; the national load, by département.</summary>
    public const int MaxRecords = 200_000;
    private static readonly PushRecordValidator Validator = new();

    public async ValueTask<ImportReport> Handle(PushDelegationsCommand command, CancellationToken ct)
    {
        var delegatorId = DelegatorOf(caller, command.DelegatorId);
        var effectiveOn = command.EffectiveOn ?? DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var key = new { delegatorId, sha = command.ContentSha256, mode = command.Mode.ToString(), competences = string.Join(',', command.Competences.Order()), effectiveOn };

        // The same content pushed again (a retry, a resent nightly file) applies once: the first report answers.
        if (!command.DryRun)
        {
            await using var lookup = await db.OpenAsync(ct);
            if (await lookup.QueryFirstOrDefaultAsync<string>(db.Command(AppliedSql, key, ct)) is { } stored)
            {
                var replayed = JsonSerializer.Deserialize<ImportReport>(stored, ReportJson)! with { Replayed = true };
                if (command.JobId is { } job)
                    await lookup.ExecuteAsync(db.Command(FinishJobSql, new
                    {
                        id = job, status = replayed.Status.ToString(), report = JsonSerializer.Serialize(replayed, ReportJson), finishedAt = clock.GetUtcNow(),
                    }, ct));
                return replayed;
            }
        }

        var id = command.JobId ?? Guid.CreateVersion7();
        var started = clock.GetUtcNow();
        var row = new
        {
            id, key.delegatorId, organisationId = caller.OrganisationId, apiKeyId = caller.KeyId, isAdmin = caller.IsPlatformAdmin,
            format = command.Format.ToString(), key.mode, key.competences, key.effectiveOn, dryRun = command.DryRun, key.sha, createdAt = started,
            leaseUntil = started + ImportWorker.Lease,
        };
        // The job exists before its transaction commits: its import.completed event names it, and subscribers to it are its audience.
        if (command.JobId is null)
            await using (var c = await db.OpenAsync(ct))
                await c.ExecuteAsync(db.Command(InsertJobSql, row, ct));
        var run = new Run(db, writes, id, delegatorId, effectiveOn, read => progress.Report(id, read));
        ImportReport report;
        try
        {
            await db.InTransactionAsync(async (c, tx, t) =>
            {
                run.Reset();
                // The map generation first, outside the records' savepoints: a rolled-back record cannot take it with it.
                await map.GenerationAsync(c, tx, t);
                await run.ApplyAsync(c, tx, command, t);
                if (run.Errors.Count > 0 || command.DryRun) throw new Rollback();
                // Counts only: subscribers fetch the report with their own key.
                await changeLog.RecordAsync(c, tx, "import", id, "import.completed", null,
                    new { id, delegatorId, counts = run.Report(id, command, ImportStatus.APPLIED, started, started).Counts, report = $"/v1/imports/{id}" }, t);
                return 0;
            }, ct);
            report = run.Report(id, command, ImportStatus.APPLIED, started, clock.GetUtcNow());
            // The map includes the push before anyone can read that it was applied (a job's status is read by polling).
            if (mapChanges.Generation is { } generation) await cache.IncludeAsync(generation);
        }
        catch (Rollback)
        {
            mapChanges.Discard();
            report = run.Report(id, command, run.Errors.Count > 0 ? ImportStatus.REFUSED : ImportStatus.VALIDATED, started, clock.GetUtcNow());
        }
        logger.LogInformation("Push {Id} by {Delegator}: {Status} {Counts}, {Errors} refused records", id, delegatorId, report.Status, report.Counts, report.Errors.Count);

        progress.Forget(id);
        await using (var c = await db.OpenAsync(ct))
            await c.ExecuteAsync(db.Command(FinishJobSql, new
            {
                id, status = report.Status.ToString(), report = JsonSerializer.Serialize(report, ReportJson), finishedAt = report.FinishedAt,
            }, ct));
        return report;
    }

    /// <summary>The organisation whose delegations are pushed: the caller's own, or any for the platform administrator.</summary>
    public static Guid DelegatorOf(Caller caller, Guid? named)
    {
        var delegatorId = named ?? caller.OrganisationId
            ?? throw new BadRequestException("imports.delegator-required", "The platform administrator names the delegator: delegator=<organisation id>.");
        if (!caller.IsPlatformAdmin && !caller.Is(delegatorId))
            throw new ForbiddenException("An organisation pushes its own delegations only.");
        return delegatorId;
    }

    private sealed class Rollback : Exception;

    internal static readonly JsonSerializerOptions ReportJson = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    /// <summary>One attempt at applying the push, record by record, each in a savepoint.</summary>
    private sealed class Run(Db db, DelegationWrites writes, Guid jobId, Guid delegatorId, DateOnly effectiveOn, Action<int> progress)
    {
        private readonly List<object?[]> sent = [];
        private readonly Dictionary<string, CommuneRef?> communes = new(StringComparer.Ordinal);
        private readonly HashSet<string> pushed = new(StringComparer.Ordinal);
        private int read, valid, created, changed, unchanged, ended;
        public List<ImportError> Errors { get; } = [];

        public void Reset()
        {
            pushed.Clear();
            sent.Clear();
            Errors.Clear();
            read = valid = created = changed = unchanged = ended = 0;
        }

        public ImportReport Report(Guid id, PushDelegationsCommand command, ImportStatus status, DateTimeOffset started, DateTimeOffset finished) =>
            new(id, delegatorId, command.Mode, command.DryRun, status, command.ContentSha256,
                new ImportCounts(read, valid, created, changed, unchanged, ended), [.. Errors], started, finished, false);

        public async Task ApplyAsync(DbConnection c, DbTransaction tx, PushDelegationsCommand command, CancellationToken ct)
        {
            var delegator = await c.QuerySingleOrDefaultAsync<DelegatorRow>(db.Command(DelegatorSql, new { id = delegatorId }, ct, tx))
                ?? throw new RuleException("imports.unknown-delegator", $"{delegatorId} is not an organisation of the directory.");
            await using var body = File.OpenRead(command.File);
            await foreach (var line in PushRecords.ReadAsync(body, command.Format, ct))
            {
                if (++read % 1000 == 0) progress(read);
                if (read > MaxRecords)
                {
                    Errors.Add(new ImportError(line.Line, null, "imports.too-many-records", $"A push holds at most {MaxRecords:N0} records: split it."));
                    break;
                }
                if (line.Record is not { } record)
                {
                    Errors.Add(new ImportError(line.Line, null, "imports.malformed-record", line.Error!));
                    continue;
                }
                if (record.ExternalRef is { } seen && !pushed.Add(seen))
                {
                    Errors.Add(new ImportError(line.Line, seen, "imports.duplicate-external-ref", $"'{seen}' appears twice in the push."));
                    continue;
                }
                await tx.SaveAsync("record", ct);
                try
                {
                    var (delegation, communeIds) = await ApplyAsync(c, tx, record, delegator, ct);
                    await tx.ReleaseAsync("record", ct);
                    valid++;
                    sent.Add([jobId, line.Line, record.ExternalRef, delegation, record.StartOn, record.EndOn, CommunesHash(communeIds)]);
                    if (sent.Count >= 500) await FlushAsync(c, tx, ct);
                }
                catch (ProblemException e) when (e.Status is 403 or 404 or 409 or 422)
                {
                    await tx.RollbackAsync("record", ct);
                    Errors.Add(new ImportError(line.Line, record.ExternalRef, e.Code, e.Message));
                }
            }
            if (command.Mode == PushMode.SNAPSHOT && Errors.Count == 0)
                await EndAbsentAsync(c, tx, command.Competences, ct);
            await FlushAsync(c, tx, ct);
        }

        /// <summary>What was sent, kept for reconciliation; written in batches so that memory does not grow with the push.</summary>
        private async Task FlushAsync(DbConnection c, DbTransaction tx, CancellationToken ct)
        {
            await db.InsertRowsAsync(c, tx, "import_record", RecordColumns, RecordTypes, sent, ct);
            sent.Clear();
        }

        private async Task<(Guid Delegation, IEnumerable<Guid> Communes)> ApplyAsync(DbConnection c, DbTransaction tx, PushRecord r, DelegatorRow delegator, CancellationToken ct)
        {
            var missing = new[]
            {
                (r.ExternalRef is null, "externalRef"), (r.Competence is null, "competence"), (r.Communes is not { Count: > 0 }, "communes"),
                (r.StartOn is null, "startOn"), (r.EndOn is null, "endOn"),
                (r.ConventionId is null && r.ConventionReference is null, "conventionId or conventionReference"),
                (r.DelegateId is null && r.DelegateSiret is null && r.DelegateCcasCommune is null, "delegateId, delegateSiret or delegateCcasCommune"),
            }.Where(m => m.Item1).Select(m => m.Item2).ToList();
            if (missing.Count > 0) throw new RuleException("imports.missing-field", $"Missing: {string.Join(", ", missing)}.");
            if (Validator.Validate(r) is { IsValid: false } invalid)
                throw new RuleException("imports.invalid-field", string.Join(" ", invalid.Errors.Select(e => $"{e.PropertyName}: {e.ErrorMessage}")));

            var delegateId = await DelegateAsync(c, tx, r, ct);
            var conventionId = r.ConventionId ?? await c.QuerySingleOrDefaultAsync<Guid?>(db.Command(ConventionByReferenceSql, new { reference = r.ConventionReference }, ct, tx))
                ?? throw new RuleException("imports.unknown-convention", $"There is no convention with reference '{r.ConventionReference}'.");
            var territory = new List<CommuneRef>();
            foreach (var code in r.Communes!.Distinct(StringComparer.Ordinal))
            {
                var commune = await CommuneAsync(c, tx, code, ct) ?? throw new RuleException("imports.unknown-commune", $"'{code}' is not a current commune (INSEE code).");
                // A département pushes for its own territory (the platform administrator for any delegator).
                if (delegator.Kind == "DEPARTEMENT" && commune.DepartementCode != delegator.Code)
                    throw new RuleException("imports.outside-territory", $"{commune.Name} ({commune.Code}) is not in département {delegator.Code}.");
                territory.Add(commune);
            }
            territory.Sort((a, b) => string.CompareOrdinal(a.Code, b.Code));

            var existingId = await c.QuerySingleOrDefaultAsync<Guid?>(db.Command(ByExternalRefSql, new { delegatorId, externalRef = r.ExternalRef }, ct, tx));
            if (existingId is null)
            {
                var id = await writes.CreateAsync(c, tx, new DelegationProposal(null, delegatorId, delegateId, r.Competence!, conventionId, territory,
                    r.StartOn!.Value, r.EndOn!.Value), r.ExternalRef, ct);
                created++;
                return (id, territory.Select(x => x.Id));
            }
            var current = (await DelegationStore.LoadAsync(db, c, tx, existingId.Value, null, ct))!;
            if (current.DelegateId != delegateId || current.Competence != r.Competence || current.ConventionId != conventionId)
                throw new RuleException("imports.identity-changed",
                    $"Delegation {current.Id} ('{r.ExternalRef}') has another delegate, competence or convention: those do not change. End it, and push the new one under a new external reference.");
            if (current.StartOn == r.StartOn && current.EndOn == r.EndOn && current.CommuneIds.Order().SequenceEqual(territory.Select(x => x.Id).Order()))
            {
                unchanged++;
                return (current.Id, current.CommuneIds);
            }
            await writes.ChangeAsync(c, tx, current, territory, r.StartOn!.Value, r.EndOn!.Value, "Bulk push", ct);
            changed++;
            return (current.Id, territory.Select(x => x.Id));
        }

        /// <summary>A snapshot is the complete list: a running delegation of those competences that it lacks ends the day before it takes effect.</summary>
        private async Task EndAbsentAsync(DbConnection c, DbTransaction tx, IReadOnlyList<string> competences, CancellationToken ct)
        {
            var running = await c.QueryAsync<RunningRow>(db.Command(RunningSql, new { delegatorId, competences = competences.ToArray(), effectiveOn }, ct, tx));
            foreach (var row in running.Where(r => r.ExternalRef is null || !pushed.Contains(r.ExternalRef)).ToList())
            {
                var current = (await DelegationStore.LoadAsync(db, c, tx, row.Id, null, ct))!;
                var lastDay = current.StartOn >= effectiveOn ? current.StartOn.AddDays(-1) : effectiveOn.AddDays(-1);
                await writes.EndAsync(c, tx, current, lastDay, $"Absent from the snapshot taking effect on {effectiveOn:yyyy-MM-dd}", ct);
                ended++;
            }
        }

        private async Task<Guid> DelegateAsync(DbConnection c, DbTransaction tx, PushRecord r, CancellationToken ct)
        {
            if (r.DelegateId is { } id) return id; // the rules check it is an active organisation
            if (r.DelegateSiret is { } siret)
                return await c.QuerySingleOrDefaultAsync<Guid?>(db.Command(BySiretSql, new { siret }, ct, tx))
                    ?? throw new RuleException("imports.unknown-delegate", $"No organisation has SIRET {siret}.");
            return await c.QuerySingleOrDefaultAsync<Guid?>(db.Command(CcasOfCommuneSql, new { code = r.DelegateCcasCommune, active = true }, ct, tx))
                ?? throw new RuleException("imports.unknown-delegate", $"The commune '{r.DelegateCcasCommune}' has no CCAS in the directory.");
        }

        private async Task<CommuneRef?> CommuneAsync(DbConnection c, DbTransaction tx, string code, CancellationToken ct)
        {
            if (!communes.TryGetValue(code, out var commune))
                communes[code] = commune = await c.QuerySingleOrDefaultAsync<CommuneRef>(db.Command(CommuneSql, new { code, active = true }, ct, tx));
            return commune;
        }
    }

    /// <summary>A delegation's territory as one comparable value.</summary>
    internal static string CommunesHash(IEnumerable<Guid> communes) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
        System.Text.Encoding.ASCII.GetBytes(string.Join(',', communes.Order()))));

    private static readonly string[] RecordColumns = ["job_id", "line", "external_ref", "delegation_id", "start_on", "end_on", "communes_sha256"];
    private static readonly System.Data.DbType[] RecordTypes =
    [
        System.Data.DbType.Guid, System.Data.DbType.Int32, System.Data.DbType.String, System.Data.DbType.Guid,
        System.Data.DbType.Date, System.Data.DbType.Date, System.Data.DbType.String,
    ];

    private sealed class DelegatorRow { public Guid Id { get; init; } public string Kind { get; init; } = ""; public string? Code { get; init; } }
    private sealed class RunningRow { public Guid Id { get; init; } public string? ExternalRef { get; init; } }

    private const string DelegatorSql = "SELECT id, kind, code FROM organisation WHERE id = @id";
    private const string ConventionByReferenceSql = "SELECT id FROM convention WHERE reference = @reference";
    private const string ByExternalRefSql = "SELECT id FROM delegation WHERE delegator_id = @delegatorId AND external_ref = @externalRef";
    private const string BySiretSql = "SELECT id FROM organisation WHERE siret = @siret";
    private const string CcasOfCommuneSql = """
        SELECT ccas.id FROM organisation ccas JOIN organisation c ON c.id = ccas.commune_id
        WHERE ccas.kind = 'CCAS' AND ccas.is_active = @active AND c.kind = 'COMMUNE' AND c.code = @code
        """;
    private const string CommuneSql = "SELECT o.id, o.code, o.name, o.departement_code, o.is_active FROM organisation o WHERE o.kind = 'COMMUNE' AND o.code = @code AND o.is_active = @active";
    private const string RunningSql = """
        SELECT id, external_ref FROM delegation
        WHERE delegator_id = @delegatorId AND competence_code {in:competences} AND end_on >= @effectiveOn AND start_on <= end_on
        ORDER BY id
        """;
    private const string AppliedSql = """
        SELECT report FROM import_job
        WHERE delegator_id = @delegatorId AND content_sha256 = @sha AND mode = @mode AND competences = @competences
          AND effective_on = @effectiveOn AND status = 'APPLIED'
        """;
    private const string InsertJobSql = """
        INSERT INTO import_job (id, delegator_id, organisation_id, api_key_id, is_admin, format, mode, competences, effective_on, dry_run,
                                content_sha256, status, report, lease_until, created_at, finished_at)
        VALUES (@id, @delegatorId, @organisationId, @apiKeyId, @isAdmin, @format, @mode, @competences, @effectiveOn, @dryRun,
                @sha, 'RUNNING', NULL, @leaseUntil, @createdAt, NULL)
        """;
    private const string FinishJobSql = """
        UPDATE import_job SET status = @status, report = @report, finished_at = @finishedAt, body_file = NULL, lease_until = NULL
        WHERE id = @id
        """;
}
