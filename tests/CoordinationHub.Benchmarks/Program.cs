using CoordinationHub.Benchmarks;
using CoordinationHub.Platform.Data;

// The benchmark of issue 8 (see README.md):
//   dotnet run -c Release --project tests/CoordinationHub.Benchmarks -- [--duration 10] [--concurrency 32]
//        [--warmup 3] [--rounds 5] [--provider Sqlite|PostgreSQL --connection "..."] [--baseline-only] [--keep-data]
//        [--referrals | --webhooks | --push | --indicators | --tracing]
// A measurement, not a test: it exits 0 when a target is missed, 1 only when something failed.

// The API under measurement, with the benchmark's floors and counters: started by ApiProcess as a process of its own.
if (args is [BenchHost.Mode, .. var settings]) return await BenchHost.RunAsync(settings, ApiProcess.ApiDirectory());

// The --webhooks benchmark's receiver, started by the benchmark itself as a process of its own.
if (args is ["--webhook-receiver"]) return await WebhookBenchmark.ServeReceiverAsync();

BenchmarkOptions options;
try { options = BenchmarkOptions.Parse(args); }
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(BenchmarkOptions.Usage);
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
var ct = cancel.Token;
if (options.Webhooks) return await WebhookBenchmark.RunAsync(options, ct);

Console.WriteLine($"CoordinationHub benchmark: {options.Provider}, concurrency {options.Concurrency}, {options.Duration.TotalSeconds:F0} s per phase " +
                  $"(+{options.Warmup.TotalSeconds:F0} s warm-up), {Environment.ProcessorCount} cores, .NET {Environment.Version}" +
                  (options.BaselineOnly ? ", baseline only" : ""));
