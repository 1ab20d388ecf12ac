using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using CoordinationHub.Features.Imports;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Tests.Features.Delegations;
using Dapper;

namespace CoordinationHub.Tests.Features.Imports;

/// <summary>A département's system pushes its delegations: each test on a département of its own.</summary>
public abstract partial class PushTests(ApiFixture fx) : PushTestBase(fx)
{
    [Fact]
    public async Task An_upsert_creates_then_changes_by_external_reference_and_the_same_content_again_changes_nothing()
    {
        var s = await SetUpAsync("07", "07001");
        var body = Ndjson(Record(s, "CD07-RSA-1", "RSA_INSTRUCTION", ["07002", "07003"]), Record(s, "CD07-APA-1", "APA_INSTRUCTION", ["07004"]));
        var first = await (await Push(s.Client, body).Ok()).Read<ImportReport>();
        Assert.Equal((ImportStatus.APPLIED, 2, 2, 0, 0, false), (first.Status, first.Counts.Read, first.Counts.Created, first.Counts.Changed, first.Counts.Ended, first.Replayed));
        Assert.Equal(s.Ccas.Id, Responsible(await Map("07002", "RSA_INSTRUCTION", new(2026, 6, 1))));
        await using (var c = await Fx.Db.OpenAsync(default))
            foreach (var table in new[] { "audit_event a", "outbox_event a" })
                Assert.Equal(2, await c.ExecuteScalarAsync<long>(Fx.Db.Command($"""
                    SELECT COUNT(*) FROM {table} JOIN delegation d ON d.id = a.resource_id
                    WHERE d.delegator_id = @delegator AND {(table.StartsWith("audit") ? "a.action" : "a.event_type")} = 'delegation.created'
                    """, new { delegator = s.Departement.Id }, default)));

        // The nightly file sent twice: applied again, and nothing differs.
        var again = await (await Push(s.Client, body).Ok()).Read<ImportReport>();
        Assert.NotEqual(first.Id, again.Id);
        Assert.Equal((ImportStatus.APPLIED, 0, 0, 2, false), (again.Status, again.Counts.Created, again.Counts.Changed, again.Counts.Unchanged, again.Replayed));
        Assert.Equal(2, await DelegationsOf(s.Departement.Id));

        // One record changes its period: one changed, one unchanged, a new version of the same delegation.
        var changed = await (await Push(s.Client, Ndjson(Record(s, "CD07-RSA-1", "RSA_INSTRUCTION", ["07002", "07003"], end: "2026-12-31"),
            Record(s, "CD07-APA-1", "APA_INSTRUCTION", ["07004"]))).Ok()).Read<ImportReport>();
        Assert.Equal((2, 0, 1, 1), (changed.Counts.Read, changed.Counts.Created, changed.Counts.Changed, changed.Counts.Unchanged));
        Assert.Equal(s.Departement.Id, Responsible(await Map("07002", "RSA_INSTRUCTION", new(2027, 6, 1))));
        Assert.Equal(2, await DelegationsOf(s.Departement.Id));

        var job = await (await s.Client.GetAsync($"/v1/imports/{changed.Id}").Ok()).Read<ImportReport>();
        Assert.Equal(changed.Counts, job.Counts);
        await (await (await CcasParty("07001")).Client(Fx).GetAsync($"/v1/imports/{changed.Id}")).Problem(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_snapshot_ends_the_delegations_it_no_longer_lists_the_day_before_it_takes_effect_and_never_deletes_them()
    {
        var s = await SetUpAsync("08", "08001");
        await Push(s.Client, Ndjson(Record(s, "CD08-RSA-1", "RSA_INSTRUCTION", ["08003"]), Record(s, "CD08-RSA-2", "RSA_INSTRUCTION", ["08004"]),
            Record(s, "CD08-APA-1", "APA_INSTRUCTION", ["08005"]))).Ok();

        var report = await (await Push(s.Client, Ndjson(Record(s, "CD08-RSA-1", "RSA_INSTRUCTION", ["08003"])),
            query: "?mode=SNAPSHOT&competences=RSA_INSTRUCTION&effectiveOn=2026-09-01&confirmEnded=1").Ok()).Read<ImportReport>();
        Assert.Equal((1, 0, 0, 1, 1), (report.Counts.Read, report.Counts.Created, report.Counts.Changed, report.Counts.Unchanged, report.Counts.Ended));
        Assert.Equal(s.Ccas.Id, Responsible(await Map("08004", "RSA_INSTRUCTION", new(2026, 8, 31))));
        Assert.Equal(s.Departement.Id, Responsible(await Map("08004", "RSA_INSTRUCTION", new(2026, 9, 1))));
        // Another competence is not part of the snapshot: untouched. Nothing is deleted.
        Assert.Equal(s.Ccas.Id, Responsible(await Map("08005", "APA_INSTRUCTION", new(2026, 9, 1))));
        Assert.Equal(3, await DelegationsOf(s.Departement.Id));
        await (await Push(s.Client, "", query: "?mode=SNAPSHOT")).Problem(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task One_bad_record_among_many_refuses_the_whole_push_with_every_refused_line_and_a_dry_run_applies_nothing()
    {
        var s = await SetUpAsync("10", "10002");
        var communes = new[] { "10003", "10004", "10005" };
        var records = Enumerable.Range(0, 300).Select(i => Record(s, $"CD10-{i}", i % 2 == 0 ? "RSA_INSTRUCTION" : "APA_INSTRUCTION", [communes[i % 3]],
            start: new DateOnly(2026, 1, 1).AddDays(i * 2).ToString("yyyy-MM-dd"), end: new DateOnly(2026, 1, 1).AddDays(i * 2 + 1).ToString("yyyy-MM-dd"))).ToList();
        records[150] = Record(s, "CD10-150", "RSA_INSTRUCTION", ["03001"]);  // Abrest is in Allier
        var lines = Ndjson([.. records]).Split('\n').ToList();
        lines[200] = "{\"externalRef\": \"CD10-200\", \"competence\": ";  // cut in the middle
        lines[250] = lines[250].Replace("\"externalRef\"", "\"nickname\":\"x\",\"externalRef\"");  // a field we do not know

        var refused = await (await Push(s.Client, string.Join('\n', lines))).Problem(HttpStatusCode.UnprocessableEntity, "imports.refused");
        var errors = refused.GetProperty("report").GetProperty("errors").EnumerateArray()
            .Select(e => (e.GetProperty("line").GetInt32(), e.GetProperty("type").GetString())).ToList();
        Assert.Equal([(151, "imports.outside-territory"), (201, "imports.malformed-record"), (251, "imports.malformed-record")], errors);
        Assert.Equal(0, await DelegationsOf(s.Departement.Id));

        records.RemoveAt(150);
        var dry = await (await Push(s.Client, Ndjson([.. records]), query: "?dryRun=true").Ok()).Read<ImportReport>();
        Assert.Equal((ImportStatus.VALIDATED, 299, 299), (dry.Status, dry.Counts.Valid, dry.Counts.Created));
        Assert.Equal(0, await DelegationsOf(s.Departement.Id));
        Assert.Equal(s.Departement.Id, Responsible(await Map("10003", "RSA_INSTRUCTION", new(2026, 1, 1))));
    }

    [Fact]
    public async Task The_rules_of_a_single_delegation_refuse_a_record_with_their_own_type()
    {
        var s = await SetUpAsync("11", "11001");
        var report = (await (await Push(s.Client, Ndjson(
                Record(s, "CD11-1", "RSA_INSTRUCTION", ["11002"], start: "2025-06-01"),           // before the convention
                Record(s, "CD11-2", "ASLL", ["11003"]),                                            // not covered
                Record(s, "CD11-3", "RSA_INSTRUCTION", ["99999"]),                                 // no such commune
                Record(s, "CD11-3", "RSA_INSTRUCTION", ["11004"]),                                 // twice
                new { externalRef = "CD11-5", competence = "RSA_INSTRUCTION" })))                  // fields missing
            .Problem(HttpStatusCode.UnprocessableEntity, "imports.refused")).GetProperty("report");
        Assert.Equal(["delegations.convention-not-in-force", "delegations.competence-not-covered", "imports.unknown-commune", "imports.duplicate-external-ref", "imports.missing-field"],
            report.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("type").GetString()!).ToArray());
    }

    [Fact]
    public async Task Export_with_the_push_layout_then_push_it_back_gzipped_changes_nothing_and_csv_errors_name_their_line()
    {
        var s = await SetUpAsync("16", "16001");
        await Push(s.Client, Ndjson(Record(s, "CD16-RSA-1", "RSA_INSTRUCTION", ["16002", "16003"]), Record(s, "CD16-APA-1", "APA_INSTRUCTION", ["16005"]))).Ok();

        var csv = await (await s.Client.GetAsync("/v1/competence-map/export?departement=16&date=2026-06-01&layout=push").Ok()).Content.ReadAsStringAsync();
        Assert.StartsWith(PushRecords.CsvHeader + "\n", csv);
        Assert.Contains("CD16-RSA-1;RSA_INSTRUCTION;", csv);
        Assert.Contains(";16002,16003;2026-02-01;2027-12-31;", csv);
        var back = await (await Push(s.Client, csv, "text/csv", "?mode=SNAPSHOT&competences=RSA_INSTRUCTION,APA_INSTRUCTION&effectiveOn=2026-06-01", gzip: true).Ok())
            .Read<ImportReport>();
        Assert.Equal((2, 0, 0, 2, 0), (back.Counts.Read, back.Counts.Created, back.Counts.Changed, back.Counts.Unchanged, back.Counts.Ended));

        var broken = csv.Replace(";2027-12-31;", ";2027-13-31;").Replace("CD16-APA-1;APA_INSTRUCTION;", "CD16-APA-1,APA_INSTRUCTION,");
        var refused = await (await Push(s.Client, broken, "text/csv")).Problem(HttpStatusCode.UnprocessableEntity, "imports.refused");
        Assert.Equal([2, 3], refused.GetProperty("report").GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("line").GetInt32()).Order().ToArray());
        var json = await (await Push(s.Client, JsonSerializer.Serialize(new[] { Record(s, "CD16-RSA-1", "RSA_INSTRUCTION", ["16002", "16003"]) }, ApiFixture.Json),
            "application/json").Ok()).Read<ImportReport>();
        Assert.Equal(1, json.Counts.Unchanged);
        await (await Push(s.Client, "x", "application/xml")).Problem(HttpStatusCode.UnsupportedMediaType);
        var notGzip = new StringContent(csv, Encoding.UTF8, "text/csv");
        notGzip.Headers.ContentEncoding.Add("gzip");
        await (await s.Client.PostAsync("/v1/imports/delegations", notGzip)).Problem(HttpStatusCode.BadRequest, "imports.bad-gzip");
    }

    [Fact]
    public async Task A_large_push_is_a_job_answered_202_and_followed_to_its_report()
    {
        var s = await SetUpAsync("17", "17002");
        var body = LargePush(s, "CD17", ["17003", "17004", "17005"]);
        Assert.True(Encoding.UTF8.GetByteCount(body) > ImportEndpoints.SyncBytes);
        var accepted = await Push(s.Client, body).Ok(HttpStatusCode.Accepted);
        var job = await accepted.Read<ImportReport>();
        Assert.Equal(ImportStatus.QUEUED, job.Status);
        Assert.Equal($"/v1/imports/{job.Id}", accepted.Headers.Location?.OriginalString);

        var report = await FinishedAsync(s.Client, job.Id);
        Assert.Equal((ImportStatus.APPLIED, 400, 400), (report.Status, report.Counts.Read, report.Counts.Created));
        Assert.Equal(400, await DelegationsOf(s.Departement.Id));
        Assert.Equal(s.Ccas.Id, Responsible(await Map("17003", "RSA_INSTRUCTION", new(2026, 1, 1))));
    }

    [Fact]
    public async Task Each_record_is_checked_against_the_records_before_it_in_the_push_and_every_refused_one_is_reported_with_its_line()
    {
        // 1,200 records: more than one chunk of the push (1,000), so that some rules meet records of an earlier chunk
        // (already written in the transaction) and others records of their own chunk (not written yet).
        var s = await SetUpAsync("22", "22001");
        var communes = new[] { "22002", "22003", "22004" };
        string Day(int window, int offset) => new DateOnly(2026, 1, 1).AddDays(window * 2 + offset).ToString("yyyy-MM-dd");
        var records = Enumerable.Range(0, 1200).Select(i => Record(s, $"CD22-{i}", i % 2 == 0 ? "RSA_INSTRUCTION" : "APA_INSTRUCTION",
            [communes[i % 3]], start: Day(i / 6, 0), end: Day(i / 6, 1))).ToList();
        records[7] = Record(s, "CD22-7", "APA_INSTRUCTION", [communes[1]], start: Day(0, 0), end: Day(0, 1));       // record 1's, same chunk
        records[600] = Record(s, "CD22-600", "RSA_INSTRUCTION", ["29019"]);                                         // Brest is in Finistère
        records[900] = Record(s, "CD22-900", "ASLL", [communes[0]]);                                                // not in the convention
        records[1100] = Record(s, "CD22-1100", "APA_INSTRUCTION", [communes[2]], start: Day(0, 1), end: Day(0, 1)); // record 5's, first chunk

        var job = await (await Push(s.Client, Ndjson([.. records])).Ok(HttpStatusCode.Accepted)).Read<ImportReport>();
        var report = await FinishedAsync(s.Client, job.Id);
        Assert.Equal(ImportStatus.REFUSED, report.Status);
        Assert.Equal([(8, "CD22-7", "delegations.overlap"), (601, "CD22-600", "imports.outside-territory"),
                (901, "CD22-900", "delegations.competence-not-covered"), (1101, "CD22-1100", "delegations.overlap")],
            report.Errors.Select(e => (e.Line, e.ExternalRef, e.Type)).ToArray());
        Assert.Equal((1200, 1196), (report.Counts.Read, report.Counts.Valid));
        Assert.Equal(0, await DelegationsOf(s.Departement.Id));
        Assert.Equal(s.Departement.Id, Responsible(await Map("22003", "APA_INSTRUCTION", new(2026, 1, 1))));
    }

    [Fact]
    public async Task A_job_left_running_by_a_killed_process_is_taken_again_when_its_lease_lapses_and_applied_once()
    {
        var s = await SetUpAsync("18", "18001");
        var body = LargePush(s, "CD18", ["18002", "18003", "18004"]);
        // What a process killed mid-apply leaves: the job RUNNING under its lease, the spooled body, nothing applied.
        var id = Guid.CreateVersion7();
        var file = Path.Combine(Fx.Db.DataDirectory, "imports", id.ToString("N"));
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, body);
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(body)));
        await using (var c = await Fx.Db.OpenAsync(default))
            await c.ExecuteAsync(Fx.Db.Command("""
                INSERT INTO import_job (id, delegator_id, organisation_id, api_key_id, is_admin, format, mode, competences, effective_on, dry_run,
                                        content_sha256, status, body_file, lease_until, created_at)
                VALUES (@id, @delegator, @delegator, @key, @admin, 'NDJSON', 'UPSERT', '', @on, @dry, @sha, 'RUNNING', @file, @lease, @now)
                """, new
            {
                id, delegator = s.Departement.Id, key = Guid.CreateVersion7(), admin = false, on = new DateOnly(2026, 11, 25), dry = false, sha, file,
                lease = TestClock.Today.AddMinutes(-1), now = TestClock.Today.AddMinutes(-5),
            }, default));

