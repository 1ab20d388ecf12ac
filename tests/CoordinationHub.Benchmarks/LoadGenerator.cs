using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;

namespace CoordinationHub.Benchmarks;

/// <summary>What one phase measured. Latencies are Stopwatch ticks, sorted, one per request.</summary>
public sealed record LoadResult(string Name, long Requests, TimeSpan Elapsed, long[] Latencies, IReadOnlyDictionary<string, long> Errors, IReadOnlyList<string> ErrorSamples)
{
    /// <summary>Answers read from a map older than a write acknowledged before the request was sent.</summary>
    public long Stale { get; init; }
    public double RequestsPerSecond => Requests / Elapsed.TotalSeconds;
    public long ErrorCount => Errors.Values.Sum();
    public double PercentileMs(double p) => Latencies.Length == 0 ? double.NaN
        : Ms(Latencies[Math.Clamp((int)Math.Ceiling(p / 100 * Latencies.Length) - 1, 0, Latencies.Length - 1)]);
    public double MaxMs => Latencies.Length == 0 ? double.NaN : Ms(Latencies[^1]);
    public static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    /// <summary>One result from the slices of a phase that was measured in several rounds.</summary>
    public static LoadResult Combine(IReadOnlyList<LoadResult> slices)
    {
        var latencies = slices.SelectMany(s => s.Latencies).ToArray();
        Array.Sort(latencies);
        var errors = slices.SelectMany(s => s.Errors).GroupBy(e => e.Key).ToDictionary(g => g.Key, g => g.Sum(e => e.Value));
        return new LoadResult(slices[0].Name, slices.Sum(s => s.Requests), TimeSpan.FromTicks(slices.Sum(s => s.Elapsed.Ticks)),
            latencies, errors, slices.SelectMany(s => s.ErrorSamples).Take(5).ToList()) { Stale = slices.Sum(s => s.Stale) };
    }

    public void Print()
    {
        Console.WriteLine($"  {Name}: {Requests:N0} requests in {Elapsed.TotalSeconds:F1} s = {RequestsPerSecond:N0} req/s; " +
                          $"latency p50 {PercentileMs(50):F2} ms, p90 {PercentileMs(90):F2} ms, p99 {PercentileMs(99):F2} ms, max {MaxMs:F2} ms; errors {ErrorCount}" +
                          (Stale > 0 ? $"; STALE {Stale}" : ""));
        foreach (var (kind, count) in Errors) Console.WriteLine($"    {count,8:N0} × {kind}");
        foreach (var sample in ErrorSamples) Console.WriteLine($"    e.g. {sample}");
    }
}

/// <summary>
/// A closed-loop load generator: <c>concurrency</c> workers, each sending its next GET as soon as the
/// previous answer is read, for a fixed duration, over one HTTP/1.1 keep-alive connection pool.
/// Request URIs are built before the clock starts, so the generator spends its CPU on HTTP only.
/// </summary>
public sealed class LoadGenerator : IDisposable
{
    private readonly SocketsHttpHandler handler;
    /// <summary>The open-loop runs' connections, kept from one run to the next (a warm-up run opens them).</summary>
    private readonly SocketsHttpHandler openLoop = new() { MaxConnectionsPerServer = 256, UseProxy = false, UseCookies = false, AllowAutoRedirect = false };
    private readonly Uri baseAddress;