try
{
    var errors = new List<string>();
    await using var apiProcess = await ApiProcess.StartAsync(options, ct);
    using var api = new ApiClient(apiProcess.BaseAddress);
    using var generator = new LoadGenerator(apiProcess.BaseAddress, options.Concurrency);

    var workload = await Workload.FetchAsync(api, apiProcess.AdminKey, withCatalogue: !options.BaselineOnly, ct);
    Console.WriteLine($"Referential: {workload.Communes.Count:N0} current communes; catalogue: {workload.Catalogue.Count} competences ({workload.Legal.Count} legal).");
    if (options.Indicators) return await new IndicatorBenchmark(apiProcess, generator, options, workload).RunAsync(ct);
    if (options.Referrals) return await new ReferralBenchmark(apiProcess, api, generator, options, workload).RunAsync(ct);
    if (options.Push) return await new PushBenchmark(apiProcess, api, generator, options, workload).RunAsync(ct);
    if (options.Tracing) return await new TracingBenchmark(apiProcess, api, generator, options, workload).RunAsync(ct);

    // The phases are measured in interleaved rounds (lookup, baseline, ceiling, lookup, …) so that
    // whatever else the machine does during the run weighs on each of them alike: the ratio is the figure.
    var phases = new List<Phase>();
    ExportResult? export = null;
    MixedWriter? writer = null;
    if (!options.BaselineOnly)
    {
        await new MapLoader(apiProcess, api, workload, options.Every).LoadAsync(ct);
        await PrintMapAsync(apiProcess, api, "after the load", ct);
        writer = await MixedWriter.PrepareAsync(apiProcess, api, workload, 150, ct);
        var readerKey = await MapLoader.ReaderKeyAsync(apiProcess, api, ct);
        var lookups = workload.Lookups(apiProcess.BaseAddress, 1 << 16, seed: 1);
        phases.Add(new Phase("competence-map lookup (read-only)", lookups, readerKey) { Checked = true });
        phases.Add(new Phase($"competence-map lookup (mixed: {options.WritesPerSecond:F0} writes/s)", lookups, readerKey) { Writes = true, Checked = true });
    }
    phases.Add(new Phase("baseline (PK read)", workload.BaselineReads(apiProcess.BaseAddress, 1 << 16, seed: 2), null));
    phases.Add(new Phase("/health/live (generator ceiling)", [new Uri(apiProcess.BaseAddress, "/health/live")], null));

    foreach (var phase in phases)
    {
        Console.WriteLine($"Warming up {phase.Name} for {options.Warmup.TotalSeconds:F0} s…");
        var warmup = await RunAsync(generator, writer, options.WritesPerSecond, phase, phase.Name + " (warm-up)", options.Warmup, ct);
        if (warmup.ErrorCount > 0) warmup.Print();
    }
    var slice = options.Duration / options.Rounds;
    Console.WriteLine($"Measuring {phases.Count} phases × {options.Rounds} rounds of {slice.TotalSeconds:F1} s at concurrency {options.Concurrency}…");
    for (var round = 0; round < options.Rounds; round++)
    {
        foreach (var phase in phases)
        {
            GC.Collect();
            var (server, client) = (apiProcess.CpuTime, Environment.CpuUsage.TotalTime);
            phase.Slices.Add(await RunAsync(generator, writer, options.WritesPerSecond, phase, phase.Name, slice, ct));
            phase.ServerCpu += apiProcess.CpuTime - server;
            phase.GeneratorCpu += Environment.CpuUsage.TotalTime - client;
        }
        Console.WriteLine($"  round {round + 1}: {string.Join(", ", phases.Select(p => $"{p.Slices[^1].RequestsPerSecond:N0} req/s"))}");
    }
    var results = phases.Select(p => LoadResult.Combine(p.Slices)).ToList();
    foreach (var (r, p) in results.Zip(phases))
    {
        r.Print();
        // CPU per request does not depend on what else runs on the machine, unlike req/s.
        Console.WriteLine($"    CPU per request: server {p.ServerCpu.TotalMicroseconds / r.Requests:F0} µs, generator {p.GeneratorCpu.TotalMicroseconds / r.Requests:F0} µs");
    }
    var lookup = options.BaselineOnly ? null : results[0];
    var mixed = options.BaselineOnly ? null : results[1];
    WriteResult? writes = writer is null ? null : new WriteResult(writer);
    writes?.Print();
    var peakRss = apiProcess.Memory.Peak;
    if (!options.BaselineOnly)
    {
        await PrintMapAsync(apiProcess, api, "after the phases", ct);
        var (ready, rss, peak) = await apiProcess.StartAnotherAsync(ct);
        Console.WriteLine($"A second instance over the same database: ready in {ready.TotalSeconds:F1} s (the whole map loaded at start), " +
                          $"RSS {rss / 1048576.0:F0} MB (peak {peak / 1048576.0:F0} MB).");
        peakRss = Math.Max(peakRss, peak);
    }
    var (baseline, ceiling) = (results[^2], results[^1]);

    if (!options.BaselineOnly)
    {
        export = await ExportResult.MeasureAsync(api, await MapLoader.ReaderKeyAsync(apiProcess, api, ct), workload, ct);
        export.Print();
        if (!export.RowCountMatches) errors.Add($"the Nord export has {export.Rows:N0} rows, expected {export.ExpectedRows:N0}");
    }

    Summary.Print(lookup, mixed, writes, Math.Max(peakRss, apiProcess.Memory.Peak), baseline, ceiling, export);
    foreach (var r in new[] { lookup, mixed, baseline, ceiling })
        if (r is { ErrorCount: > 0 }) errors.Add($"{r.Name}: {r.ErrorCount:N0} failed requests");
    foreach (var e in errors) Console.WriteLine("ERROR: " + e);
    return errors.Count == 0 ? 0 : 1;
}
catch (ApiException e) when (e.Status is 404 or 405 && !options.BaselineOnly)
{
    Console.Error.WriteLine($"ERROR: {e.Message}");
    Console.Error.WriteLine("The competence, convention or delegation endpoints are missing from this build; run with --baseline-only until they land.");
    return 1;
}
catch (ApiException e)
{
    Console.Error.WriteLine($"ERROR: {e.Message}");
    return 1;
}
catch (OperationCanceledException) when (ct.IsCancellationRequested)
{
    Console.Error.WriteLine("Interrupted.");
    return 130;
}

