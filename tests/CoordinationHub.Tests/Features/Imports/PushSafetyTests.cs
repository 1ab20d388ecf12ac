using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using CoordinationHub.Features.Imports;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Features.Imports;

/// <summary>What goes wrong in real nightly feeds (#25): empty or truncated files, Excel's files, files sent twice, crashes.</summary>
public abstract partial class PushTests
{
    private async Task<long> RunningOf(Guid delegator, DateOnly on)
    {
        await using var c = await Fx.Db.OpenAsync(default);
        return await c.ExecuteScalarAsync<long>(Fx.Db.Command(
            "SELECT COUNT(*) FROM delegation WHERE delegator_id = @delegator AND end_on >= @on AND start_on <= end_on", new { delegator, on }, default));
    }

    /// <summary>Ten RSA delegations, one a commune (XX002 to XX011).</summary>
    private async Task<Setup> TenRunningAsync(string departement)
    {
        var s = await SetUpAsync(departement, departement + "001");
        await Push(s.Client, Ndjson([.. Enumerable.Range(2, 10).Select(i => Record(s, $"CD{departement}-{i}", "RSA_INSTRUCTION", [$"{departement}{i:000}"]))])).Ok();
        return s;
    }

    private async Task<JsonElement> ReportOf(HttpResponseMessage refused, string type) =>
        (await refused.Problem(HttpStatusCode.UnprocessableEntity, type)).GetProperty("report");

    [Fact]
    public async Task An_empty_snapshot_is_refused_and_ends_nothing_unless_allowEmpty_is_given()
    {
        var s = await TenRunningAsync("30");
        const string snapshot = "?mode=SNAPSHOT&competences=RSA_INSTRUCTION&effectiveOn=2026-06-01";
        foreach (var (body, type) in new[] { (PushRecords.CsvHeader + "\n", "text/csv"), ("", "application/x-ndjson"), ("[]", "application/json") })
        {
            var report = await ReportOf(await Push(s.Client, body, type, snapshot), "imports.empty-snapshot");
            Assert.Equal(0, report.GetProperty("counts").GetProperty("ended").GetInt32());
            Assert.Contains("allowEmpty=true", report.GetProperty("errors")[0].GetProperty("message").GetString());
        }
        var dry = await Push(s.Client, "", query: snapshot + "&dryRun=true");
        await ReportOf(dry, "imports.empty-snapshot");
        Assert.Equal(10, await RunningOf(s.Departement.Id, new(2026, 6, 1)));

        var allowed = await (await Push(s.Client, "", query: snapshot + "&allowEmpty=true").Ok()).Read<ImportReport>();
        Assert.Equal((ImportStatus.APPLIED, 10), (allowed.Status, allowed.Counts.Ended));
        Assert.Equal(0, await RunningOf(s.Departement.Id, new(2026, 6, 1)));
    }

