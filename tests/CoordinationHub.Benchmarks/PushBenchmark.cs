using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Benchmarks;

/// <summary>
/// Issue 16's benchmark (<c>--push</c>): the national load — every département pushes, through the API, the
/// snapshot of its 9 legal competences on each of its communes (one record per commune and competence) —
/// against the provider's native bulk path writing the same rows to a scratch table, and (SQLite) writing the
/// push's own rows into a copy of the database (<see cref="PushRowsReplay"/>); lookups run during the load; then
/// the server's memory during a push of 20,000 and of 200,000 records.
/// </summary>
public sealed class PushBenchmark(ApiProcess apiProcess, ApiClient api, LoadGenerator generator, BenchmarkOptions options, Workload workload)
{
    private static readonly DateOnly LoadStart = new(2026, 1, 1);
    private static readonly DateOnly LoadEnd = new(2030, 12, 31);
    /// <summary>The memory pushes' monthly periods: after the national load's, inside the conventions.</summary>
    private static readonly DateOnly LargeFrom = new(2031, 1, 1);
    private static readonly DateOnly SmallFrom = new(2034, 1, 1);
    private const string PasDeCalais = "62";
    private static readonly string[] PusherScopes =
        [Scopes.DirectoryRead, Scopes.ConventionsRead, Scopes.ConventionsWrite, Scopes.DelegationsRead, Scopes.DelegationsWrite, Scopes.DelegationsImport];

    /// <summary>A département and, for each of its communes, the body the département delegates to and the convention.</summary>
    private sealed record Departement(Guid Id, string Code, string Name, string Key, List<(Commune Commune, Guid Delegate, Guid Convention)> Communes);

    private sealed record PushResult(string Departement, int Records, TimeSpan Elapsed, string Status);

    private string Admin => apiProcess.AdminKey;

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var competences = workload.Legal.Where(c => c.HolderKind == "DEPARTEMENT").Select(c => c.Code).ToArray();
        var departements = await SetUpAsync(competences, ct);
        var records = departements.Sum(d => d.Communes.Count) * competences.Length;
        Console.WriteLine($"National load: {departements.Count} départements, {records:N0} records ({competences.Length} competences × " +
                          $"{departements.Sum(d => d.Communes.Count):N0} communes: {string.Join(", ", competences)}).");

        // Warm-up: a dry run of Nord's snapshot (every code path, nothing applied), native writes, lookups.
        var nord = departements.Single(d => d.Code == MapLoader.Nord);
        var warm = await PushAsync(nord, Snapshot(nord, competences), Query(competences, dryRun: true), ct);
        Console.WriteLine($"Warm-up: dry run of Nord ({warm.Records:N0} records) in {warm.Elapsed.TotalSeconds:F2} s, {warm.Status}.");
        await using (var native = await NativePath.CreateAsync(apiProcess.Db, ct))
            await native.WriteAsync(Rows(nord, competences), ct);
        var lookups = workload.Lookups(apiProcess.BaseAddress, 1 << 16, seed: 1);
        var readerKey = await MapLoader.ReaderKeyAsync(apiProcess, api, ct);
        await generator.RunAsync("warm-up", lookups, readerKey, options.Warmup, ct);
        var idleCpu = apiProcess.CpuTime;
        var idle = await generator.RunAsync("lookup, idle", lookups, readerKey, TimeSpan.FromSeconds(5), ct);
        var cpuPerLookup = (apiProcess.CpuTime - idleCpu) / Math.Max(1, idle.Requests);

        // The floor of the push's own rows (SQLite): a copy of the database as it is before the load, and where each table ends.
        // (In the API's temporary folder, removed with it.)
        var replay = apiProcess.Db.Dialect.Provider == DatabaseProvider.Sqlite
            ? await PushRowsReplay.CreateAsync(apiProcess.Db.ConnectionString, ct) : null;