// A mixed phase runs the writer beside the readers for the same slice; readers check every
// answer's Map-Generation against the writer's last acknowledged write.
static async Task<LoadResult> RunAsync(LoadGenerator generator, MixedWriter? writer, double perSecond, Phase phase, string name, TimeSpan duration,
    CancellationToken ct)
{
    var until = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
    var writing = phase.Writes ? writer!.RunAsync(perSecond, until, ct) : Task.CompletedTask;
    var result = await generator.RunAsync(name, phase.Requests, phase.Key, duration, ct, phase.Checked ? () => writer!.Acknowledged : null);
    await writing;
    return result;
}

static async Task PrintMapAsync(ApiProcess apiProcess, ApiClient api, string when, CancellationToken ct)
{
    var map = await api.GetAsync("/bench/map", apiProcess.AdminKey, ct);
    var (rss, peak) = apiProcess.Memory;
    Console.WriteLine($"Map in memory {when}: generation {map["generation"]}, {map["keys"]:N0} (commune, competence) keys, " +
                      $"{map["periods"]} delegated periods, {map["organisations"]} organisations, {map["communes"]} communes; " +
                      $"server RSS {rss / 1048576.0:F0} MB (peak {peak / 1048576.0:F0} MB).");
}

sealed record Phase(string Name, Uri[] Requests, string? Key)
{
    /// <summary>The writer runs beside the readers (the mixed phase).</summary>
    public bool Writes { get; init; }
    /// <summary>Answers are map lookups: each must be at least at the last acknowledged write's generation.</summary>
    public bool Checked { get; init; }
    public List<LoadResult> Slices { get; } = [];
    public TimeSpan ServerCpu { get; set; }
    public TimeSpan GeneratorCpu { get; set; }
}

