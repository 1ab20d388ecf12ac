using System.Net.Http.Json;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Benchmarks;

/// <summary>
/// Issue 13: create-referral (routed through the competence map, with its audit, outbox, person and
/// duplicate guard) against a baseline that does only the same single INSERT with Dapper; then the
/// received box's first page with 10,000 and with 1,000,000 referrals in the table (seeded by bulk SQL).
/// </summary>
public sealed class ReferralBenchmark(ApiProcess apiProcess, ApiClient api, LoadGenerator generator, BenchmarkOptions options, Workload workload)
{
    private const string Nord = "59";

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var nord = (await api.GetAllPagesAsync($"/v1/organisations?kind=DEPARTEMENT&departement={Nord}", apiProcess.AdminKey, ct)).Single();
        var nordId = nord["id"]!.GetValue<Guid>();
        var communes = workload.Communes.Where(c => c.DepartementCode == Nord).ToList();
        var senderId = await api.PostOrExistingAsync("/v1/organisations",
            new { kind = "PARTNER", name = "Association d'accès aux droits (benchmark)", partnerCategory = "ASSOCIATION", departementCode = Nord },
            apiProcess.AdminKey, ct);
        var scopes = new[] { Scopes.ReferralsRead, Scopes.ReferralsWrite };
        var senderKey = await apiProcess.CreateKeyAsync(senderId, "benchmark sender", scopes, ct);
        var receiverKey = await apiProcess.CreateKeyAsync(nordId, "benchmark receiver", scopes, ct);
        Console.WriteLine($"Referrals: sender a partner of Nord, need INCOME in a random commune of Nord ({communes.Count} communes), " +
                          "resolved through the competence map to the département.");

        // 1. The received box with 10,000, then 1,000,000 referrals in the table.
        var list = new List<(long Rows, LoadResult Result)>();
        var listRequest = new Uri(apiProcess.BaseAddress, "/v1/referrals/received?limit=50");
        foreach (var rows in options.CreateOnly ? [] : new long[] { 10_000, 1_000_000 })
        {
            var seeded = await SeedAsync(rows, senderId, nordId, communes[0].Id, ct);
            // The first measurement follows the API's start: a longer warm-up lets tiered JIT settle.
            var warmup = rows == 10_000 ? options.Warmup * 5 : options.Warmup;
            Console.WriteLine($"  table at {rows:N0} referrals (seeded {seeded.Count:N0} in {seeded.Elapsed.TotalSeconds:F1} s); " +
                              $"warming up the list for {warmup.TotalSeconds:F0} s…");
            await generator.RunAsync("list warm-up", [listRequest], receiverKey, warmup, ct);
            var result = await generator.RunAsync($"list-received, {rows:N0} rows", [listRequest], receiverKey, options.Duration, ct);
            result.Print();
            list.Add((rows, result));
        }

        // 2. Create vs the baseline INSERT, in interleaved rounds.
        var n = 0L;
        HttpRequestMessage Create(Random r)
        {
            var commune = communes[r.Next(communes.Count)];
            var i = Interlocked.Increment(ref n);
            return new HttpRequestMessage(HttpMethod.Post, "/v1/referrals")
            {
                Content = JsonContent.Create(new
                {
                    need = "INCOME", urgency = "NORMAL", context = "Benchmark",
                    person = new { familyName = $"Bench{i}", givenNames = "Camille", birthDate = "1980-01-01", communeInsee = commune.Code },
                    agent = new { reference = "bench", displayName = "Benchmark" },
                    legalBasis = new { statutory = "RSA_ORIENTATION" },
                }),
            };
        }
        // The baseline's rows (no person) are sent by another partner to the sender: the reads below take the sender's
        // latest sent referrals and Nord's latest received, which must carry a person for the access log to log anything.
        var baselineSenderId = await api.PostOrExistingAsync("/v1/organisations",
            new { kind = "PARTNER", name = "Association témoin (benchmark baseline)", partnerCategory = "ASSOCIATION", departementCode = Nord },
            apiProcess.AdminKey, ct);
        HttpRequestMessage Baseline(Random r) => new(HttpMethod.Post, "/bench/baseline/referral")
        {
            Content = JsonContent.Create(new
            {
                senderId = baselineSenderId, receiverId = senderId, communeId = communes[r.Next(communes.Count)].Id, personKey = $"BASE|{Interlocked.Increment(ref n)}",
            }),
        };
        // The floor: the rows a create writes, by the same statements in one transaction, without the request around them.
        var floorKey = Guid.CreateVersion7();
        HttpRequestMessage Floor(Random r)
        {
            var commune = communes[r.Next(communes.Count)];
            var i = Interlocked.Increment(ref n);
            return new HttpRequestMessage(HttpMethod.Post, "/bench/floor/referral")
            {
                Content = JsonContent.Create(new
                {
                    senderId, keyId = floorKey, receiverId = nordId, communeId = commune.Id,
                    person = new { familyName = $"Floor{i}", givenNames = "Camille", birthDate = "1980-01-01", communeInsee = commune.Code },
                }),
            };
        }
        var measured = await InterleavedAsync(
            [("create-referral", Create, senderKey), ("floor (create's rows)", Floor, null), ("baseline INSERT", Baseline, null)], ct);
        var ((create, cpuCreate), (floor, cpuFloor), (baseline, cpuBaseline)) = (measured[0], measured[1], measured[2]);