        // The national load, département after département, with lookups beside it.
        Console.WriteLine($"Pushing {departements.Count} snapshots, lookups at concurrency {options.Concurrency} meanwhile…");
        var loading = new CancellationTokenSource();
        var slices = new List<LoadResult>();
        var lookupsDuringLoad = Task.Run(async () =>
        {
            while (!loading.IsCancellationRequested)
                slices.Add(await generator.RunAsync("lookup, during the load", lookups, readerKey, TimeSpan.FromSeconds(1), ct));
        }, ct);
        var results = new List<PushResult>();
        var (serverCpu, watch) = (apiProcess.CpuTime, Stopwatch.StartNew());
        foreach (var d in departements)
        {
            var result = await PushAsync(d, Snapshot(d, competences), Query(competences, dryRun: false), ct);
            results.Add(result);
            if (result.Status != "APPLIED") throw new InvalidOperationException($"The push of {d.Code} is {result.Status}.");
            if (replay is not null) await replay.MarkPushAsync(); // outside the push's time
            if (results.Count % 10 == 0) Console.WriteLine($"  {results.Count}/{departements.Count} ({watch.Elapsed.TotalSeconds:F0} s)");
        }
        var loadElapsed = watch.Elapsed;
        await loading.CancelAsync();
        await lookupsDuringLoad;
        var during = LoadResult.Combine(slices);
        serverCpu = apiProcess.CpuTime - serverCpu;
        var pushTime = TimeSpan.FromTicks(results.Sum(r => r.Elapsed.Ticks));
        // The lookups' share of the server's CPU, as measured idle, is taken out of the push's.
        var pushCpu = serverCpu - cpuPerLookup * during.Requests;

        // The same rows, by the provider's own bulk path, one transaction per département.
        TimeSpan nativeTime;
        await using (var native = await NativePath.CreateAsync(apiProcess.Db, ct))
        {
            nativeTime = TimeSpan.Zero;
            foreach (var d in departements) nativeTime += await native.WriteAsync(Rows(d, competences), ct);
        }

        // The same rows as the API's pushes wrote them, natively: same tables, columns and indexes.
        var (sameTime, sameRows) = (TimeSpan.Zero, 0L);
        List<(string Table, long Rows)> added = [];
        if (replay is not null)
        {
            added = await replay.RowsAddedAsync();
            (sameTime, sameRows) = await replay.ReplayAsync(ct);
            await replay.DisposeAsync(); // its copy holds the whole load again
        }

        var apiRate = records / pushTime.TotalSeconds;
        var nativeRate = records / nativeTime.TotalSeconds;
        var ratio = pushTime / nativeTime;
        var largest = results.Single(r => r.Departement == PasDeCalais);
        Console.WriteLine($"  API: {records:N0} records in {pushTime.TotalSeconds:F1} s of pushes ({loadElapsed.TotalSeconds:F1} s wall) = {apiRate:N0} records/s; " +
                          $"server CPU {pushCpu.TotalMicroseconds / records:F0} µs per record (lookups' share taken out: {during.Requests:N0} × {cpuPerLookup.TotalMicroseconds:F0} µs)");
        Console.WriteLine($"  native ({NativePath.Describe(apiProcess.Db)}): {nativeTime.TotalSeconds:F2} s = {nativeRate:N0} records/s");
        if (replay is not null)
        {
            var (own, after) = (added.Where(a => !PushRowsReplay.AfterCommit.Contains(a.Table)).ToList(),
                added.Where(a => PushRowsReplay.AfterCommit.Contains(a.Table)).ToList());
            Console.WriteLine($"  rows the pushes' transactions added, per table (per record): " +
                              string.Join(", ", own.Select(a => $"{a.Table} {a.Rows:N0} ({(double)a.Rows / records:F2})")) +
                              $"; in all {own.Sum(a => a.Rows):N0} ({(double)own.Sum(a => a.Rows) / records:F2} per record); " +
                              $"after their commits, by the event sequencer: " +
                              string.Join(", ", after.Select(a => $"{a.Table} {a.Rows:N0} ({(double)a.Rows / records:F2})")));
            Console.WriteLine($"  native, the push's rows (each push's inserted rows, read back by rowid, inserted again " +
                              $"into a copy of the database taken before the load: same tables, indexes, triggers and " +
                              $"foreign keys; one prepared INSERT per row, one transaction per push; the sequencer's rows " +
                              $"left out): {sameRows:N0} rows in {sameTime.TotalSeconds:F2} s = " +
                              $"{records / sameTime.TotalSeconds:N0} records/s ({sameRows / sameTime.TotalSeconds:N0} rows/s)");
            Console.WriteLine($"  time ratios: API / native one-row {ratio:F1} ×, API / native same rows {pushTime / sameTime:F1} ×, " +
                              $"native same rows / native one-row {sameTime / nativeTime:F1} ×");
        }
        Console.WriteLine($"  largest push, Pas-de-Calais: {largest.Records:N0} records in {largest.Elapsed.TotalSeconds:F2} s");
        idle.Print();
        during.Print();