public sealed record BenchmarkOptions(
    TimeSpan Duration, TimeSpan Warmup, int Rounds, int Concurrency, DatabaseProvider Provider, string? Connection, bool BaselineOnly, bool KeepData,
    int Every = 1, double WritesPerSecond = 5, bool Referrals = false, bool Webhooks = false, bool Push = false, bool CreateOnly = false,
    bool Tracing = false, bool Indicators = false)
{
    public const string Usage = """
        Usage: dotnet run -c Release --project tests/CoordinationHub.Benchmarks -- [options]
          --duration <s>        seconds measured per phase (default 10)
          --warmup <s>          seconds of warm-up before each phase (default 3)
          --rounds <n>          the duration is measured in n interleaved slices per phase (default 5)
          --concurrency <n>     concurrent requests (default 32)
          --provider <p>        Sqlite (default: a fresh database in a temp folder) or PostgreSQL
          --connection <cs>     the PostgreSQL connection string (an empty database)
          --every <n>           load every n-th département only (default 1: all of them)
          --writes <n>          writes per second in the mixed phase (default 5)
          --baseline-only       skip the map: measure the baseline and /health/live only
          --keep-data           keep the temp folder (SQLite file, admin key) afterwards
          --referrals           the referral benchmark (issue 13) instead of the map's
          --create-only         with --referrals: only create-referral vs the baseline INSERT (no list, no reads)
          --indicators          issue 26: a département's public indicators with the rollups of 10,000 then 1,000,000 referrals
          --webhooks            issue 15: deliveries/s (10,000 events × 5 subscribers) and lookup p99 while dispatching vs idle
          --push                issue 16: the national load pushed through the API vs the native bulk path, lookups meanwhile,
                                memory during pushes of 20,000 and 200,000 records (lookups at concurrency 2 unless given)
          --tracing             issue 27: the lookup on an instance tracing at 10 % (OTLP to a no-op collector) vs one not
                                tracing, over the same database, in interleaved slices
        """;

    public static BenchmarkOptions Parse(string[] args)
    {
        var o = new BenchmarkOptions(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(3), 5, 32, DatabaseProvider.Sqlite, null, false, false);
        var concurrencyGiven = false;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--concurrency") concurrencyGiven = true;
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            o = args[i] switch
            {
                "--duration" => o with { Duration = TimeSpan.FromSeconds(Positive(Value(), "--duration")) },
                "--warmup" => o with { Warmup = TimeSpan.FromSeconds(double.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture)) },
                "--rounds" => o with { Rounds = (int)Positive(Value(), "--rounds") },
                "--concurrency" => o with { Concurrency = (int)Positive(Value(), "--concurrency") },
                "--provider" => o with { Provider = Enum.TryParse<DatabaseProvider>(Value(), ignoreCase: true, out var p) && p != DatabaseProvider.SqlServer ? p : throw new ArgumentException("--provider is Sqlite or PostgreSQL.") },
                "--connection" => o with { Connection = Value() },
                "--every" => o with { Every = (int)Positive(Value(), "--every") },
                "--writes" => o with { WritesPerSecond = Positive(Value(), "--writes") },
                "--baseline-only" => o with { BaselineOnly = true },
                "--keep-data" => o with { KeepData = true },
                "--referrals" => o with { Referrals = true },
                "--create-only" => o with { CreateOnly = true },
                "--webhooks" => o with { Webhooks = true },
                "--push" => o with { Push = true },
                "--tracing" => o with { Tracing = true },
                "--indicators" => o with { Indicators = true },
                "--help" or "-h" => throw new ArgumentException("CoordinationHub benchmark."),
                _ => throw new ArgumentException($"Unknown option {args[i]}."),
            };
        }
        if (o.Webhooks && !concurrencyGiven) o = o with { Concurrency = 4 };
        if (o.Push && !concurrencyGiven) o = o with { Concurrency = 2 };
        if (o.Indicators && !concurrencyGiven) o = o with { Concurrency = 4 };
        if (o.Provider == DatabaseProvider.PostgreSQL && o.Connection is null) throw new ArgumentException("--provider PostgreSQL needs --connection \"Host=…;Database=…\".");
        return o;
    }

    private static double Positive(string value, string name) =>
        double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new ArgumentException($"{name} must be a positive number.");
}

/// <summary>The whole-département CSV export of Nord (every commune × the whole catalogue), timed 5 times.</summary>
public sealed record ExportResult(TimeSpan[] Times, long Rows, long ExpectedRows)
{
    public const string Path = "/v1/competence-map/export?departement=59&date=2026-06-01&format=csv";
    public bool RowCountMatches => Rows == ExpectedRows;
    public TimeSpan Min => Times.Min();
    public TimeSpan Median => Times.Order().ElementAt(Times.Length / 2);

    public static async Task<ExportResult> MeasureAsync(ApiClient api, string key, Workload workload, CancellationToken ct)
    {
        var expected = (long)workload.Communes.Count(c => c.DepartementCode == MapLoader.Nord) * workload.Catalogue.Count;
        var times = new List<TimeSpan>();
        long rows = 0;
        for (var i = 0; i < 5; i++)
        {
            var (body, elapsed) = await api.GetTextAsync(Path, key, ct);
            times.Add(elapsed);
            // Header line excluded; names are quoted when they hold a comma, never a line break.
            rows = body.Split('\n').Count(l => l.Trim().Length > 0) - 1;
        }
        return new ExportResult([.. times], rows, expected);
    }

    public void Print() =>
        Console.WriteLine($"  Nord CSV export: min {Min.TotalMilliseconds:F0} ms, median {Median.TotalMilliseconds:F0} ms over {Times.Length} runs " +
                          $"({string.Join(", ", Times.Select(t => t.TotalMilliseconds.ToString("F0")))} ms); {Rows:N0} rows, expected {ExpectedRows:N0} " +
                          (RowCountMatches ? "(OK)" : "(MISMATCH)"));
}