        var ratio = create.RequestsPerSecond / baseline.RequestsPerSecond;
        void CreateRows()
        {
            Console.WriteLine();
            Console.WriteLine("| measure                                 |        value | target   | result |");
            Console.WriteLine("|-----------------------------------------|-------------:|----------|--------|");
            Row("create-referral throughput", $"{create.RequestsPerSecond:N0} req/s", "", null);
            Row("floor (create's rows) throughput", $"{floor.RequestsPerSecond:N0} req/s", "", null);
            Row("baseline INSERT throughput", $"{baseline.RequestsPerSecond:N0} req/s", "", null);
            Row("create / baseline", $"{ratio:F2}", ">= 0.50", ratio >= 0.5);
            Row("floor / baseline", $"{floor.RequestsPerSecond / baseline.RequestsPerSecond:F2}", "", null);
            Row("create / floor", $"{create.RequestsPerSecond / floor.RequestsPerSecond:F2}", "", null);
            Row("create p50", $"{create.PercentileMs(50):F2} ms", "", null);
            Row("create p99", $"{create.PercentileMs(99):F2} ms", "<= 25 ms", create.PercentileMs(99) <= 25);
            Row("floor p50 / p99", $"{floor.PercentileMs(50):F1}/{floor.PercentileMs(99):F1} ms", "", null);
            Row("baseline p50 / p99", $"{baseline.PercentileMs(50):F1}/{baseline.PercentileMs(99):F1} ms", "", null);
            Row("server CPU per request, create / floor", $"{cpuCreate:F0}/{cpuFloor:F0} µs", "", null);
            Row("server CPU per request, baseline", $"{cpuBaseline:F0} µs", "", null);
            // What the throughput ratios would be if the cores alone bound them.
            Row("CPU-bound floor / base, create / floor", $"{cpuBaseline / cpuFloor:F2}, {cpuFloor / cpuCreate:F2}", "", null);
        }
        if (options.CreateOnly)
        {
            CreateRows();
            await PrintStorageAsync(Create, senderKey, ct);
            return Failed(create, floor, baseline);
        }

        // 3. Issue 14: reading a referral, and a page of the received box (50 persons), every read access-logged.
        //    The last 60 referrals sent carry real (sealed) persons: the page is theirs; reads are the sender's
        //    (the receiver's first read would be a transition). The log-off comparison went with the benchmark code
        //    the product carried (issue 28): its last figures are in the README.
        var sent = (await api.GetAsync("/v1/referrals/sent?limit=60", senderKey, ct))["items"]!.AsArray().Select(r => r!["id"]!.GetValue<Guid>()).ToList();
        HttpRequestMessage Read(Random r) => WithAgent(new HttpRequestMessage(HttpMethod.Get, $"/v1/referrals/{sent[r.Next(sent.Count)]}"));
        HttpRequestMessage Page() => WithAgent(new HttpRequestMessage(HttpMethod.Get, "/v1/referrals/received?limit=50"));
        var (readOn, cpuReadOn) = (await InterleavedAsync([("read (access-logged)", Read, senderKey)], ct))[0];
        var (pageOn, cpuPageOn) = (await InterleavedAsync([("received page of 50 (access-logged)", _ => Page(), receiverKey)], ct))[0];