    [Fact]
    public async Task A_snapshot_ending_more_than_the_share_is_refused_with_the_count_and_the_list_unless_confirmEnded_covers_them()
    {
        var s = await TenRunningAsync("31");
        const string snapshot = "?mode=SNAPSHOT&competences=RSA_INSTRUCTION&effectiveOn=2026-06-01";
        // A truncated file: 7 of the 10 lines, 3 endings (30 %).
        var truncated = Ndjson([.. Enumerable.Range(2, 7).Select(i => Record(s, $"CD31-{i}", "RSA_INSTRUCTION", [$"31{i:000}"]))]);
        var refused = await Push(s.Client, truncated, query: snapshot);
        var problem = await refused.Problem(HttpStatusCode.UnprocessableEntity, "imports.snapshot-ends-too-many");
        Assert.Contains("3 of the 10", problem.GetProperty("detail").GetString());
        Assert.Contains("confirmEnded=3", problem.GetProperty("detail").GetString());
        var report = problem.GetProperty("report");
        Assert.Equal(["CD31-10", "CD31-11", "CD31-9"],
            report.GetProperty("wouldEnd").EnumerateArray().Select(e => e.GetProperty("externalRef").GetString()!).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal((0, 0), (report.GetProperty("counts").GetProperty("ended").GetInt32(), report.GetProperty("counts").GetProperty("unchanged").GetInt32()));
        Assert.Equal(10, await RunningOf(s.Departement.Id, new(2026, 6, 1)));

        // Confirming fewer than the count is not confirming.
        await ReportOf(await Push(s.Client, truncated, query: snapshot + "&confirmEnded=2"), "imports.snapshot-ends-too-many");
        // Two endings of ten (20 %) need no confirmation; three confirmed apply.
        var two = Ndjson([.. Enumerable.Range(2, 8).Select(i => Record(s, $"CD31-{i}", "RSA_INSTRUCTION", [$"31{i:000}"]))]);
        var dry = await (await Push(s.Client, two, query: snapshot + "&dryRun=true").Ok()).Read<ImportReport>();
        Assert.Equal((ImportStatus.VALIDATED, 2), (dry.Status, dry.Counts.Ended));
        var confirmed = await (await Push(s.Client, truncated, query: snapshot + "&confirmEnded=3").Ok()).Read<ImportReport>();
        Assert.Equal((ImportStatus.APPLIED, 3, 7), (confirmed.Status, confirmed.Counts.Ended, confirmed.Counts.Unchanged));
        Assert.Equal(7, await RunningOf(s.Departement.Id, new(2026, 6, 1)));
    }

    [Fact]
    public async Task A_departement_may_have_its_own_share_of_endings()
    {
        var departement = await Departement("31");
        var options = Microsoft.Extensions.Options.Options.Create(new ImportOptions { SnapshotMaxEndedShareByDepartement = { ["31"] = 0.05 } });
        var safety = new ImportSafety(Fx.Db, options);
        Assert.Equal(0.05, await safety.MaxEndedShareAsync(departement.Id, default));
        Assert.Equal(0.20, await safety.MaxEndedShareAsync((await Departement("07")).Id, default));
    }

    [Fact]
    public async Task An_empty_upsert_changes_nothing_and_is_not_the_last_push_reconciliation_compares_against()
    {
        var s = await SetUpAsync("33", "33001");
        var first = await (await Push(s.Client, Ndjson(Record(s, "CD33-1", "RSA_INSTRUCTION", ["33002"]))).Ok()).Read<ImportReport>();
        var empty = await (await Push(s.Client, "").Ok()).Read<ImportReport>();
        Assert.Equal((ImportStatus.APPLIED, 0, 0), (empty.Status, empty.Counts.Read, empty.Counts.Ended));
        var r = await (await s.Client.GetAsync("/v1/imports/reconciliation?departement=33").Ok()).Json();
        Assert.Equal(first.Id, r.GetProperty("lastPushId").GetGuid());
    }

    [Fact]
    public async Task A_snapshot_naming_a_competence_outside_the_catalogue_is_refused_with_the_allowed_codes_before_anything_is_queued()
    {
        var s = await SetUpAsync("34", "34001");
        var problem = await (await Push(s.Client, Ndjson(Record(s, "CD34-1", "RSA_INSTRUCTION", ["34002"])),
            query: "?mode=SNAPSHOT&competences=RSA_INSTRUCTON")).Problem(HttpStatusCode.BadRequest, "imports.unknown-competences");
        Assert.Contains("'RSA_INSTRUCTON'", problem.GetProperty("detail").GetString());
        Assert.Contains("RSA_INSTRUCTION,", problem.GetProperty("detail").GetString());
        await (await Push(s.Client, LargePush(s, "CD34", ["34002", "34003", "34004"]), query: "?mode=SNAPSHOT&competences=RSA_INSTRUCTION,APA_INSTRUCTON"))
            .Problem(HttpStatusCode.BadRequest, "imports.unknown-competences");
        Assert.Equal(0, await DelegationsOf(s.Departement.Id));
    }

    [Fact]
    public async Task A_null_commune_is_a_refused_record_never_a_500_nor_a_crashed_job()
    {
        var s = await SetUpAsync("44", "44001");
        const string nullCommune = "{\"externalRef\":\"CD44-N\",\"competence\":\"RSA_INSTRUCTION\",\"delegateCcasCommune\":\"44001\",\"communes\":[null],"
            + "\"startOn\":\"2026-02-01\",\"endOn\":\"2026-12-31\",\"conventionReference\":\"X\"}\n";
        var report = await ReportOf(await Push(s.Client, nullCommune), "imports.refused");
        var error = report.GetProperty("errors")[0];
        Assert.Equal("imports.invalid-field", error.GetProperty("type").GetString());
        Assert.Contains("communes[0]", error.GetProperty("message").GetString());

        // As a job: refused with its line, after one attempt.
        var job = await (await Push(s.Client, LargePush(s, "CD44", ["44002", "44003", "44005"]) + nullCommune).Ok(HttpStatusCode.Accepted)).Read<ImportReport>();
        var done = await FinishedAsync(s.Client, job.Id);
        Assert.Equal((ImportStatus.REFUSED, 401, "imports.invalid-field"), (done.Status, done.Errors.Single().Line, done.Errors.Single().Type));
    }

    private ImportSafety Safety => Fx.Services.GetRequiredService<ImportSafety>();

    /// <summary>Stands for kill -9 of the worker at <paramref name="instant"/>, the first time only.</summary>
    private TaskCompletionSource KillOnceAt(string instant)
    {
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Safety.Hook = (at, _) =>
        {
            if (at != instant || killed.Task.IsCompleted) return Task.CompletedTask;
            killed.SetResult();
            throw new ImportSafety.ProcessKilled();
        };
        return killed;
    }

    private async Task<long> SentRecordsOf(Guid job)
    {
        await using var c = await Fx.Db.OpenAsync(default);
        return await c.ExecuteScalarAsync<long>(Fx.Db.Command("SELECT COUNT(*) FROM import_record WHERE job_id = @job", new { job }, default));
    }

    [Fact]
    public async Task A_job_killed_right_after_its_commit_reads_APPLIED_with_its_counts_and_a_retry_recognises_its_completed_work()
    {
        var s = await SetUpAsync("36", "36001");
        var killed = KillOnceAt(ImportSafety.Committed);
        try
        {
            var job = await (await Push(s.Client, LargePush(s, "CD36", ["36002", "36003", "36004"])).Ok(HttpStatusCode.Accepted)).Read<ImportReport>();
            await killed.Task.WaitAsync(TimeSpan.FromSeconds(60));
            var report = await FinishedAsync(s.Client, job.Id);
            Assert.Equal((ImportStatus.APPLIED, 400), (report.Status, report.Counts.Created));
            // Past the lease, nothing takes it again: the data is there once, and so is what reconciliation reads.
            Fx.Clock.Set(TestClock.Today + ImportWorker.Lease + TimeSpan.FromSeconds(1));
            await Task.Delay(ImportWorker.PollEvery * 3);
            var later = await (await s.Client.GetAsync($"/v1/imports/{job.Id}").Ok()).Read<ImportReport>();
            Assert.Equal((ImportStatus.APPLIED, 400), (later.Status, later.Counts.Created));
            Assert.Equal((400, 400), (await DelegationsOf(s.Departement.Id), await SentRecordsOf(job.Id)));

            // What an earlier version left after the same kill: the push committed, the job RUNNING without its report.
            // Taken again, it recognises its work and ends APPLIED with the original counts (it used to fail on a duplicate key for ever).
            await using (var c = await Fx.Db.OpenAsync(default))
                await c.ExecuteAsync(Fx.Db.Command(
                    "UPDATE import_job SET status = 'RUNNING', report = NULL, finished_at = NULL, lease_until = @lapsed, body_file = @file WHERE id = @id",
                    new { id = job.Id, lapsed = TestClock.Today, file = Path.Combine(Fx.Db.DataDirectory, "imports", job.Id.ToString("N")) }, default));
            var recognised = await FinishedAsync(s.Client, job.Id);
            Assert.Equal((ImportStatus.APPLIED, 400), (recognised.Status, recognised.Counts.Created));
            Assert.Equal((400, 400), (await DelegationsOf(s.Departement.Id), await SentRecordsOf(job.Id)));
        }
        finally
        {
            Safety.Hook = null;
            Fx.Clock.Reset();
        }
    }

    [Fact]
    public async Task A_job_killed_while_writing_its_status_applied_nothing_shows_its_last_heartbeat_and_its_next_attempt_applies_it_once()
    {
        var s = await SetUpAsync("37", "37001");
        var killed = KillOnceAt(ImportSafety.WritingStatus);
        try
        {
            var job = await (await Push(s.Client, LargePush(s, "CD37", ["37002", "37003", "37004"])).Ok(HttpStatusCode.Accepted)).Read<ImportReport>();
            await killed.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await Task.Delay(200);
            // The status was written in the push's transaction, which died with it: RUNNING, its heartbeat stopped.
            var dead = await (await s.Client.GetAsync($"/v1/imports/{job.Id}").Ok()).Read<ImportReport>();
            Assert.Equal((ImportStatus.RUNNING, 1, 3), (dead.Status, dead.Attempt, dead.MaxAttempts));
            Assert.NotNull(dead.LastHeartbeatAt);
            Assert.Equal(0, await DelegationsOf(s.Departement.Id));

            // Seconds later (the lease, not two minutes) the client can tell, and another attempt takes it.
            Fx.Clock.Set(dead.LastHeartbeatAt!.Value + ImportWorker.Lease + TimeSpan.FromSeconds(1));
            Assert.True(Fx.Clock.GetUtcNow() - dead.LastHeartbeatAt > ImportWorker.Lease);
            var report = await FinishedAsync(s.Client, job.Id);
            Assert.Equal((ImportStatus.APPLIED, 400), (report.Status, report.Counts.Created));
            Assert.Equal((400, 400), (await DelegationsOf(s.Departement.Id), await SentRecordsOf(job.Id)));
        }
        finally
        {
            Safety.Hook = null;
            Fx.Clock.Reset();
        }
    }

    [Fact]
    public async Task A_job_that_keeps_failing_announces_each_retry_and_ends_FAILED_with_the_reason_after_its_attempts()
    {
        var s = await SetUpAsync("43", "43001");
        ImportReport? duringSecond = null;
        Safety.Hook = async (at, job) =>
        {
            if (at != ImportSafety.Applying) return;
            var seen = await (await s.Client.GetAsync($"/v1/imports/{job}").Ok()).Read<ImportReport>();
            if (seen.Attempt == 2) duringSecond = seen;
            throw new IOException("the disk is full");
        };
        try
        {
            var job = await (await Push(s.Client, LargePush(s, "CD43", ["43002", "43003", "43004"])).Ok(HttpStatusCode.Accepted)).Read<ImportReport>();
            var report = await FinishedAsync(s.Client, job.Id);
            Assert.Equal((ImportStatus.FAILED, 3, 3), (report.Status, report.Attempt, report.MaxAttempts));
            Assert.Contains("the disk is full", report.FailureReason);
            Assert.NotNull(duringSecond);
            Assert.Equal(ImportStatus.RUNNING, duringSecond!.Status);
            Assert.StartsWith("Attempt 1 failed", duringSecond.FailureReason);
            Assert.Equal(0, await DelegationsOf(s.Departement.Id));
        }
        finally
        {
            Safety.Hook = null;
        }
    }

    [Fact]
    public async Task An_earlier_file_sent_again_without_a_key_is_applied_again_and_only_a_repeated_Idempotency_Key_replays()
    {
        var s = await SetUpAsync("47", "47001");
        var a = Ndjson(Record(s, "CD47-1", "RSA_INSTRUCTION", ["47002"], end: "2027-12-31"));
        var b = Ndjson(Record(s, "CD47-1", "RSA_INSTRUCTION", ["47002"], end: "2026-12-31"));
        var first = await (await Push(s.Client, a, idempotencyKey: "nightly-A").Ok()).Read<ImportReport>();
        await Push(s.Client, b).Ok();
        // The client's retry of its first request: the first answer, nothing applied.
        var retried = await Push(s.Client, a, idempotencyKey: "nightly-A").Ok();
        Assert.Equal("true", retried.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(first.Id, (await retried.Read<ImportReport>()).Id);
        Assert.Equal(s.Departement.Id, Responsible(await Map("47002", "RSA_INSTRUCTION", new(2027, 6, 1))));
        // The earlier file sent again, without a key: the département holds A again.
        var again = await (await Push(s.Client, a).Ok()).Read<ImportReport>();
        Assert.Equal((ImportStatus.APPLIED, 1, false), (again.Status, again.Counts.Changed, again.Replayed));
        Assert.Equal(s.Ccas.Id, Responsible(await Map("47002", "RSA_INSTRUCTION", new(2027, 6, 1))));
        var same = await (await Push(s.Client, a).Ok()).Read<ImportReport>();
        Assert.Equal((0, 1), (same.Counts.Changed, same.Counts.Unchanged));
    }

    [Fact]
    public async Task A_job_sent_with_an_Idempotency_Key_is_answered_202_while_another_push_holds_the_writer()
    {
        var s = await SetUpAsync("51", "51001");
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Guid? held = null;
        // The first push stops inside its transaction (on SQLite: the writer) until the second is answered.
        Safety.Hook = async (at, job) =>
        {
            if (at != ImportSafety.WritingStatus || held is not null && held != job) return;
            held = job;
            holding.TrySetResult();
            await release.Task;
        };
        try
        {
            var first = await (await Push(s.Client, LargePush(s, "CD51A", ["51002", "51003", "51004"])).Ok(HttpStatusCode.Accepted)).Read<ImportReport>();
            await holding.Task.WaitAsync(TimeSpan.FromSeconds(60));
            var started = System.Diagnostics.Stopwatch.StartNew();
            var second = Push(s.Client, LargePush(s, "CD51B", ["51005", "51002", "51003"]).Replace("2026-", "2027-"), idempotencyKey: "nightly-51");
            var answered = await Task.WhenAny(second, Task.Delay(TimeSpan.FromSeconds(30))) == second;
            var waited = started.Elapsed;
            release.TrySetResult();
            Assert.True(answered && waited < TimeSpan.FromSeconds(2), $"the 202 came after {waited.TotalSeconds:F1} s, behind the running push");
            var queued = await (await second).Read<ImportReport>();
            Assert.Equal(ImportStatus.QUEUED, queued.Status);
            foreach (var job in new[] { first.Id, queued.Id })
            {
                var report = await FinishedAsync(s.Client, job);
                Assert.Equal((ImportStatus.APPLIED, 400), (report.Status, report.Counts.Created));
            }
            // The key replays the 202 of the queued job.
            var replay = await Push(s.Client, LargePush(s, "CD51B", ["51005", "51002", "51003"]).Replace("2026-", "2027-"), idempotencyKey: "nightly-51")
                .Ok(HttpStatusCode.Accepted);
            Assert.Equal(queued.Id, (await replay.Read<ImportReport>()).Id);
            Assert.Equal(800, await DelegationsOf(s.Departement.Id));
        }
        finally
        {
            release.TrySetResult();
            Safety.Hook = null;
        }
    }

    [Fact]
    public async Task A_refused_report_lists_the_first_errors_counts_them_all_and_counts_no_write()
    {
        var s = await SetUpAsync("41", "41001");
        var body = Ndjson(Record(s, "CD41-1", "RSA_INSTRUCTION", ["41002"])) + string.Concat(Enumerable.Repeat("x\n", PushDelegationsHandler.MaxReportedErrors + 1));
        var problem = await (await Push(s.Client, body)).Problem(HttpStatusCode.UnprocessableEntity, "imports.refused");
        var report = problem.GetProperty("report");
        Assert.Equal(PushDelegationsHandler.MaxReportedErrors, report.GetProperty("errors").GetArrayLength());
        Assert.Equal(PushDelegationsHandler.MaxReportedErrors + 1, report.GetProperty("errorCount").GetInt32());
        Assert.Contains($"{PushDelegationsHandler.MaxReportedErrors + 1} of", problem.GetProperty("detail").GetString());
        var counts = report.GetProperty("counts");
        Assert.Equal((0, 0, 0, 0), (counts.GetProperty("created").GetInt32(), counts.GetProperty("changed").GetInt32(),
            counts.GetProperty("unchanged").GetInt32(), counts.GetProperty("ended").GetInt32()));
        Assert.Equal(0, await DelegationsOf(s.Departement.Id));
    }

    [Fact]
    public async Task Messages_name_the_field_and_what_it_takes_and_two_delegates_that_disagree_are_refused()
    {
        var s = await SetUpAsync("35", "35001");
        var other = await CcasParty("35002");
        var typo = "{\"externalRef\":\"CD35-T\",\"competence\":5}\n";
        var errors = (await ReportOf(await Push(s.Client, typo + JsonSerializer.Serialize(new
        {
            externalRef = "CD35-D", competence = "RSA_INSTRUCTION", delegateId = other.Id, delegateCcasCommune = "35001",
            communes = new[] { "35003" }, startOn = "2026-02-01", endOn = "2026-12-31", conventionId = s.Convention,
        }, ApiFixture.Json) + "\n"), "imports.refused")).GetProperty("errors");
        Assert.Equal("competence: not a competence code (string) as expected.", errors[0].GetProperty("message").GetString());
        Assert.Equal("imports.delegate-mismatch", errors[1].GetProperty("type").GetString());
        Assert.Contains("delegateCcasCommune", errors[1].GetProperty("message").GetString());

        var quotedHeader = string.Join(';', PushRecords.CsvColumns.Select(c => $"\"{c}\"")) + "\n"
            + $"CD35-Q;RSA_INSTRUCTION;;;35001;35004;2026-02-01;2026-12-31;{s.Convention};\n"
            + $"\"CD35-U;RSA_INSTRUCTION;;;35001;35005;2026-02-01;2026-12-31;{s.Convention};\n";
        var csvErrors = (await ReportOf(await Push(s.Client, quotedHeader, "text/csv"), "imports.refused")).GetProperty("errors");
        Assert.Equal(3, csvErrors.EnumerateArray().Single().GetProperty("line").GetInt32());
        Assert.Contains("is not closed", csvErrors.EnumerateArray().Single().GetProperty("message").GetString());

        var unsupported = await (await Push(s.Client, "x", "application/xml")).Problem(HttpStatusCode.UnsupportedMediaType);
        foreach (var type in new[] { "application/x-ndjson", "application/json", "text/csv", "windows-1252" })
            Assert.Contains(type, unsupported.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Latin1_and_Windows1252_files_are_read_as_declared_and_invalid_UTF8_without_a_charset_is_refused_with_its_line_and_a_hint()
    {
        var s = await SetUpAsync("39", "39001");
        string Line(string reference, string commune) => $"{reference};RSA_INSTRUCTION;;;39001;{commune};2026-02-01;2026-12-31;{s.Convention};\r\n";
        var latin1 = Encoding.Latin1.GetBytes(PushRecords.CsvHeader + "\r\n" + Line("CD39-Élan", "39002"));
        var refused = (await ReportOf(await PushBytes(s.Client, latin1, "text/csv"), "imports.refused")).GetProperty("errors").EnumerateArray().Single();
        Assert.Equal(2, refused.GetProperty("line").GetInt32());
        Assert.Contains("charset=windows-1252", refused.GetProperty("message").GetString());

        await PushBytes(s.Client, latin1, "text/csv; charset=iso-8859-1").Ok();
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var cp1252 = Encoding.GetEncoding(1252).GetBytes(PushRecords.CsvHeader + "\r\n" + Line("CD39-Œuvre", "39003"));
        await PushBytes(s.Client, cp1252, "text/csv; charset=windows-1252").Ok();
        // A different reference is another delegation, never a change of the first.
        var bom = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(
            string.Join(',', PushRecords.CsvColumns) + "\r\n" + Line("CD39-Èlan", "39004").Replace(';', ','))).ToArray();
        var commas = await (await PushBytes(s.Client, bom, "text/csv; charset=utf-8").Ok()).Read<ImportReport>();
        Assert.Equal(1, commas.Counts.Created);
        foreach (var reference in new[] { "CD39-Élan", "CD39-Œuvre", "CD39-Èlan" })
            Assert.Equal(1, (await (await s.Client.GetAsync($"/v1/delegations?externalRef={Uri.EscapeDataString(reference)}").Ok()).Json())
                .GetProperty("items").GetArrayLength());
        await (await PushBytes(s.Client, latin1, "text/csv; charset=ebcdic")).Problem(HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task Every_delegation_exports_a_reference_that_pushes_back_unchanged_and_formulas_are_neutralised()
    {
        var s = await SetUpAsync("40", "40001");
        var hand = await (await s.Client.PostJson("/v1/delegations", Delegation(s.Departement, s.Ccas, "APA_INSTRUCTION", s.Convention,
            new { communeIds = new[] { (await Commune("40002")).Id } }, Jan2026, new(2027, 12, 31))).Ok(HttpStatusCode.Created))
            .Read<CoordinationHub.Features.Delegations.DelegationDto>();
        Assert.Equal($"CH-{hand.Id}", hand.ExternalRef);
        await Push(s.Client, Ndjson(Record(s, "=HYPERLINK(\"http://x\";\"y\")", "RSA_INSTRUCTION", ["40003"]))).Ok();

        var csv = await (await s.Client.GetAsync("/v1/competence-map/export?departement=40&date=2026-06-01&layout=push").Ok()).Content.ReadAsStringAsync();
        Assert.Contains($"\nCH-{hand.Id};APA_INSTRUCTION;", csv);
        Assert.Contains("\n\"'=HYPERLINK(\"\"http://x\"\";\"\"y\"\")\";RSA_INSTRUCTION;", csv);
        var back = await (await Push(s.Client, csv, "text/csv", "?mode=SNAPSHOT&competences=RSA_INSTRUCTION,APA_INSTRUCTION&effectiveOn=2026-06-01").Ok())
            .Read<ImportReport>();
        Assert.Equal((2, 0, 0, 2, 0), (back.Counts.Read, back.Counts.Created, back.Counts.Changed, back.Counts.Unchanged, back.Counts.Ended));

        // References a line break would split, or that are blank or padded, are refused.
        var errors = (await ReportOf(await Push(s.Client, Ndjson(
            Record(s, "CD40\rGHOST", "RSA_INSTRUCTION", ["40004"]), Record(s, "CD40\nB", "RSA_INSTRUCTION", ["40005"]),
            Record(s, "", "RSA_INSTRUCTION", ["40006"]), Record(s, " CD40-P ", "RSA_INSTRUCTION", ["40007"]))), "imports.refused")).GetProperty("errors");
        Assert.Equal([1, 2, 3, 4], errors.EnumerateArray().Select(e => e.GetProperty("line").GetInt32()).ToArray());
        Assert.All(errors.EnumerateArray(), e => Assert.Contains("externalRef", e.GetProperty("message").GetString()));
        await (await s.Client.PostJson("/v1/delegations", Delegation(s.Departement, s.Ccas, "APA_INSTRUCTION", s.Convention,
            new { communeIds = new[] { (await Commune("40008")).Id } }, Jan2026, new(2027, 12, 31), externalRef: "two\nlines")))
            .Problem(HttpStatusCode.BadRequest);
    }
}