        // And a push the client was waiting for, whose process died: past its lease it reads INTERRUPTED.
        var waited = Guid.CreateVersion7();
        await using (var c = await Fx.Db.OpenAsync(default))
            await c.ExecuteAsync(Fx.Db.Command("""
                INSERT INTO import_job (id, delegator_id, organisation_id, api_key_id, is_admin, format, mode, competences, effective_on, dry_run,
                                        content_sha256, status, lease_until, created_at)
                VALUES (@id, @delegator, @delegator, @key, @admin, 'NDJSON', 'UPSERT', '', @on, @dry, @sha, 'RUNNING', @lease, @now)
                """, new
            {
                id = waited, delegator = s.Departement.Id, key = Guid.CreateVersion7(), admin = false, on = new DateOnly(2026, 11, 25), dry = false,
                sha, lease = TestClock.Today.AddMinutes(-1), now = TestClock.Today.AddMinutes(-5),
            }, default));

        var report = await FinishedAsync(s.Client, id);
        Assert.Equal((ImportStatus.APPLIED, 400), (report.Status, report.Counts.Created));
        Assert.Equal(ImportStatus.INTERRUPTED, (await FinishedAsync(s.Client, waited)).Status);
        for (var i = 0; i < 100 && File.Exists(file); i++) await Task.Delay(50); // removed once the job is recorded
        Assert.False(File.Exists(file));
        // The client, unsure, sends the same push again: it changes nothing.
        var again = await Push(s.Client, body).Ok(HttpStatusCode.Accepted);
        var replay = await FinishedAsync(s.Client, (await again.Read<ImportReport>()).Id);
        Assert.Equal((ImportStatus.APPLIED, 0, 400), (replay.Status, replay.Counts.Created, replay.Counts.Unchanged));
        Assert.Equal(400, await DelegationsOf(s.Departement.Id));
    }

    [Fact]
    public async Task Reconciliation_lists_what_the_departement_never_sent_and_what_we_hold_differently_since_its_last_push()
    {
        var s = await SetUpAsync("19", "19001");
        var report = await (await Push(s.Client, Ndjson(Record(s, "CD19-RSA-1", "RSA_INSTRUCTION", ["19002"]),
            Record(s, "CD19-RSA-2", "RSA_INSTRUCTION", ["19003"]))).Ok()).Read<ImportReport>();
        await using (var c = await Fx.Db.OpenAsync(default))
            Assert.Equal(1, await c.ExecuteScalarAsync<long>(Fx.Db.Command(
                "SELECT COUNT(*) FROM outbox_event WHERE event_type = 'import.completed' AND resource_id = @id", new { id = report.Id }, default)));

        // By hand, through the API: one delegation made without an external reference, one pushed delegation ended early.
        var hand = await (await s.Client.PostJson("/v1/delegations", Delegation(s.Departement, s.Ccas, "APA_INSTRUCTION", s.Convention,
            new { communeIds = new[] { (await Commune("19004")).Id } }, Jan2026, new(2027, 12, 31))).Ok(HttpStatusCode.Created)).Read<CoordinationHub.Features.Delegations.DelegationDto>();
        var pushed = (await (await s.Client.GetAsync("/v1/delegations?externalRef=CD19-RSA-2").Ok()).Json()).GetProperty("items")[0].GetProperty("id").GetGuid();
        var etag = (await s.Client.GetAsync($"/v1/delegations/{pushed}").Ok()).Headers.ETag!.Tag;
        var end = new HttpRequestMessage(HttpMethod.Post, $"/v1/delegations/{pushed}/end")
            { Content = System.Net.Http.Json.JsonContent.Create(new { lastDay = "2026-12-31", reason = "Reprise en régie" }) };
        end.Headers.TryAddWithoutValidation("If-Match", etag);
        await s.Client.SendAsync(end).Ok();

        var r = await (await s.Client.GetAsync("/v1/imports/reconciliation?departement=19").Ok()).Json();
        Assert.Equal(report.Id, r.GetProperty("lastPushId").GetGuid());
        Assert.Equal([hand.Id], r.GetProperty("neverSent").EnumerateArray().Select(x => x.GetProperty("delegationId").GetGuid()).ToArray());
        var held = r.GetProperty("heldDifferently").EnumerateArray().Single();
        Assert.Equal(("CD19-RSA-2", 2, "2027-12-31", "2026-12-31"), (held.GetProperty("externalRef").GetString(), held.GetProperty("line").GetInt32(),
            held.GetProperty("sentEndOn").GetString(), held.GetProperty("heldEndOn").GetString()));
        // Another département's key learns nothing about it.
        var other = await Departement("07");
        await (await Fx.Client(await Fx.KeyFor(other.Id, PusherScopes)).GetAsync("/v1/imports/reconciliation?departement=19")).Problem(HttpStatusCode.NotFound);
    }
}

[Collection(SqliteCollection.Name)] public sealed class PushTests_Sqlite(SqliteFixture f) : PushTests(f);
[Collection(PostgresCollection.Name)] public sealed class PushTests_Postgres(PostgresFixture f) : PushTests(f);
