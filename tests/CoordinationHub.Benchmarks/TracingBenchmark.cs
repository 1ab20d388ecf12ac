using System.Net;

namespace CoordinationHub.Benchmarks;

/// <summary>
/// Issue 27: what tracing costs the lookup. Three instances over the same database: one as shipped (no telemetry), one
/// tracing at 10 % with an OTLP exporter posting to a collector that answers 200 and drops everything, one with metrics
/// on too; measured one after the other in slices (off, tracing, both, off…), so that whatever else the machine does
/// weighs on each alike.
/// </summary>
public sealed class TracingBenchmark(ApiProcess apiProcess, ApiClient api, LoadGenerator generator, BenchmarkOptions options, Workload workload)
{
    public async Task<int> RunAsync(CancellationToken ct)
    {
        await new MapLoader(apiProcess, api, workload, options.Every).LoadAsync(ct);
        using var collector = new NoOpCollector();
        Console.WriteLine($"Starting two more instances tracing at 10 %, OTLP (http/protobuf) to a no-op collector on {collector.Address}: " +
                          "one without metrics, one with…");
        string[] tracing =
        [
            "--Telemetry:Tracing:Enabled=true", "--Telemetry:SamplingRatio=0.1",
            $"--Telemetry:Otlp:Endpoint={collector.Address}", "--Telemetry:Otlp:Protocol=http/protobuf",
        ];
        await using var traced = await apiProcess.StartSecondAsync([.. tracing, "--Telemetry:Metrics:Enabled=false"], ct);
        await using var full = await apiProcess.StartSecondAsync([.. tracing, "--Telemetry:Metrics:Enabled=true"], ct);
        using var tracedGenerator = new LoadGenerator(traced.BaseAddress, options.Concurrency);
        using var fullGenerator = new LoadGenerator(full.BaseAddress, options.Concurrency);
        var key = await MapLoader.ReaderKeyAsync(apiProcess, api, ct);
        var modes = new[]
        {
            (Name: "lookup, tracing off", Generator: generator, Process: apiProcess, Requests: workload.Lookups(apiProcess.BaseAddress, 1 << 16, seed: 1)),
            (Name: "lookup, tracing on (10 %)", Generator: tracedGenerator, Process: traced, Requests: workload.Lookups(traced.BaseAddress, 1 << 16, seed: 1)),
            (Name: "lookup, tracing + metrics on", Generator: fullGenerator, Process: full, Requests: workload.Lookups(full.BaseAddress, 1 << 16, seed: 1)),
        };
        foreach (var m in modes)
        {
            Console.WriteLine($"Warming up {m.Name} for {options.Warmup.TotalSeconds:F0} s…");
            await m.Generator.RunAsync(m.Name + " (warm-up)", m.Requests, key, options.Warmup, ct);
        }
        var slices = modes.Select(_ => new List<LoadResult>()).ToArray();
        var cpu = new TimeSpan[modes.Length];
        var slice = options.Duration / options.Rounds;
        Console.WriteLine($"Measuring {options.Rounds} rounds (off, tracing, tracing + metrics) of {slice.TotalSeconds:F1} s each at concurrency {options.Concurrency}…");
        for (var round = 0; round < options.Rounds; round++)
        {
            for (var i = 0; i < modes.Length; i++)
            {
                GC.Collect();
                var before = modes[i].Process.CpuTime;
                slices[i].Add(await modes[i].Generator.RunAsync(modes[i].Name, modes[i].Requests, key, slice, ct));
                cpu[i] += modes[i].Process.CpuTime - before;
            }
            Console.WriteLine($"  round {round + 1}: off {slices[0][^1].RequestsPerSecond:N0} req/s, tracing {slices[1][^1].RequestsPerSecond:N0} req/s " +
                              $"({slices[1][^1].RequestsPerSecond / slices[0][^1].RequestsPerSecond:P0}), with metrics {slices[2][^1].RequestsPerSecond:N0} req/s " +
                              $"({slices[2][^1].RequestsPerSecond / slices[0][^1].RequestsPerSecond:P0})");
        }
        var results = slices.Select(LoadResult.Combine).ToArray();
        foreach (var (r, i) in results.Select((r, i) => (r, i)))
        {
            r.Print();
            Console.WriteLine($"    server CPU per request {cpu[i].TotalMicroseconds / r.Requests:F0} µs");
        }
        var ratio = results[1].RequestsPerSecond / results[0].RequestsPerSecond;
        var fullRatio = results[2].RequestsPerSecond / results[0].RequestsPerSecond;
        var perRound = slices[0].Zip(slices[1], (off, on) => on.RequestsPerSecond / off.RequestsPerSecond).ToList();
        double CpuPerRequest(int i) => cpu[i].TotalMicroseconds / results[i].Requests;
        string Spread(List<LoadResult> s) => $"{s.Min(r => r.RequestsPerSecond):N0}–{s.Max(r => r.RequestsPerSecond):N0} req/s";
        Console.WriteLine();
        Console.WriteLine("| measure                                |        value | target   | result |");
        Console.WriteLine("|----------------------------------------|-------------:|----------|--------|");
        Row("lookup, tracing off", $"{results[0].RequestsPerSecond:N0} req/s", "", null);
        Row("lookup, tracing on (10 %)", $"{results[1].RequestsPerSecond:N0} req/s", "", null);
        Row("lookup, tracing + metrics on", $"{results[2].RequestsPerSecond:N0} req/s", "", null);
        Row("tracing on / off", $"{ratio:P1}", ">= 90 %", ratio >= 0.9);
        Row("tracing on / off per round, min–max", $"{perRound.Min():P0}–{perRound.Max():P0}", "", null);
        Row("tracing + metrics / off", $"{fullRatio:P1}", "", null);
        Row("off slices, min–max", Spread(slices[0]), "", null);
        Row("tracing slices, min–max", Spread(slices[1]), "", null);
        Row("p99 off / tracing / + metrics", $"{results[0].PercentileMs(99):F1}/{results[1].PercentileMs(99):F1}/{results[2].PercentileMs(99):F1} ms", "", null);
        Row("server CPU a request off / tr. / + m.", $"{CpuPerRequest(0):F0}/{CpuPerRequest(1):F0}/{CpuPerRequest(2):F0} µs", "", null);
        // Bound by the cores alone, the throughput ratio would be the inverse ratio of CPU per request.
        Row("CPU-bound tracing / off", $"{CpuPerRequest(0) / CpuPerRequest(1):P0}", "", null);
        Row("OTLP posts received", $"{collector.Posts:N0}", "> 0", collector.Posts > 0);
        return results.Any(r => r.ErrorCount > 0) ? 1 : 0;
    }

    private static void Row(string measure, string value, string target, bool? met) =>
        Console.WriteLine($"| {measure,-38} | {value,12} | {target,-8} | {(met is null ? "" : met.Value ? "met" : "MISSED"),-6} |");

    /// <summary>An OTLP/HTTP endpoint that takes every export and keeps nothing: the exporter's cost without a collector's.</summary>
    private sealed class NoOpCollector : IDisposable
    {
        private readonly HttpListener listener = new();
        private long posts;

        public NoOpCollector()
        {
            var port = FreePort();
            Address = $"http://127.0.0.1:{port}/";
            listener.Prefixes.Add(Address);
            listener.Start();
            _ = ServeAsync();
        }

        public string Address { get; }
        public long Posts => Interlocked.Read(ref posts);

        private async Task ServeAsync()
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try { context = await listener.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
                await context.Request.InputStream.CopyToAsync(Stream.Null);
                Interlocked.Increment(ref posts);
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/x-protobuf";
                context.Response.Close();
            }
        }

        private static int FreePort()
        {
            using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            l.Start();
            return ((IPEndPoint)l.LocalEndpoint).Port;
        }

        public void Dispose() => listener.Close();
    }
}
