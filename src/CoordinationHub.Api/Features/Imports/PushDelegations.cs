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

/// <summary>
/// INTERRUPTED: the process applying a push that the client waited for died; nothing of it was applied, send it again.
/// FAILED: a job that failed on every one of its attempts (<c>failureReason</c> says why); nothing of it was applied.
/// </summary>
public enum ImportStatus { QUEUED, RUNNING, APPLIED, VALIDATED, REFUSED, INTERRUPTED, FAILED }

/// <summary>
/// A département's delegations, pushed in bulk from a spooled body: created or changed by external
/// reference (UPSERT), and with SNAPSHOT the delegations of the named competences that the push
/// does not list are ended the day before <c>EffectiveOn</c>. All or nothing.
/// </summary>
public sealed record PushDelegationsCommand(
    string File, PushFormat Format, string ContentSha256, PushMode Mode, IReadOnlyList<string> Competences,
    DateOnly? EffectiveOn, bool DryRun, Guid? DelegatorId, Guid? JobId = null, bool AllowEmpty = false, int? ConfirmEnded = null)
    : ICommand<ImportReport>;

public sealed record ImportCounts(int Read, int Valid, int Created, int Changed, int Unchanged, int Ended);

/// <summary>A record the push could not take, and why: its line, its external reference, the rule's problem type.</summary>
public sealed record ImportError(int Line, string? ExternalRef, string Type, string Message);

/// <summary>A running delegation that a snapshot would end.</summary>
public sealed record EndingDelegation(Guid DelegationId, string? ExternalRef, string Competence);

/// <summary>
/// <c>Errors</c> holds the first <see cref="PushDelegationsHandler.MaxReportedErrors"/> refused records, <c>ErrorCount</c>
/// them all. <c>Replayed</c> stays for older clients and is always false: a replay by <c>Idempotency-Key</c> is the
/// stored answer itself, marked by the <c>Idempotent-Replayed</c> header.
/// </summary>
public sealed record ImportReport(
    Guid Id, Guid DelegatorId, PushMode Mode, bool DryRun, ImportStatus Status, string ContentSha256,
    ImportCounts Counts, IReadOnlyList<ImportError> Errors, DateTimeOffset StartedAt, DateTimeOffset FinishedAt, bool Replayed)
{
    public int ErrorCount { get; init; } = Errors.Count;
    /// <summary>The snapshot's endings when it was refused for ending too many (the first <see cref="PushDelegationsHandler.MaxReportedErrors"/>).</summary>
    public IReadOnlyList<EndingDelegation>? WouldEnd { get; init; }
    /// <summary>A job's attempt (1 for the first) and how many it gets before it is FAILED.</summary>
    public int? Attempt { get; init; }
    public int? MaxAttempts { get; init; }
    /// <summary>When the worker running the job last said it was alive (every few seconds; older than the lease: it died, and the job is taken again).</summary>
    public DateTimeOffset? LastHeartbeatAt { get; init; }
    /// <summary>Why the last attempt failed: announced while the job waits for its next attempt, and kept when it is FAILED.</summary>
    public string? FailureReason { get; init; }
}

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

    /// <summary>A snapshot's competences are codes of the catalogue: a typo would end nothing and say nothing.</summary>
    public static async Task CheckCompetencesAsync(Db db, IReadOnlyList<string> competences, CancellationToken ct)
    {
        if (competences.Count == 0) return;
        var catalogue = await db.RetryAsync(async (c, t) => (await c.QueryAsync<string>(db.Command(CatalogueSql, null, t))).ToList(), ct);
        var unknown = competences.Where(code => !catalogue.Contains(code, StringComparer.Ordinal)).ToList();
        if (unknown.Count > 0)
            throw new BadRequestException("imports.unknown-competences",
                $"competences: {string.Join(", ", unknown.Select(u => $"'{u}'"))} {(unknown.Count == 1 ? "is" : "are")} not in the catalogue. "
                + $"Allowed: {string.Join(", ", catalogue)}.");
    }

    private const string CatalogueSql = "SELECT code FROM competence ORDER BY sort_order, code";
}