    public LoadGenerator(Uri baseAddress, int concurrency)
    {
        this.baseAddress = baseAddress;
        Concurrency = concurrency;
        handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = concurrency,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = false,
        };
    }

    public int Concurrency { get; }

    /// <summary>A client on the shared connection pool; <paramref name="key"/> goes in every request's Authorization header.</summary>
    public HttpClient Client(string? key) => new(handler, disposeHandler: false)
    {
        BaseAddress = baseAddress,
        DefaultRequestVersion = HttpVersion.Version11,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = TimeSpan.FromSeconds(60),
        DefaultRequestHeaders = { Authorization = key is null ? null : new AuthenticationHeaderValue("Bearer", key) },
    };

    /// <param name="acknowledged">
    /// When given, the map generation of the last acknowledged write: every answer's <c>Map-Generation</c>
    /// must be at least what it was when the request was sent, or the answer is counted stale.
    /// </param>
    public Task<LoadResult> RunAsync(string name, IReadOnlyList<Uri> requests, string? key, TimeSpan duration, CancellationToken ct,
        Func<long>? acknowledged = null) =>
        RunAsync(name, random => new HttpRequestMessage(HttpMethod.Get, requests[random.Next(requests.Count)]), key, duration, ct, acknowledged);

    /// <summary>Runs requests made by <paramref name="next"/> (each worker draws from its own seeded random).</summary>
    public async Task<LoadResult> RunAsync(string name, Func<Random, HttpRequestMessage> next, string? key, TimeSpan duration, CancellationToken ct,
        Func<long>? acknowledged = null)
    {
        using var client = Client(key);
        var workers = new Worker[Concurrency];
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var tasks = new Task[Concurrency];
        for (var i = 0; i < Concurrency; i++)
        {
            workers[i] = new Worker(client, next, seed: i * 7919 + 17, acknowledged);
            var worker = workers[i];
            tasks[i] = Task.Run(() => worker.RunAsync(deadline, ct), ct);
        }
        await Task.WhenAll(tasks);
        var elapsed = Stopwatch.GetElapsedTime(started);

        var latencies = new long[workers.Sum(w => w.Latencies.Count)];
        var at = 0;
        foreach (var w in workers) { w.Latencies.CopyTo(latencies, at); at += w.Latencies.Count; }
        Array.Sort(latencies);
        var errors = workers.SelectMany(w => w.Errors).GroupBy(e => e.Key).ToDictionary(g => g.Key, g => g.Sum(e => e.Value));
        var samples = workers.SelectMany(w => w.ErrorSamples).Take(5).ToList();
        return new LoadResult(name, latencies.Length, elapsed, latencies, errors, samples) { Stale = workers.Sum(w => w.Stale) };
    }

    /// <summary>
    /// Starts <paramref name="total"/> calls at <paramref name="perSecond"/> a second, on schedule whatever their pace: every
    /// call due goes, then a millisecond's sleep (the starts stay on schedule to within it); then waits for them all.
    /// </summary>
    public static async Task PacedAsync(double perSecond, int total, Func<int, Task> start, CancellationToken ct)
    {
        var calls = new List<Task>(total);
        var started = Stopwatch.GetTimestamp();
        var interval = Stopwatch.Frequency / perSecond;
        for (var i = 0; i < total && !ct.IsCancellationRequested;)
        {
            for (var now = Stopwatch.GetTimestamp(); i < total && started + (long)(i * interval) <= now; i++) calls.Add(start(i));
            await Task.Delay(1, ct);
        }
        await Task.WhenAll(calls);
    }

    /// <summary>
    /// An open-loop run: <paramref name="perSecond"/> requests a second, sent on schedule whatever the answers' pace
    /// (up to 256 in flight, each on a connection of its own), for a latency at a load the server carries with room
    /// to spare, where closed-loop workers would take every core. Each latency runs from the send.
    /// </summary>
    public async Task<LoadResult> RunAtRateAsync(string name, IReadOnlyList<Uri> requests, string? key, double perSecond, TimeSpan duration,
        CancellationToken ct)
    {
        using var client = new HttpClient(openLoop, disposeHandler: false) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var random = new Random(17);
        var total = (int)(perSecond * duration.TotalSeconds);
        var latencies = new long[total];
        var errors = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        var samples = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var started = Stopwatch.GetTimestamp();
        await PacedAsync(perSecond, total, i => SendAsync(i, requests[random.Next(requests.Count)]), ct);
        var elapsed = Stopwatch.GetElapsedTime(started);
        Array.Sort(latencies);
        return new LoadResult(name, total, elapsed, latencies, errors, samples.Take(5).ToList());

        async Task SendAsync(int i, Uri uri)
        {
            var sent = Stopwatch.GetTimestamp();
            try
            {
                using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseContentRead, ct);
                latencies[i] = Stopwatch.GetTimestamp() - sent;
                if (!response.IsSuccessStatusCode) Record($"HTTP {(int)response.StatusCode}", $"{(int)response.StatusCode} GET {uri}");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                latencies[i] = Stopwatch.GetTimestamp() - sent;
                Record(e.GetType().Name, $"GET {uri}: {e.Message}");
            }
        }

        void Record(string kind, string sample)
        {
            errors.AddOrUpdate(kind, 1, (_, n) => n + 1);
            if (samples.Count < 2) samples.Enqueue(sample);
        }
    }

    private sealed class Worker(HttpClient client, Func<Random, HttpRequestMessage> next, int seed, Func<long>? acknowledged)
    {
        public long Stale { get; private set; }
        private readonly Random random = new(seed);
        public List<long> Latencies { get; } = new(1 << 16);
        public Dictionary<string, long> Errors { get; } = [];
        public List<string> ErrorSamples { get; } = [];

        public async Task RunAsync(long deadline, CancellationToken ct)
        {
            while (Stopwatch.GetTimestamp() < deadline && !ct.IsCancellationRequested)
            {
                using var request = next(random);
                var uri = $"{request.Method} {request.RequestUri}";
                var floor = acknowledged?.Invoke() ?? 0;
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    // The whole body is read before the latency is taken.
                    using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
                    Latencies.Add(Stopwatch.GetTimestamp() - sent);
                    if (acknowledged is not null && response.IsSuccessStatusCode
                        && (!response.Headers.TryGetValues("Map-Generation", out var values) || long.Parse(values.First()) < floor))
                        Stale++;
                    if (!response.IsSuccessStatusCode)
                    {
                        var body = await response.Content.ReadAsStringAsync(ct);
                        Record($"HTTP {(int)response.StatusCode}", $"{(int)response.StatusCode} {uri}: {Shorten(body)}");
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
                {
                    Latencies.Add(Stopwatch.GetTimestamp() - sent);
                    Record(e.GetType().Name, $"{uri}: {e.Message}");
                }
            }
        }

        private void Record(string kind, string sample)
        {
            Errors[kind] = Errors.GetValueOrDefault(kind) + 1;
            if (ErrorSamples.Count < 2) ErrorSamples.Add(sample);
        }

        private static string Shorten(string s) => s.Length <= 300 ? s : s[..300] + "…";
    }

    public void Dispose()
    {
        handler.Dispose();
        openLoop.Dispose();
    }
}