        // Memory: one push of 20,000 then one of 200,000 records (Nord, month by month), each measured from what the server held before it.
        var small = await MeasureMemoryAsync(nord, competences, SmallFrom, 20_000, ct);
        var large = await MeasureMemoryAsync(nord, competences, LargeFrom, 200_000, ct);
        var map = await api.GetAsync("/bench/map", Admin, ct);
        Console.WriteLine($"  map in memory at the end: {map["keys"]:N0} keys, {map["periods"]:N0} periods; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");

        Console.WriteLine();
        Console.WriteLine("| measure                                         |               value | target            | result |");
        Console.WriteLine("|-------------------------------------------------|--------------------:|-------------------|--------|");
        Row("national load through the API", $"{apiRate:N0} rec/s", "", null);
        Row($"native path ({NativePath.Short(apiProcess.Db)})", $"{nativeRate:N0} rec/s", "", null);
        Row("API time / native time", $"{ratio:F1} ×", "<= 5 ×", ratio <= 5);
        if (replay is not null)
        {
            Row("native path, the push's rows (prepared INSERT)", $"{records / sameTime.TotalSeconds:N0} rec/s", "", null);
            Row("API time / native time, the push's rows", $"{pushTime / sameTime:F1} ×", "", null);
            Row("native time: push's rows / one row", $"{sameTime / nativeTime:F1} ×", "", null);
        }
        Row("server CPU per record (push)", $"{pushCpu.TotalMicroseconds / records:F0} µs", "", null);
        Row($"Pas-de-Calais ({largest.Records:N0} records)", $"{largest.Elapsed.TotalSeconds:F2} s", "", null);
        Row("lookup p99 during the load", $"{during.PercentileMs(99):F2} ms", "<= 10 ms", during.PercentileMs(99) <= 10);
        Row("lookup p99 idle", $"{idle.PercentileMs(99):F2} ms", "", null);
        foreach (var m in new[] { small, large })
        {
            Row($"{m.Records:N0}-record push", $"{m.Elapsed.TotalSeconds:F1} s", "", null);
            Row($"  RSS before → peak → after", $"{Mb(m.Before)} → {Mb(m.Peak)} → {Mb(m.After)}", "< 400 MB", m.Peak < 400L * 1048576);
            Row($"  peak − before", $"{Mb(m.Peak - m.Before)}", "", null);
        }
        var flat = (double)large.Peak / small.Peak;
        Row("peak 200k / peak 20k", $"{flat:F2}", "0.80 – 1.20", flat is >= 0.8 and <= 1.2);
        Console.WriteLine();
        return 0;
    }

    private static void Row(string measure, string value, string target, bool? pass) =>
        Console.WriteLine($"| {measure,-47} | {value,19} | {target,-17} | {(pass is null ? "" : pass.Value ? "PASS" : "MISS"),-6} |");

    private static string Mb(long bytes) => $"{bytes / 1048576.0:F0} MB";

    private static string Query(string[] competences, bool dryRun) =>
        $"?mode=SNAPSHOT&competences={string.Join(',', competences)}&effectiveOn={LoadStart:yyyy-MM-dd}" + (dryRun ? "&dryRun=true" : "");

    /// <summary>The département's snapshot: one record per (commune, competence), delegated to the commune's CIAS (or CCAS).</summary>
    private static IEnumerable<object> Snapshot(Departement d, string[] competences) =>
        d.Communes.SelectMany(c => competences.Select(competence => (object)new
        {
            externalRef = $"CD{d.Code}-{competence}-{c.Commune.Code}", competence, delegateId = c.Delegate, communes = new[] { c.Commune.Code },
            startOn = LoadStart, endOn = LoadEnd, conventionId = c.Convention,
        }));

    /// <summary>The same records as native rows (the scratch table's columns).</summary>
    private static IEnumerable<object?[]> Rows(Departement d, string[] competences) =>
        d.Communes.SelectMany(c => competences.Select(competence => new object?[]
        {
            $"CD{d.Code}-{competence}-{c.Commune.Code}", competence, c.Delegate, c.Commune.Code, LoadStart, LoadEnd, c.Convention,
        }));

    /// <summary>
    /// One record per (commune, competence, month) from <paramref name="from"/>, the first <paramref name="count"/>: each
    /// commune's delegations one after the other, as a système d'information exports its delegations' history.
    /// </summary>
    private static IEnumerable<object> Monthly(Departement d, string[] competences, DateOnly from, int count)
    {
        var months = (count + d.Communes.Count * competences.Length - 1) / (d.Communes.Count * competences.Length);
        return d.Communes.SelectMany(c => competences.SelectMany(competence => Enumerable.Range(0, months).Select(month => (object)new
        {
            externalRef = $"CD{d.Code}-{competence}-{c.Commune.Code}-{from.AddMonths(month):yyyy-MM}", competence, delegateId = c.Delegate,
            communes = new[] { c.Commune.Code }, startOn = from.AddMonths(month), endOn = from.AddMonths(month + 1).AddDays(-1), conventionId = c.Convention,
        }))).Take(count);
    }

    private sealed record MemoryResult(int Records, TimeSpan Elapsed, long Before, long Peak, long After);

    private async Task<MemoryResult> MeasureMemoryAsync(Departement nord, string[] competences, DateOnly from, int count, CancellationToken ct)
    {
        var body = Ndjson(Monthly(nord, competences, from, count));
        await Task.Delay(TimeSpan.FromSeconds(2), ct); // let the server settle
        var before = apiProcess.Memory.Rss;
        var exact = apiProcess.ResetPeak();
        long sampled = before;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                sampled = Math.Max(sampled, apiProcess.Memory.Rss);
                await Task.Delay(20, CancellationToken.None);
            }
        }, CancellationToken.None);
        var cpu = apiProcess.CpuTime;
        var result = await PushAsync(nord, body, "?mode=UPSERT", ct);
        cpu = apiProcess.CpuTime - cpu;
        await sampling.CancelAsync();
        await sampler;
        if (result.Status != "APPLIED") throw new InvalidOperationException($"The {count:N0}-record push is {result.Status}.");
        var (after, hwm) = apiProcess.Memory;
        var peak = exact ? hwm : sampled;
        Console.WriteLine($"  {count:N0}-record push (Nord: its {nord.Communes.Count} communes × {competences.Length} competences × months from {from:yyyy-MM}, commune by commune): " +
                          $"{result.Elapsed.TotalSeconds:F1} s = {count / result.Elapsed.TotalSeconds:N0} records/s, " +
                          $"server CPU {cpu.TotalMicroseconds / count:F0} µs per record (nothing else running); RSS before {Mb(before)}, " +
                          $"peak {Mb(peak)} ({(exact ? "VmHWM reset before the push" : "sampled every 20 ms")}), after {Mb(after)}");
        return new MemoryResult(count, result.Elapsed, before, peak, after);
    }

    private static byte[] Ndjson(IEnumerable<object> records)
    {
        var text = new StringBuilder();
        foreach (var r in records) text.Append(JsonSerializer.Serialize(r, ApiClient.Json)).Append('\n');
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private Task<PushResult> PushAsync(Departement d, IEnumerable<object> records, string query, CancellationToken ct) =>
        PushAsync(d, Ndjson(records), query, ct);

    /// <summary>POST the body, then follow the job to its end: the time a département's system waits for its report.</summary>
    private async Task<PushResult> PushAsync(Departement d, byte[] body, string query, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = apiProcess.BaseAddress, Timeout = TimeSpan.FromMinutes(10) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", d.Key);
        var watch = Stopwatch.StartNew();
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        using var response = await http.PostAsync("/v1/imports/delegations" + query, content, ct);
        var report = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
        if (!response.IsSuccessStatusCode) throw new ApiException(HttpMethod.Post, "/v1/imports/delegations", (int)response.StatusCode, report.ToJsonString());
        while (report["status"]!.GetValue<string>() is "QUEUED" or "RUNNING")
        {
            await Task.Delay(10, ct);
            report = await api.GetAsync($"/v1/imports/{report["id"]}", d.Key, ct);
        }
        return new PushResult(d.Code, report["counts"]!["read"]!.GetValue<int>(), watch.Elapsed, report["status"]!.GetValue<string>());
    }

    /// <summary>
    /// Every département, and in it every commune's delegate: the CIAS of its intercommunality (one per EPCI,
    /// registered by the administrator), or for a commune in no EPCI its own CCAS; and one signed convention
    /// per (département, delegate) covering the delegate's communes in the département and the 9 competences.
    /// </summary>
    private async Task<List<Departement>> SetUpAsync(string[] competences, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var all = (await api.GetAllPagesAsync("/v1/organisations?kind=DEPARTEMENT&limit=500", Admin, ct))
            .Select(d => (Id: d["id"]!.GetValue<Guid>(), Code: d["code"]!.GetValue<string>(), Name: d["name"]!.GetValue<string>()))
            .Where(d => workload.Communes.Any(c => c.DepartementCode == d.Code))
            .OrderBy(d => d.Code, StringComparer.Ordinal)
            .Where((d, i) => i % options.Every == 0 || d.Code is MapLoader.Nord or PasDeCalais).ToList();
        var chosen = all.Select(d => d.Code).ToHashSet();
        var epcis = (await api.GetAllPagesAsync("/v1/organisations?kind=EPCI&limit=500", Admin, ct))
            .ToDictionary(e => e["id"]!.GetValue<Guid>(), e => e["name"]!.GetValue<string>());

        // The delegates first: a CIAS per EPCI, a CCAS per commune outside any EPCI.
        var delegates = new System.Collections.Concurrent.ConcurrentDictionary<Guid, (Guid Id, string Key)>(); // EPCI or commune id → delegate
        var needed = workload.Communes.Where(c => chosen.Contains(c.DepartementCode)).Select(c => c.EpciId is { } e && epcis.ContainsKey(e) ? (Key: e, Epci: true, c) : (Key: c.Id, Epci: false, c))
            .DistinctBy(x => x.Key).ToList();
        await Parallel.ForEachAsync(needed, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (x, t) =>
        {
            var id = x.Epci
                ? await api.PostOrExistingAsync("/v1/organisations", new { kind = "CIAS", name = $"CIAS {epcis[x.Key]}", epciId = x.Key }, Admin, t)
                : await api.PostOrExistingAsync("/v1/organisations", new { kind = "CCAS", name = $"CCAS de {x.c.Name}", communeId = x.c.Id }, Admin, t);
            delegates[x.Key] = (id, await apiProcess.CreateKeyAsync(id, $"benchmark push {id}", [Scopes.ConventionsRead, Scopes.ConventionsWrite], t));
        });

        var result = new System.Collections.Concurrent.ConcurrentBag<Departement>();
        await Parallel.ForEachAsync(all, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (d, t) =>
        {
            var key = await apiProcess.CreateKeyAsync(d.Id, $"benchmark push {d.Name}", PusherScopes, t);
            var communes = new List<(Commune, Guid, Guid)>();
            foreach (var group in workload.Communes.Where(c => c.DepartementCode == d.Code)
                         .GroupBy(c => c.EpciId is { } e && epcis.ContainsKey(e) ? e : c.Id))
            {
                var (delegateId, delegateKey) = delegates[group.Key];
                var convention = await SignedConventionAsync(new
                {
                    type = "DELEGATION", reference = $"PUSH-{d.Code}-{delegateId.ToString("N")[^12..]}",
                    @object = $"Délégation de l'accueil et de l'instruction des aides légales du département ({d.Name})",
                    parties = new[] { new { organisationId = d.Id, role = "Délégant" }, new { organisationId = delegateId, role = "Délégataire" } },
                    competences, communeIds = group.Select(c => c.Id).ToArray(),
                    startOn = LoadStart, endOn = new DateOnly(2035, 12, 31), noticeDays = 90, allowsSubdelegation = false,
                }, key, delegateKey, t);
                communes.AddRange(group.Select(c => (c, delegateId, convention)));
            }
            result.Add(new Departement(d.Id, d.Code, d.Name, key, [.. communes.OrderBy(c => c.Item1.Code, StringComparer.Ordinal)]));
        });
        Console.WriteLine($"Set-up in {watch.Elapsed.TotalSeconds:F0} s: {delegates.Count:N0} delegates (CIAS of each EPCI, CCAS of communes in none), " +
                          $"one signed convention per (département, delegate).");
        return [.. result.OrderBy(d => d.Code, StringComparer.Ordinal)];
    }

    private async Task<Guid> SignedConventionAsync(object body, string departementKey, string delegateKey, CancellationToken ct)
    {
        var id = (await api.PostAsync("/v1/conventions", body, departementKey, ct))["id"]!.GetValue<Guid>();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        await api.PostAsync($"/v1/conventions/{id}/signatures", new { signerName = "Président du conseil départemental", signedOn = today }, departementKey, ct);
        await api.PostAsync($"/v1/conventions/{id}/signatures", new { signerName = "Président du CIAS", signedOn = today }, delegateKey, ct);
        return id;
    }

    /// <summary>
    /// The provider's fastest way to write the same rows, without any rule: PostgreSQL binary COPY, SQLite one
    /// prepared INSERT executed per row; one transaction per call, into a scratch table without index.
    /// </summary>
    private sealed class NativePath : IAsyncDisposable
    {
        private readonly System.Data.Common.DbConnection connection;
        private NativePath(System.Data.Common.DbConnection connection) => this.connection = connection;

        public static string Describe(Db db) => db.Dialect.Provider == DatabaseProvider.PostgreSQL
            ? "binary COPY into a scratch table, one transaction per département"
            : "one prepared INSERT per row into a scratch table, one transaction per département";

        public static string Short(Db db) => db.Dialect.Provider == DatabaseProvider.PostgreSQL ? "binary COPY" : "prepared INSERT";

        public static async Task<NativePath> CreateAsync(Db db, CancellationToken ct)
        {
            var c = await db.OpenAsync(ct);
            var uuid = db.Dialect.Provider == DatabaseProvider.PostgreSQL ? "uuid" : "TEXT";
            await c.ExecuteAsync($"DROP TABLE IF EXISTS bench_native_push");
            await c.ExecuteAsync($"""
                CREATE TABLE bench_native_push (external_ref varchar(100) NOT NULL, competence_code varchar(32) NOT NULL, delegate_id {uuid} NOT NULL,
                    communes text NOT NULL, start_on date NOT NULL, end_on date NOT NULL, convention_id {uuid} NOT NULL)
                """);
            return new NativePath(c);
        }

        public async Task<TimeSpan> WriteAsync(IEnumerable<object?[]> rows, CancellationToken ct)
        {
            var list = rows.ToList(); // built before the clock starts
            var watch = Stopwatch.StartNew();
            await using var tx = await connection.BeginTransactionAsync(ct);
            if (connection is Npgsql.NpgsqlConnection npgsql)
            {
                await using var copy = await npgsql.BeginBinaryImportAsync(
                    "COPY bench_native_push (external_ref, competence_code, delegate_id, communes, start_on, end_on, convention_id) FROM STDIN (FORMAT BINARY)", ct);
                foreach (var r in list)
                {
                    await copy.StartRowAsync(ct);
                    await copy.WriteAsync((string)r[0]!, NpgsqlTypes.NpgsqlDbType.Text, ct);
                    await copy.WriteAsync((string)r[1]!, NpgsqlTypes.NpgsqlDbType.Text, ct);
                    await copy.WriteAsync((Guid)r[2]!, NpgsqlTypes.NpgsqlDbType.Uuid, ct);
                    await copy.WriteAsync((string)r[3]!, NpgsqlTypes.NpgsqlDbType.Text, ct);
                    await copy.WriteAsync((DateOnly)r[4]!, NpgsqlTypes.NpgsqlDbType.Date, ct);
                    await copy.WriteAsync((DateOnly)r[5]!, NpgsqlTypes.NpgsqlDbType.Date, ct);
                    await copy.WriteAsync((Guid)r[6]!, NpgsqlTypes.NpgsqlDbType.Uuid, ct);
                }
                await copy.CompleteAsync(ct);
            }
            else
            {
                await using var insert = connection.CreateCommand();
                insert.Transaction = tx;
                insert.CommandText = "INSERT INTO bench_native_push VALUES (@a, @b, @c, @d, @e, @f, @g)";
                var parameters = "abcdefg".Select(n => { var p = insert.CreateParameter(); p.ParameterName = "@" + n; insert.Parameters.Add(p); return p; }).ToArray();
                insert.Prepare();
                foreach (var r in list)
                {
                    for (var i = 0; i < parameters.Length; i++)
                        parameters[i].Value = r[i] switch { Guid g => g.ToString(), DateOnly d => d.ToString("yyyy-MM-dd"), var v => v };
                    insert.ExecuteNonQuery();
                }
            }
            await tx.CommitAsync(ct);
            return watch.Elapsed;
        }

        public async ValueTask DisposeAsync()
        {
            await connection.ExecuteAsync("DROP TABLE IF EXISTS bench_native_push");
            await connection.DisposeAsync();
        }
    }
}