public sealed class PushDelegationsHandler(
    Db db, Caller caller, DelegationWrites writes, ChangeLog changeLog, CompetenceMap.CompetenceMapWriter map, CompetenceMap.MapChanges mapChanges, TimeProvider clock,
    ImportProgress progress, CompetenceMap.CompetenceMapCache cache, ImportSafety safety, ILogger<PushDelegationsHandler> logger)
    : ICommandHandler<PushDelegationsCommand, ImportReport>
{
    /// <summary>The largest push: a département's whole snapshot is about 9 × 800 records; the national load, by département.</summary>
    public const int MaxRecords = 200_000;
    /// <summary>A report lists this many refused records (and counts them all): a bad file's report stays small.</summary>
    public const int MaxReportedErrors = 1_000;
    private static readonly PushRecordValidator Validator = new();

    public async ValueTask<ImportReport> Handle(PushDelegationsCommand command, CancellationToken ct)
    {
        var delegatorId = DelegatorOf(caller, command.DelegatorId);
        await PushParameters.CheckCompetencesAsync(db, command.Competences, ct);
        var effectiveOn = command.EffectiveOn ?? DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        // The same content pushed again is applied again (a correction sent back, an earlier file resent): only
        // a repeated Idempotency-Key replays an answer (Platform/Http/Idempotency). Unchanged records count as such.
        var id = command.JobId ?? Guid.CreateVersion7();
        var started = clock.GetUtcNow();
        if (command.JobId is not null && await CommittedAsync(id, delegatorId, command, started, ct) is { } done) return done;
        var row = new
        {
            id, delegatorId, organisationId = caller.OrganisationId, apiKeyId = caller.KeyId, isAdmin = caller.IsPlatformAdmin,
            format = command.Format.ToString(), mode = command.Mode.ToString(), competences = string.Join(',', command.Competences.Order()),
            effectiveOn, dryRun = command.DryRun, sha = command.ContentSha256, createdAt = started, leaseUntil = started + ImportWorker.SyncLease,
        };
        // The job exists before its transaction commits: its import.completed event names it, and subscribers to it are its audience.
        if (command.JobId is null)
            await using (var c = await db.OpenAsync(ct))
                await c.ExecuteAsync(db.Command(InsertJobSql, row, ct));
        progress.Report(id, 0);
        try
        {
            var share = await safety.MaxEndedShareAsync(delegatorId, ct);
            var run = new Run(db, writes, id, delegatorId, effectiveOn, share, read => progress.Report(id, read));
            ImportReport? applied = null;
            await safety.AtAsync(ImportSafety.Applying, id);
            try
            {
                await db.InTransactionAsync(async (c, tx, t) =>
                {
                    run.Reset();
                    // The map generation first: it orders this push after any other map writer, before the rules read anything.
                    await map.GenerationAsync(c, tx, t);
                    await run.ApplyAsync(c, tx, command, t);
                    if (run.ErrorCount > 0 || command.DryRun) throw new Rollback();
                    applied = run.Report(id, command, ImportStatus.APPLIED, started, clock.GetUtcNow());
                    // Counts only: subscribers fetch the report with their own key.
                    await changeLog.RecordAsync(c, tx, "import", id, "import.completed", null,
                        new { id, delegatorId, counts = applied.Counts, report = $"/v1/imports/{id}" }, t);
                    // The outcome commits with the push: whatever dies after the commit, the job reads APPLIED, once.
                    await c.ExecuteAsync(db.Command(FinishJobSql, FinishRow(applied), t, tx));
                    await safety.AtAsync(ImportSafety.WritingStatus, id);
                    return 0;
                }, ct);
                await safety.AtAsync(ImportSafety.Committed, id);
                // The map includes the push before this process answers or reports it applied (GetImport waits for progress).
                if (mapChanges.Generation is { } generation) await cache.IncludeAsync(generation);
                logger.LogInformation("Push {Id} by {Delegator}: APPLIED {Counts}", id, delegatorId, applied!.Counts);
                return applied;
            }
            catch (Rollback)
            {
                mapChanges.Discard();
            }
            var report = run.Report(id, command, run.ErrorCount > 0 ? ImportStatus.REFUSED : ImportStatus.VALIDATED, started, clock.GetUtcNow());
            logger.LogInformation("Push {Id} by {Delegator}: {Status} {Counts}, {Errors} refused records", id, delegatorId, report.Status, report.Counts, report.ErrorCount);
            await using (var c = await db.OpenAsync(ct))
                await c.ExecuteAsync(db.Command(FinishJobSql, FinishRow(report), ct));
            return report;
        }
        finally
        {
            progress.Forget(id);
        }
    }

    /// <summary>
    /// A job whose push committed while its status did not (a process of an earlier version, killed between the two)
    /// recognises its own work by the audit record its transaction wrote: it ends APPLIED with those counts, applied once.
    /// </summary>
    private async Task<ImportReport?> CommittedAsync(Guid id, Guid delegatorId, PushDelegationsCommand command, DateTimeOffset now, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        if (await c.QueryFirstOrDefaultAsync<string>(db.Command(CommittedSql, new { id }, ct)) is not { } recorded) return null;
        var counts = JsonDocument.Parse(recorded).RootElement.GetProperty("counts").Deserialize<ImportCounts>(ReportJson)!;
        var report = new ImportReport(id, delegatorId, command.Mode, command.DryRun, ImportStatus.APPLIED, command.ContentSha256, counts, [], now, now, false);
        await c.ExecuteAsync(db.Command(FinishJobSql, FinishRow(report), ct));
        logger.LogInformation("Push {Id} had committed before its process died: APPLIED {Counts}", id, counts);
        return report;
    }

    private static object FinishRow(ImportReport report) => new
    {
        id = report.Id, status = report.Status.ToString(), report = JsonSerializer.Serialize(report, ReportJson), finishedAt = report.FinishedAt,
    };

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

    /// <summary>
    /// One attempt at applying the push, in chunks: a chunk's records are resolved with a few set-based
    /// reads, checked in memory by the rules of every delegation (their facts loaded once per chunk, and
    /// each record written is seen by the next), then written in bulk. A refused record is not written;
    /// the others still are, so that the records after it are checked as they would be once it is
    /// corrected; any refusal rolls the whole transaction back. Memory holds one chunk, whatever the push.
    /// </summary>
    private sealed class Run(Db db, DelegationWrites writes, Guid jobId, Guid delegatorId, DateOnly effectiveOn, double maxEndedShare, Action<int> progress)
    {
        private const int ChunkRecords = 1_000;
        private const int ChunkCommunes = 5_000;
        private readonly List<object?[]> sent = [];
        /// <summary>The external references seen, by a 128-bit hash: 16 bytes a record rather than the string.</summary>
        private readonly HashSet<UInt128> pushed = [];
        private int read, valid, created, changed, unchanged, ended;
        private readonly List<ImportError> errors = [];
        private List<EndingDelegation>? wouldEnd;
        public int ErrorCount { get; private set; }

        public void Reset()
        {
            pushed.Clear();
            sent.Clear();
            errors.Clear();
            wouldEnd = null;
            ErrorCount = read = valid = created = changed = unchanged = ended = 0;
        }

        /// <summary>Every refusal is counted; the first ones are listed.</summary>
        private void Refuse(ImportError error)
        {
            if (++ErrorCount <= MaxReportedErrors) errors.Add(error);
        }

        /// <summary>A refused push applied nothing: its report counts what was read and valid, and no write.</summary>
        public ImportReport Report(Guid id, PushDelegationsCommand command, ImportStatus status, DateTimeOffset started, DateTimeOffset finished) =>
            new(id, delegatorId, command.Mode, command.DryRun, status, command.ContentSha256,
                status == ImportStatus.REFUSED
                    ? new ImportCounts(read, valid, 0, 0, 0, 0)
                    : new ImportCounts(read, valid, created, changed, unchanged, ended),
                [.. errors], started, finished, false) { ErrorCount = ErrorCount, WouldEnd = wouldEnd };

        /// <summary>A line of the chunk: a record to apply, or why it is refused already.</summary>
        private sealed record Entry(int Line, PushRecord? Record, ImportError? Error);

        public async Task ApplyAsync(DbConnection c, DbTransaction tx, PushDelegationsCommand command, CancellationToken ct)
        {
            var delegator = await c.QuerySingleOrDefaultAsync<DelegatorRow>(db.Command(DelegatorSql, new { id = delegatorId }, ct, tx))
                ?? throw new RuleException("imports.unknown-delegator", $"{delegatorId} is not an organisation of the directory.");
            var batch = writes.Batch();
            var chunk = new List<Entry>();
            var communes = 0;
            await using var body = File.OpenRead(command.File);
            // Sized once from the body (a record takes at least about 100 bytes): grown by doubling, the set of a
            // 200,000-record push left 24 MB of arrays on the large object heap until the next full collection.
            pushed.EnsureCapacity((int)Math.Min(MaxRecords, body.Length / 100));
            await foreach (var line in PushRecords.ReadAsync(body, command.Format, ct))
            {
                if (++read % 1000 == 0) progress(read);
                if (read > MaxRecords)
                {
                    chunk.Add(new Entry(line.Line, null, new ImportError(line.Line, null, "imports.too-many-records", $"A push holds at most {MaxRecords:N0} records: split it.")));
                    break;
                }
                if (line.Record is not { } record)
                    chunk.Add(new Entry(line.Line, null, new ImportError(line.Line, null, line.ErrorType, line.Error!)));
                else if (record.ExternalRef is { } seen && !pushed.Add(Hash(seen)))
                    chunk.Add(new Entry(line.Line, null, new ImportError(line.Line, seen, "imports.duplicate-external-ref", $"'{seen}' appears twice in the push.")));
                else
                {
                    chunk.Add(new Entry(line.Line, record, null));
                    communes += record.Communes?.Count ?? 0;
                }
                if (chunk.Count >= ChunkRecords || communes >= ChunkCommunes)
                {
                    await ApplyChunkAsync(c, tx, chunk, delegator, batch, ct);
                    (chunk, communes) = ([], 0);
                }
            }
            await ApplyChunkAsync(c, tx, chunk, delegator, batch, ct);
            // An export job that wrote an empty file must not end every delegation of the département.
            if (command.Mode == PushMode.SNAPSHOT && read == 0 && !command.AllowEmpty)
                Refuse(new ImportError(0, null, "imports.empty-snapshot",
                    "The snapshot holds no record: applied, it would end every running delegation of "
                    + $"{string.Join(", ", command.Competences)}. If that is intended, push it again with allowEmpty=true."));
            if (command.Mode == PushMode.SNAPSHOT && ErrorCount == 0)
                await EndAbsentAsync(c, tx, command, batch, ct);
            await batch.FlushAsync(c, tx, ct);
            await batch.RecomputeMapAsync(c, tx, ct);
        }

        private async Task ApplyChunkAsync(DbConnection c, DbTransaction tx, List<Entry> chunk, DelegatorRow delegator, DelegationBatch batch, CancellationToken ct)
        {
            var records = chunk.Where(e => e.Record is not null).Select(e => e.Record!).ToList();
            var known = await Referential.LoadAsync(db, c, tx, delegatorId, records, ct);
            var proposals = chunk.Select(e => e.Record is { } r ? Propose(r, delegator, known) : null).ToList();
            var facts = await writes.Rules.FactsAsync(c, tx, delegatorId,
                [.. proposals.Where(p => p is { Proposal: not null, Unchanged: false }).Select(p => p!.Proposal!)], ct);
            for (var i = 0; i < chunk.Count; i++)
            {
                var (line, record, error) = chunk[i];
                if (error is not null) { Refuse(error); continue; }
                try
                {
                    var (p, current, unchangedRecord, refused) = proposals[i]!;
                    if (refused is not null) throw refused;
                    Guid id;
                    if (unchangedRecord)
                    {
                        id = current!.Id;
                        unchanged++;
                    }
                    else
                    {
                        writes.Rules.Check(p!, facts);
                        if (current is null)
                        {
                            id = batch.Create(p!, record!.ExternalRef);
                            created++;
                        }
                        else
                        {
                            id = current.Id;
                            batch.Change(current, p!.Communes, p.StartOn, p.EndOn, "Bulk push");
                            changed++;
                        }
                        facts.Accept(id, p!, current?.CommuneIds ?? []);
                    }
                    valid++;
                    sent.Add([jobId, line, record!.ExternalRef, id, record.StartOn, record.EndOn,
                        CommunesHash(unchangedRecord ? current!.CommuneIds : p!.Communes.Select(x => x.Id))]);
                }
                catch (ProblemException e) when (e.Status is 403 or 404 or 409 or 422)
                {
                    Refuse(new ImportError(line, record!.ExternalRef, e.Code, e.Message));
                }
            }
            await batch.FlushAsync(c, tx, ct);
            await FlushSentAsync(c, tx, ct);
        }

        /// <summary>What a record proposes, whether it changes anything, or the error that refuses it before any rule.</summary>
        private sealed record Proposed(DelegationProposal? Proposal, DelegationDto? Current, bool Unchanged, ProblemException? Refused);

        private Proposed Propose(PushRecord r, DelegatorRow delegator, Referential known)
        {
            try
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
                    throw new RuleException("imports.invalid-field",
                        string.Join(" ", invalid.Errors.Select(e => $"{JsonNamingPolicy.CamelCase.ConvertName(e.PropertyName)}: {e.ErrorMessage}")));

                // Each way of naming the delegate must name the same organisation: none silently wins over another.
                var named = new List<(string Field, Guid Id)>();
                if (r.DelegateId is { } given) named.Add(("delegateId", given));
                if (r.DelegateSiret is { } siret)
                    named.Add(("delegateSiret", known.BySiret.GetValueOrDefault(siret)
                        ?? throw new RuleException("imports.unknown-delegate", $"delegateSiret: no organisation has SIRET {siret}.")));
                if (r.DelegateCcasCommune is { } ccasCommune)
                    named.Add(("delegateCcasCommune", known.CcasOf.GetValueOrDefault(ccasCommune)
                        ?? throw new RuleException("imports.unknown-delegate", $"delegateCcasCommune: the commune '{ccasCommune}' has no CCAS in the directory.")));
                if (named.Select(n => n.Id).Distinct().Count() > 1)
                    throw new RuleException("imports.delegate-mismatch",
                        $"{string.Join(", ", named.Select(n => $"{n.Field} names {n.Id}"))}: they name different organisations. Give one of them.");
                var delegateId = named[0].Id;
                var conventionId = r.ConventionId ?? known.ConventionByReference.GetValueOrDefault(r.ConventionReference!)
                    ?? throw new RuleException("imports.unknown-convention", $"There is no convention with reference '{r.ConventionReference}'.");
                var territory = new List<CommuneRef>();
                foreach (var code in r.Communes!.Distinct(StringComparer.Ordinal))
                {
                    var commune = known.Communes.GetValueOrDefault(code) ?? throw new RuleException("imports.unknown-commune", $"'{code}' is not a current commune (INSEE code).");
                    // A département pushes for its own territory (the platform administrator for any delegator).
                    if (delegator.Kind == "DEPARTEMENT" && commune.DepartementCode != delegator.Code)
                        throw new RuleException("imports.outside-territory", $"{commune.Name} ({commune.Code}) is not in département {delegator.Code}.");
                    territory.Add(commune);
                }
                territory.Sort((a, b) => string.CompareOrdinal(a.Code, b.Code));

                if (known.Existing.GetValueOrDefault(r.ExternalRef!) is not { } current)
                    return new(new DelegationProposal(null, delegatorId, delegateId, r.Competence!, conventionId, territory, r.StartOn!.Value, r.EndOn!.Value),
                        null, false, null);
                if (current.DelegateId != delegateId || current.Competence != r.Competence || current.ConventionId != conventionId)
                    throw new RuleException("imports.identity-changed",
                        $"Delegation {current.Id} ('{r.ExternalRef}') has another delegate, competence or convention: those do not change. End it, and push the new one under a new external reference.");
                var same = current.StartOn == r.StartOn && current.EndOn == r.EndOn && current.CommuneIds.Order().SequenceEqual(territory.Select(x => x.Id).Order());
                return new(DelegationWrites.ProposalOf(current, territory, r.StartOn!.Value, r.EndOn!.Value), current, same, null);
            }
            catch (ProblemException e) when (e.Status is 403 or 404 or 409 or 422)
            {
                return new(null, null, false, e);
            }
        }

        private async Task FlushSentAsync(DbConnection c, DbTransaction tx, CancellationToken ct)
        {
            // What was sent, kept for reconciliation.
            await db.InsertRowsAsync(c, tx, "import_record", RecordColumns, RecordTypes, sent, ct);
            sent.Clear();
        }

        /// <summary>
        /// A snapshot is the complete list: a running delegation of those competences that it lacks ends the day before it
        /// takes effect. A truncated file would end what it lost: beyond the département's share of its running
        /// delegations, the snapshot is refused with the list, unless confirmEnded covers the count (allowEmpty for an empty one).
        /// </summary>
        private async Task EndAbsentAsync(DbConnection c, DbTransaction tx, PushDelegationsCommand command, DelegationBatch batch, CancellationToken ct)
        {
            var running = (await c.QueryAsync<RunningRow>(db.Command(RunningSql,
                new { delegatorId, competences = command.Competences.ToArray(), effectiveOn }, ct, tx))).ToList();
            var absentRows = running.Where(r => r.ExternalRef is null || !pushed.Contains(Hash(r.ExternalRef))).ToList();
            var confirmed = (command.AllowEmpty && read == 0) || absentRows.Count <= (command.ConfirmEnded ?? 0);
            if (absentRows.Count > running.Count * maxEndedShare && !confirmed)
            {
                wouldEnd = [.. absentRows.Take(MaxReportedErrors).Select(r => new EndingDelegation(r.Id, r.ExternalRef, r.CompetenceCode))];
                var named = string.Join(", ", absentRows.Take(10).Select(r => r.ExternalRef ?? r.Id.ToString()));
                Refuse(new ImportError(0, null, "imports.snapshot-ends-too-many",
                    $"This snapshot would end {absentRows.Count} of the {running.Count} running delegations of {string.Join(", ", command.Competences)}, "
                    + $"more than {maxEndedShare:P0} ({named}{(absentRows.Count > 10 ? ", …" : "")}; all in wouldEnd). "
                    + $"If that is intended, push it again with confirmEnded={absentRows.Count}."));
                return;
            }
            var absent = absentRows.Select(r => r.Id).ToList();
            foreach (var ids in absent.Chunk(ChunkRecords))
            {
                foreach (var current in await DelegationStore.LoadCurrentAsync(db, c, tx, ids, ct))
                {
                    var lastDay = current.StartOn >= effectiveOn ? current.StartOn.AddDays(-1) : effectiveOn.AddDays(-1);
                    batch.End(current, lastDay, $"Absent from the snapshot taking effect on {effectiveOn:yyyy-MM-dd}", DelegationChange.ENDED);
                    ended++;
                }
                await batch.FlushAsync(c, tx, ct);
            }
        }

        private static UInt128 Hash(string externalRef) =>
            System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(externalRef)));
    }

    /// <summary>What a chunk's records name, read with one query per kind: delegates, conventions, communes, the delegations they update.</summary>
    private sealed class Referential
    {
        public Dictionary<string, Guid?> BySiret { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, Guid?> CcasOf { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, Guid?> ConventionByReference { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, CommuneRef> Communes { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, DelegationDto> Existing { get; } = new(StringComparer.Ordinal);

        public static async Task<Referential> LoadAsync(Db db, DbConnection c, DbTransaction tx, Guid delegatorId, IReadOnlyList<PushRecord> records, CancellationToken ct)
        {
            var known = new Referential();
            foreach (var codes in Distinct(records.Select(r => r.DelegateSiret)).Chunk(500))
                foreach (var row in await c.QueryAsync<KeyRow>(db.Command(BySiretSql, new { codes }, ct, tx))) known.BySiret[row.Code] = row.Id;
            foreach (var codes in Distinct(records.Select(r => r.DelegateCcasCommune)).Chunk(500))
                foreach (var row in await c.QueryAsync<KeyRow>(db.Command(CcasOfCommunesSql, new { codes, active = true }, ct, tx))) known.CcasOf[row.Code] = row.Id;
            foreach (var codes in Distinct(records.Select(r => r.ConventionReference)).Chunk(500))
                foreach (var row in await c.QueryAsync<KeyRow>(db.Command(ConventionsByReferenceSql, new { codes }, ct, tx))) known.ConventionByReference[row.Code] = row.Id;
            foreach (var codes in Distinct(records.SelectMany(r => r.Communes ?? [])).Chunk(500))
                foreach (var commune in await c.QueryAsync<CommuneRef>(db.Command(CommunesSql, new { codes, active = true }, ct, tx))) known.Communes[commune.Code] = commune;
            foreach (var codes in Distinct(records.Select(r => r.ExternalRef)).Chunk(500))
            {
                var ids = (await c.QueryAsync<Guid>(db.Command(ByExternalRefsSql, new { delegatorId, codes }, ct, tx))).ToList();
                foreach (var current in await DelegationStore.LoadCurrentAsync(db, c, tx, ids, ct)) known.Existing[current.ExternalRef!] = current;
            }
            return known;
        }

        private static List<string> Distinct(IEnumerable<string?> values) => [.. values.OfType<string>().Distinct(StringComparer.Ordinal)];

        private sealed class KeyRow { public string Code { get; init; } = ""; public Guid Id { get; init; } }
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
    private sealed class RunningRow { public Guid Id { get; init; } public string? ExternalRef { get; init; } public string CompetenceCode { get; init; } = ""; }

    private const string DelegatorSql = "SELECT id, kind, code FROM organisation WHERE id = @id";
    private const string ConventionsByReferenceSql = "SELECT reference AS code, id FROM convention WHERE reference {in:codes}";
    private const string ByExternalRefsSql = "SELECT id FROM delegation WHERE delegator_id = @delegatorId AND external_ref {in:codes}";
    private const string BySiretSql = "SELECT siret AS code, id FROM organisation WHERE siret {in:codes}";
    private const string CcasOfCommunesSql = """
        SELECT c.code, ccas.id FROM organisation ccas JOIN organisation c ON c.id = ccas.commune_id
        WHERE ccas.kind = 'CCAS' AND ccas.is_active = @active AND c.kind = 'COMMUNE' AND c.code {in:codes}
        """;
    private const string CommunesSql = """
        SELECT o.id, o.code, o.name, o.departement_code, o.is_active FROM organisation o
        WHERE o.kind = 'COMMUNE' AND o.code {in:codes} AND o.is_active = @active
        """;
    private const string RunningSql = """
        SELECT id, external_ref, competence_code FROM delegation
        WHERE delegator_id = @delegatorId AND competence_code {in:competences} AND end_on >= @effectiveOn AND start_on <= end_on
        ORDER BY id
        """;
    private const string CommittedSql = """
        SELECT after_state FROM audit_event WHERE resource_type = 'import' AND resource_id = @id AND action = 'import.completed'
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