public static class Summary
{
    public static void Print(LoadResult? lookup, LoadResult? mixed, WriteResult? writes, long peakRss, LoadResult baseline, LoadResult ceiling, ExportResult? export)
    {
        Console.WriteLine();
        Console.WriteLine("| measure                          |        value | target      | result |");
        Console.WriteLine("|----------------------------------|-------------:|-------------|--------|");
        if (lookup is not null) Row("lookup throughput", $"{lookup.RequestsPerSecond:N0} req/s", "", null);
        Row("baseline throughput (PK read)", $"{baseline.RequestsPerSecond:N0} req/s", "", null);
        Row("/health/live (generator ceiling)", $"{ceiling.RequestsPerSecond:N0} req/s", "", null);
        if (lookup is not null)
        {
            var ratio = lookup.RequestsPerSecond / baseline.RequestsPerSecond;
            Row("lookup / baseline", $"{ratio:F2}", ">= 0.50", ratio >= 0.50);
            Row("lookup p99", $"{lookup.PercentileMs(99):F2} ms", "< 10 ms", lookup.PercentileMs(99) < 10);
        }
        if (lookup is not null && mixed is not null && writes is not null)
        {
            Row("mixed lookup throughput", $"{mixed.RequestsPerSecond:N0} req/s", "", null);
            var kept = mixed.RequestsPerSecond / lookup.RequestsPerSecond;
            Row("mixed / read-only lookups", $"{kept:P0}", ">= 90 %", kept >= 0.90);
            Row("mixed lookup p50", $"{mixed.PercentileMs(50):F2} ms", "", null);
            Row("mixed lookup p99", $"{mixed.PercentileMs(99):F2} ms", "<= 10 ms", mixed.PercentileMs(99) <= 10);
            Row("writes p50", $"{writes.PercentileMs(50):F1} ms", "", null);
            Row("writes p99", $"{writes.PercentileMs(99):F1} ms", "<= 50 ms", writes.PercentileMs(99) <= 50);
            var stale = lookup.Stale + mixed.Stale + writes.Mismatches;
            Row("stale answers", $"{stale:N0}", "0", stale == 0);
            Row("peak RSS (either instance)", $"{peakRss / 1048576.0:F0} MB", "< 400 MB", peakRss < 400L * 1048576);
        }
        else
        {
            Row("baseline / generator ceiling", $"{baseline.RequestsPerSecond / ceiling.RequestsPerSecond:F2}", "", null);
        }
        Row("baseline p99", $"{baseline.PercentileMs(99):F2} ms", "", null);
        if (export is not null) Row("Nord CSV export (median)", $"{export.Median.TotalMilliseconds:F0} ms", "< 1 s", export.Median < TimeSpan.FromSeconds(1));
        Console.WriteLine();
    }

    private static void Row(string measure, string value, string target, bool? pass) =>
        Console.WriteLine($"| {measure,-32} | {value,12} | {target,-11} | {(pass is null ? "" : pass.Value ? "PASS" : "FAIL"),-6} |");
}

/// <summary>The mixed phase's writes: latency of each acknowledged write, and the writer's own read-backs.</summary>
public sealed class WriteResult(MixedWriter writer)
{
    private readonly long[] latencies = [.. writer.Latencies.Order()];
    public int Mismatches => writer.Mismatches;
    public double PercentileMs(double p) => latencies.Length == 0 ? double.NaN
        : LoadResult.Ms(latencies[Math.Clamp((int)Math.Ceiling(p / 100 * latencies.Length) - 1, 0, latencies.Length - 1)]);

    public void Print()
    {
        Console.WriteLine($"  writes (create, change, end a delegation; register a CCAS): {latencies.Length} acknowledged; " +
                          $"p50 {PercentileMs(50):F1} ms, p99 {PercentileMs(99):F1} ms, max {PercentileMs(100):F1} ms; " +
                          $"read-backs not showing the write: {Mismatches}");
        foreach (var sample in writer.MismatchSamples) Console.WriteLine($"    e.g. {sample}");
    }
}