        var listRatio = list[1].Result.PercentileMs(50) / list[0].Result.PercentileMs(50);
        CreateRows();
        Row("list-received p50, 10,000 rows", $"{list[0].Result.PercentileMs(50):F2} ms", "", null);
        Row("list-received p50, 1,000,000 rows", $"{list[1].Result.PercentileMs(50):F2} ms", "", null);
        Row("list p50 1M / 10k", $"{listRatio:F2}", "<= 1.30", listRatio <= 1.3);
        Row("read throughput", $"{readOn.RequestsPerSecond:N0} req/s", "", null);
        Row("read p50 / p99", $"{readOn.PercentileMs(50):F1}/{readOn.PercentileMs(99):F1} ms", "", null);
        Row("server CPU per read", $"{cpuReadOn:F0} µs", "", null);
        Row("page of 50 throughput", $"{pageOn.RequestsPerSecond:N0} req/s", "", null);
        Row("server CPU per page", $"{cpuPageOn:F0} µs", "", null);
        await PrintStorageAsync(Create, senderKey, ct);
        return Failed([create, floor, baseline, readOn, pageOn, .. list.Select(l => l.Result)]);
    }

    /// <summary>Prints the phases that had failed requests; 1 when there is one.</summary>
    /// <summary>
    /// What a referral costs on disk (SQLite): the pages in use (checkpointed, free pages left out) before and after a burst
    /// of creates through the API, divided by the referrals it added (its person, versions, audit, events, access log and
    /// every index included); and an audit row's data (its columns' bytes, before index and page overhead).
    /// </summary>
    private async Task PrintStorageAsync(Func<Random, HttpRequestMessage> create, string key, CancellationToken ct)
    {
        var db = apiProcess.Db;
        if (db.Dialect.Provider != DatabaseProvider.Sqlite) return;
        async Task<(long Bytes, long Referrals, long Audits)> UsedAsync()
        {
            await using var c = await db.OpenAsync(ct);
            await c.ExecuteAsync("PRAGMA wal_checkpoint(TRUNCATE)");
            var pages = await c.ExecuteScalarAsync<long>("PRAGMA page_count") - await c.ExecuteScalarAsync<long>("PRAGMA freelist_count");
            return (pages * await c.ExecuteScalarAsync<long>("PRAGMA page_size"), await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM referral"),
                await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event"));
        }
        var before = await UsedAsync();
        var burst = await generator.RunAsync("storage burst (create-referral)", create, key, TimeSpan.FromSeconds(5), ct);
        var after = await UsedAsync();
        var (added, audits) = (after.Referrals - before.Referrals, after.Audits - before.Audits);
        await using var conn = await db.OpenAsync(ct);
        var auditRow = await conn.ExecuteScalarAsync<double>("""
            SELECT AVG(length(id) + length(occurred_at) + COALESCE(length(organisation_id), 0) + length(api_key_id) + length(resource_type)
                       + length(resource_id) + length(action) + COALESCE(length(before_state), 0) + COALESCE(length(after_state), 0))
            FROM audit_event
            """);
        Console.WriteLine();
        Console.WriteLine($"Storage (SQLite): {added:N0} referrals created through the API ({burst.ErrorCount} errors) took " +
                          $"{(after.Bytes - before.Bytes) / 1024.0:N0} KB of pages: {(after.Bytes - before.Bytes) / (double)Math.Max(1, added):N0} bytes a referral " +
                          $"(with its {audits / (double)Math.Max(1, added):F1} audit rows, events, person versions, access log and indexes); " +
                          $"an audit row holds {auditRow:N0} bytes of data on average ({after.Audits:N0} rows). The whole database: " +
                          $"{after.Bytes / 1048576.0:F1} MB for {after.Referrals:N0} referrals, referential and seeded rows included.");
    }

    private static int Failed(params LoadResult[] results)
    {
        Console.WriteLine();
        var failed = results.Where(r => r.ErrorCount > 0).ToList();
        foreach (var r in failed) Console.WriteLine($"ERROR: {r.Name}: {r.ErrorCount:N0} failed requests");
        return failed.Count == 0 ? 0 : 1;
    }

    /// <summary>An agent named, as case-management software sends it: the access record seals it.</summary>
    private static HttpRequestMessage WithAgent(HttpRequestMessage request)
    {
        request.Headers.Add("X-Agent", "bench-agent");
        return request;
    }

    /// <summary>
    /// Phases, warmed up, then measured in interleaved slices that add up to the duration, so that
    /// noise from the machine falls on all alike. Returns each phase's result and server CPU µs per request.
    /// </summary>
    private async Task<(LoadResult Result, double CpuMicroseconds)[]> InterleavedAsync(
        (string Name, Func<Random, HttpRequestMessage> Next, string? Key)[] phases, CancellationToken ct)
    {
        var slices = phases.Select(_ => new List<LoadResult>()).ToArray();
        var cpu = new TimeSpan[phases.Length];
        foreach (var p in phases) await generator.RunAsync(p.Name + " (warm-up)", p.Next, p.Key, options.Warmup, ct);
        var slice = options.Duration / options.Rounds;
        for (var round = 0; round < options.Rounds; round++)
        {
            for (var i = 0; i < phases.Length; i++)
            {
                var before = apiProcess.CpuTime;
                slices[i].Add(await generator.RunAsync(phases[i].Name, phases[i].Next, phases[i].Key, slice, ct));
                cpu[i] += apiProcess.CpuTime - before;
            }
            Console.WriteLine($"  round {round + 1}: " +
                              string.Join(", ", phases.Select((p, i) => $"{p.Name} {slices[i][^1].RequestsPerSecond:N0} req/s")));
        }
        var results = slices.Select(LoadResult.Combine).ToArray();
        foreach (var r in results) r.Print();
        // CPU per request does not depend on what else runs on the machine, unlike req/s.
        return results.Select((r, i) => (r, cpu[i].TotalMicroseconds / r.Requests)).ToArray();
    }

    private static void Row(string measure, string value, string target, bool? pass) =>
        Console.WriteLine($"| {measure,-39} | {value,12} | {target,-8} | {(pass is null ? "" : pass.Value ? "PASS" : "FAIL"),-6} |");

    /// <summary>Tops the referral table up to <paramref name="total"/> rows with one INSERT … SELECT per 100,000 rows.</summary>
    private async Task<(long Count, TimeSpan Elapsed)> SeedAsync(long total, Guid sender, Guid receiver, Guid commune, CancellationToken ct)
    {
        var db = apiProcess.Db;
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using var c = await db.OpenAsync(ct);
        var existing = await c.ExecuteScalarAsync<long>(db.Command("SELECT COUNT(*) FROM referral", null, ct));
        var first = await c.ExecuteScalarAsync<long>(db.Command("SELECT COUNT(*) FROM referral WHERE person_key LIKE 'SEED|%'", null, ct)) + 1;
        var last = first + (total - existing) - 1;
        var now = DateTimeOffset.UtcNow;
        for (var from = first; from <= last; from += 100_000)
        {
            var to = Math.Min(last, from + 99_999);
            await c.ExecuteAsync(db.Command(db.Dialect.Provider == DatabaseProvider.PostgreSQL ? PostgresSeedSql : SqliteSeedSql,
                new { from, to, sender, receiver, commune, sent = now.AddDays(-30), deadline = now.AddDays(-20) }, ct));
        }
        await c.ExecuteAsync(db.Command("ANALYZE referral", null, ct));
        return (Math.Max(0, last - first + 1), started.Elapsed);
    }

    // Ids 00000000-0000-7000-8000-<i>: older than any UUIDv7 of today, so the seeded rows sit behind the live ones.
    private const string Columns = """
        id, sender_id, receiver_id, need, competence_code, urgency, status, commune_id, person_key, sender_agent_reference,
        sender_agent_name, statutory_basis, routing_mode, routing_chain, deadline_at, deadline_source, sent_at, version, updated_at
        """;
    private const string SqliteSeedSql = $"""
        WITH RECURSIVE n(i) AS (SELECT @from UNION ALL SELECT i + 1 FROM n WHERE i < @to)
        INSERT INTO referral ({Columns})
        SELECT printf('00000000-0000-7000-8000-%012x', i), @sender, @receiver, 'INCOME', 'RSA_INSTRUCTION', 'NORMAL',
               CASE i % 5 WHEN 0 THEN 'ACCEPTED' ELSE 'SENT' END, @commune, 'SEED|' || i, 'seed', 'seed', 'RSA_ORIENTATION',
               'RESOLVED', '[]', @deadline, 'URGENCY', @sent, 1, @sent
        FROM n
        """;
    private const string PostgresSeedSql = $"""
        INSERT INTO referral ({Columns})
        SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, @sender, @receiver, 'INCOME', 'RSA_INSTRUCTION', 'NORMAL',
               CASE i % 5 WHEN 0 THEN 'ACCEPTED' ELSE 'SENT' END, @commune, 'SEED|' || i, 'seed', 'seed', 'RSA_ORIENTATION',
               'RESOLVED', '[]', @deadline, 'URGENCY', @sent, 1, @sent
        FROM generate_series(@from::bigint, @to::bigint) AS i
        """;
}
