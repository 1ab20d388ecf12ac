using System.Collections.Concurrent;
using System.Diagnostics;
using CoordinationHub.Platform.Auth;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CoordinationHub.Benchmarks;

/// <summary>
/// Issue 15's benchmark (<c>--webhooks</c>): deliveries per second from the outbox to a local receiver
/// (10,000 events × 5 subscribers), and the competence-map lookup p99 while the dispatcher works
/// against the same lookups with the dispatcher idle, in one run.
/// </summary>
public static class WebhookBenchmark
{
    public const int Events = 10_000;
    public const int Subscribers = 5;
    private const int FloorPerSecond = 1_000;
    private const int WarmUpEvents = 2_000;
    private const int Conventions = 100;

    public static async Task<int> RunAsync(BenchmarkOptions options, CancellationToken ct)
    {
        await using var receiver = await CountingReceiver.StartAsync();
        await using var apiProcess = await ApiProcess.StartAsync(options, ct);
        using var api = new ApiClient(apiProcess.BaseAddress);
        using var generator = new LoadGenerator(apiProcess.BaseAddress, options.Concurrency);
        var admin = apiProcess.AdminKey;
        var workload = await Workload.FetchAsync(api, admin, withCatalogue: true, ct);

        // Five partner organisations of Nord, each subscribed to every convention event.
        var nord = (await api.GetAsync("/v1/organisations?kind=DEPARTEMENT&departement=59", admin, ct))["items"]!.AsArray()[0]!["id"]!.GetValue<Guid>();
        var partners = new List<Guid>();
        for (var i = 0; i < Subscribers; i++)
        {
            var id = await api.PostOrExistingAsync("/v1/organisations",
                new { kind = "PARTNER", name = $"Abonné webhook {i + 1} (benchmark)", partnerCategory = "ASSOCIATION", departementCode = "59" }, admin, ct);
            var key = await apiProcess.CreateKeyAsync(id, $"benchmark subscriber {i + 1}", [Scopes.WebhooksManage, Scopes.ConventionsWrite], ct);
            await api.PostAsync("/v1/webhook-subscriptions", new { url = $"{receiver.Url}/{i}", eventTypes = new[] { "convention.*" } }, key, ct);
            partners.Add(id);
        }
        // 100 draft conventions with the six of them as parties: the events' resources (100 per convention,
        // delivered in order per resource and subscriber).
        var nordKey = await apiProcess.CreateKeyAsync(nord, "benchmark Nord", [Scopes.ConventionsWrite], ct);
        var lille = workload.Communes.First(c => c.Code == "59350").Id;
        var conventions = new List<Guid>();
        for (var i = 0; i < Conventions; i++)
        {
            var created = await api.PostAsync("/v1/conventions", new
            {
                type = "PARTNERSHIP", @object = $"Convention de coordination {i + 1} (benchmark)",
                parties = new[] { new { organisationId = nord, role = "Département" } }.Concat(partners.Select(p => new { organisationId = p, role = "Partenaire" })).ToArray(),
                competences = new[] { "AIDE_ALIMENTAIRE" }, communeIds = new[] { lille },
                startOn = "2026-01-01", endOn = "2028-12-31", noticeDays = 90, allowsSubdelegation = false,
            }, nordKey, ct);
            conventions.Add(created["id"]!.GetValue<Guid>());
        }
        // The set-up's own events (convention.created × 100 × 5 subscribers) go out first: the idle phase is idle.
        await WaitAsync(async () => await CountAsync(apiProcess, "SELECT COUNT(*) FROM outbox_event WHERE position IS NULL") == 0
            && await CountAsync(apiProcess, "SELECT COUNT(*) FROM webhook_delivery WHERE status <> 'DELIVERED'") == 0, ct);
        await receiver.RefreshAsync();
        var setUp = receiver.Count;
        // The dispatcher warms up too, as in a process that has been dispatching: its code is compiled to tier 1 before
        // anything is measured (on a cold dispatcher the JIT took about a second of CPU in the first seconds).
        await CommitEventsAsync(apiProcess, conventions, WarmUpEvents, ct);
        await WaitAsync(async () => { await receiver.RefreshAsync(); return receiver.Unique >= setUp + WarmUpEvents * Subscribers; }, ct);
        var warmUp = receiver.Count - setUp;
        await receiver.ResetAsync();
        Console.WriteLine($"Set-up: {Subscribers} subscriptions, {Conventions} conventions ({setUp} set-up and {warmUp:N0} warm-up " +
                          "deliveries, not counted).");

        var lookups = workload.Lookups(apiProcess.BaseAddress, 1 << 16, seed: 1);
        var readerKey = await MapLoader.ReaderKeyAsync(apiProcess, api, ct);
        Console.WriteLine($"Lookups with the dispatcher idle, {options.Duration.TotalSeconds:F0} s at concurrency {options.Concurrency}…");
        await generator.RunAsync("warm-up", lookups, readerKey, options.Warmup, ct);
        var runtime = await Runtime.ReadAsync(api, admin, ct);
        var idle = await generator.RunAsync("lookup, dispatcher idle", lookups, readerKey, options.Duration, ct);
        var idleRuntime = await Runtime.ReadAsync(api, admin, ct) - runtime;
        // The same lookups at a fixed rate, half what the closed loop reached: a load the server carries with room to spare.
        var rate = Math.Round(idle.RequestsPerSecond / 2 / 100) * 100;
        await generator.RunAtRateAsync("warm-up", lookups, readerKey, rate, options.Warmup, ct);
        var idleAtRate = await generator.RunAtRateAsync($"lookup at {rate:N0}/s, dispatcher idle", lookups, readerKey, rate, options.Duration, ct);

        // The floor: the same closed-loop lookups while 1,000 bare webhook-sized POSTs a second go between two other
        // processes' sockets (the receiver process posting to itself: no database, no signing, no API). Whatever this costs
        // the lookups, any dispatcher making 1,000 deliveries a second on these cores costs at least that.
        await receiver.BlastAsync(FloorPerSecond, options.Duration + TimeSpan.FromSeconds(1));
        runtime = await Runtime.ReadAsync(api, admin, ct);
        var floor = await generator.RunAsync($"lookup, {FloorPerSecond:N0} bare POSTs/s beside", lookups, readerKey, options.Duration, ct);
        var floorRuntime = await Runtime.ReadAsync(api, admin, ct) - runtime;
        var (blasted, blastCpu) = await receiver.BlastDoneAsync();

        // The events, committed at once into the outbox as the API's own transactions write them.
        var expected = Events * Subscribers;
        await CommitEventsAsync(apiProcess, conventions, Events, ct);
        var watch = Stopwatch.StartNew();
        var committedAt = DateTime.UtcNow;
        var (serverCpu, receiverCpu) = (apiProcess.CpuTime, receiver.CpuTime);
        Console.WriteLine($"{Events:N0} events committed; lookups while {expected:N0} deliveries go out…");
        runtime = await Runtime.ReadAsync(api, admin, ct);
        var busy = await generator.RunAsync("lookup, while dispatching", lookups, readerKey, options.Duration, ct);
        var busyRuntime = await Runtime.ReadAsync(api, admin, ct) - runtime;
        await receiver.RefreshAsync();
        var duringLookups = receiver.Unique;
        var busyAtRate = await generator.RunAtRateAsync($"lookup at {rate:N0}/s, while dispatching", lookups, readerKey, rate, options.Duration, ct);
        await receiver.RefreshAsync();
        var duringRate = receiver.Unique - duringLookups;
        var serverCpuAfterLookups = apiProcess.CpuTime;
        var report = Stopwatch.StartNew();
        await WaitAsync(async () =>
        {
            await receiver.RefreshAsync();
            if (report.Elapsed > TimeSpan.FromSeconds(5))
            {
                Console.WriteLine($"  {watch.Elapsed.TotalSeconds:F0} s: {receiver.Unique:N0} delivered");
                report.Restart();
            }
            return receiver.Unique >= expected;
        }, ct, TimeSpan.FromMinutes(10));
        // Until the last delivery reached the receiver, not until the windows ended: with long windows it came before.
        var elapsed = new DateTime(receiver.LastNewAt, DateTimeKind.Utc) - committedAt;
        // CPU per delivery does not depend on what else the machine runs, unlike deliveries/s. The server's
        // share includes the lookups of the busy window; the receiver's is its own process's.
        var serverCpuEnd = apiProcess.CpuTime;
        serverCpu = serverCpuEnd - serverCpu;
        receiverCpu = receiver.CpuTime - receiverCpu;
        var perDelivery = serverCpu.TotalMicroseconds / expected;
        // The same once the lookups stopped (sequencing is mostly done by then): the calls and their records.
        var afterWindows = expected - duringLookups - duringRate;
        var alone = afterWindows >= 1_000
            ? $"; {(serverCpuEnd - serverCpuAfterLookups).TotalMicroseconds / afterWindows:F0} µs after the lookup windows"
            : "";
        var receiverPerDelivery = receiverCpu.TotalMicroseconds / expected;

        // Interleaved rounds: in each, the same lookups with the dispatcher idle, beside the floor's bare POSTs, and while a
        // fresh backlog goes out at full rate, closed-loop and at the fixed rate, a slice each, pooled per condition. The
        // machine drifts (its neighbours on the host: the floor alone ranged over × 0.86–1.52 of idle between single 10 s
        // windows); in turns, a drift falls on every condition alike instead of on one window. Within a condition the two
        // kinds of slice take turns going first.
        var rounds = 2 * options.Rounds;
        var slice = TimeSpan.FromSeconds(2);
        var perRound = (int)Math.Ceiling(expected / elapsed.TotalSeconds * (2 * slice.TotalSeconds + 1) / Subscribers);
        Console.WriteLine($"Interleaved: {rounds} rounds of {slice.TotalSeconds:F0} s slices (closed loop and {rate:N0}/s) idle, beside the floor's " +
                          $"POSTs, and while {perRound:N0} events ({perRound * Subscribers:N0} deliveries) go out…");
        var conditions = new[] { "dispatcher idle", $"{FloorPerSecond:N0} bare POSTs/s beside", "while dispatching" };
        var closedSlices = conditions.Select(_ => new List<LoadResult>()).ToArray();
        var rateSlices = conditions.Select(_ => new List<LoadResult>()).ToArray();
        var turns = conditions.Select(_ => Runtime.Zero).ToArray();
        var target = receiver.Unique;
        for (var round = 0; round < rounds; round++)
        {
            for (var k = 0; k < conditions.Length; k++)
            {
                if (k == 1) await receiver.BlastAsync(FloorPerSecond, 2 * slice + TimeSpan.FromSeconds(0.5));
                if (k == 2) await CommitEventsAsync(apiProcess, conventions, perRound, ct);
                var r0 = await Runtime.ReadAsync(api, admin, ct);
                for (var turn = 0; turn < 2; turn++)
                {
                    if ((turn + round) % 2 == 0)
                        closedSlices[k].Add(await generator.RunAsync($"lookup, {conditions[k]} (interleaved)", lookups, readerKey, slice, ct));
                    else
                        rateSlices[k].Add(await generator.RunAtRateAsync($"lookup at {rate:N0}/s, {conditions[k]} (interleaved)", lookups, readerKey, rate, slice, ct));
                }
                turns[k] += await Runtime.ReadAsync(api, admin, ct) - r0;
                if (k == 1) await receiver.BlastDoneAsync();
            }
            target += perRound * Subscribers;
            await WaitAsync(async () => { await receiver.RefreshAsync(); return receiver.Unique >= target; }, ct);
        }
        var closedI = closedSlices.Select(LoadResult.Combine).ToArray();
        var rateI = rateSlices.Select(LoadResult.Combine).ToArray();
        var p99RatioI = closedI[2].PercentileMs(99) / closedI[0].PercentileMs(99);
        var p99RatioRateI = rateI[2].PercentileMs(99) / rateI[0].PercentileMs(99);

        Console.WriteLine("One window each (10,000 events committed at once):");
        idle.Print();
        idleRuntime.Print(idle.Elapsed);
        floor.Print();
        floorRuntime.Print(floor.Elapsed);
        busy.Print();
        busyRuntime.Print(busy.Elapsed);
        idleAtRate.Print();
        busyAtRate.Print();
        Console.WriteLine($"Interleaved ({rounds} rounds, pooled):");
        for (var k = 0; k < conditions.Length; k++)
        {
            closedI[k].Print();
            rateI[k].Print();
            turns[k].Print(closedI[k].Elapsed + rateI[k].Elapsed);
        }
        Console.WriteLine("    closed-loop p99 per round, idle / floor / dispatching (ms): " + string.Join(", ",
            Enumerable.Range(0, rounds).Select(i => string.Join("/", closedSlices.Select(c => $"{c[i].PercentileMs(99):F2}")))));
        // Each round's own ratios: a condition that costs the lookups nothing is above and below 1 by turns.
        double Median(IEnumerable<double> values) { var v = values.Order().ToArray(); return (v[(v.Length - 1) / 2] + v[v.Length / 2]) / 2; }
        var floorRatios = Enumerable.Range(0, rounds).Select(i => closedSlices[1][i].PercentileMs(99) / closedSlices[0][i].PercentileMs(99)).ToList();
        var busyRatios = Enumerable.Range(0, rounds).Select(i => closedSlices[2][i].PercentileMs(99) / closedSlices[0][i].PercentileMs(99)).ToList();
        Console.WriteLine($"    closed-loop p99 over the same round's idle: floor median × {Median(floorRatios):F2} (× {floorRatios.Min():F2} to " +
                          $"{floorRatios.Max():F2}, above 1 in {floorRatios.Count(r => r > 1)} of {rounds}), dispatching median × {Median(busyRatios):F2} " +
                          $"(× {busyRatios.Min():F2} to {busyRatios.Max():F2}, above 1.2 in {busyRatios.Count(r => r > 1.2)} of {rounds})");
        Console.WriteLine($"    p99 at {rate:N0}/s per round, idle / floor / dispatching (ms): " + string.Join(", ",
            Enumerable.Range(0, rounds).Select(i => string.Join("/", rateSlices.Select(c => $"{c[i].PercentileMs(99):F2}")))));
        var deliveries = expected / elapsed.TotalSeconds;
        var duplicates = receiver.Count - receiver.Unique;
        var p99Ratio = busy.PercentileMs(99) / idle.PercentileMs(99);
        Console.WriteLine($"  deliveries: {expected:N0} in {elapsed.TotalSeconds:F1} s = {deliveries:N0}/s ({duringLookups:N0} of them during the " +
                          $"closed-loop window, {duringRate:N0} during the fixed-rate one); " +
                          $"duplicates {duplicates}; all signed and answered 204");
        Console.WriteLine($"  floor: {blasted:N0} bare POSTs in the window, {blastCpu.TotalMicroseconds / Math.Max(1, blasted):F0} µs of CPU each (sender and receiver in one process)");
        Console.WriteLine($"  CPU: server {perDelivery:F0} µs per delivery (sequencing, lease, sign, post, record){alone}, receiver {receiverPerDelivery:F0} µs; " +
                          $"2 cores would carry {2_000_000 / (perDelivery + receiverPerDelivery):N0} deliveries/s with nothing else running; " +
                          $"load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Console.WriteLine();
        Console.WriteLine("| measure                                   |          value | target            | result |");
        Console.WriteLine("|-------------------------------------------|---------------:|-------------------|--------|");
        Console.WriteLine($"| deliveries/s ({Events:N0} events × {Subscribers} subscribers)  | {deliveries,14:N0} | >= 1,000          | {(deliveries >= 1000 ? "PASS" : "FAIL"),-6} |");
        var floorRatioI = closedI[1].PercentileMs(99) / closedI[0].PercentileMs(99);
        Console.WriteLine($"| lookup p99 idle → dispatching (interleaved) | {closedI[0].PercentileMs(99),4:F2} → {closedI[2].PercentileMs(99),4:F2} ms | <= 1.20 × idle    | {(p99RatioI <= 1.2 ? "PASS" : "FAIL"),-6} |");
        Console.WriteLine($"|   ratio; the floor's (1,000 bare POSTs/s)   | × {p99RatioI,4:F2}; × {floorRatioI,4:F2} |                   |        |");
        Console.WriteLine($"|   req/s idle / floor / dispatching          | {closedI[0].RequestsPerSecond:N0} / {closedI[1].RequestsPerSecond:N0} / {closedI[2].RequestsPerSecond:N0} |                   |        |");
        Console.WriteLine($"| p99 at {rate,6:N0}/s idle → dispatching (interl.) | {rateI[0].PercentileMs(99),4:F2} → {rateI[2].PercentileMs(99),4:F2} ms | (× {p99RatioRateI:F2}; floor × {rateI[1].PercentileMs(99) / rateI[0].PercentileMs(99):F2}) |        |");
        Console.WriteLine($"| one window each: p99 idle → dispatching   | {idle.PercentileMs(99),5:F2} → {busy.PercentileMs(99),5:F2} | (× {p99Ratio:F2}; floor × {floor.PercentileMs(99) / idle.PercentileMs(99):F2}) |        |");
        Console.WriteLine($"| one window each: req/s idle / dispatching | {idle.RequestsPerSecond,6:N0} / {busy.RequestsPerSecond,5:N0} |                   |        |");
        Console.WriteLine($"| at a fixed {rate,6:N0}/s: p99 idle → dispatching | {idleAtRate.PercentileMs(99),5:F2} → {busyAtRate.PercentileMs(99),5:F2} | (× {busyAtRate.PercentileMs(99) / idleAtRate.PercentileMs(99):F2}) |        |");
        var errors = idle.ErrorCount + busy.ErrorCount + idleAtRate.ErrorCount + busyAtRate.ErrorCount + closedI.Sum(r => r.ErrorCount) + rateI.Sum(r => r.ErrorCount);
        if (errors > 0) Console.WriteLine($"ERROR: {errors} lookups failed");
        return errors == 0 ? 0 : 1;
    }

    public static Task<int> ServeReceiverAsync() => CountingReceiver.ServeAsync();

    /// <summary>Commits <paramref name="count"/> events into the outbox in one transaction, round robin over the conventions.</summary>
    private static async Task CommitEventsAsync(ApiProcess apiProcess, List<Guid> conventions, int count, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        await using var c = await apiProcess.Db.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        for (var i = 0; i < count; i++)
            await c.ExecuteAsync(apiProcess.Db.Command(InsertSql, new
            {
                id = Guid.CreateVersion7(), now, eventType = "convention.amendment-proposed", resourceType = "convention",
                resourceId = conventions[i % conventions.Count], payload = "{\"data\":{\"recordedStatus\":\"SIGNED\"}}",
            }, ct, tx));
        await tx.CommitAsync(ct);
    }

    private static async Task<long> CountAsync(ApiProcess apiProcess, string sql)
    {
        await using var c = await apiProcess.Db.OpenAsync(CancellationToken.None);
        return await c.ExecuteScalarAsync<long>(sql);
    }

    private static async Task WaitAsync(Func<Task<bool>> done, CancellationToken ct, TimeSpan? limit = null)
    {
        var until = DateTime.UtcNow + (limit ?? TimeSpan.FromMinutes(2));
        while (!await done())
        {
            if (DateTime.UtcNow > until) throw new TimeoutException("The dispatcher did not finish in time.");
            await Task.Delay(20, ct);
        }
    }

    private const string InsertSql = """
        INSERT INTO outbox_event (id, occurred_at, event_type, resource_type, resource_id, payload)
        VALUES (@id, @now, @eventType, @resourceType, @resourceId, @payload)
        """;

    /// <summary>
    /// A receiver that answers 204 at once and counts deliveries per subscriber and webhook-id, in a process of its own
    /// (this program, run with <c>--webhook-receiver</c>): a subscriber is another machine, and in the harness's process
    /// its request handling shared the thread pool of the lookup generator, whose answers then waited behind it.
    /// </summary>
    private sealed class CountingReceiver : IAsyncDisposable
    {
        private readonly Process process;
        private readonly HttpClient client;

        private CountingReceiver(Process process, string url)
        {
            this.process = process;
            Url = url + "/hook";
            client = new HttpClient { BaseAddress = new Uri(url) };
        }

        public string Url { get; }
        public long Count { get; private set; }
        public int Unique { get; private set; }
        /// <summary>When the receiver last got a (subscriber, webhook-id) pair it had not had (UTC ticks).</summary>
        public long LastNewAt { get; private set; }
        public TimeSpan CpuTime { get { process.Refresh(); return process.TotalProcessorTime; } }

        /// <summary>Reads the counts (Count, Unique) from the receiver.</summary>
        public async Task RefreshAsync()
        {
            var counts = System.Text.Json.Nodes.JsonNode.Parse(await client.GetStringAsync("/counts"))!;
            (Count, Unique, LastNewAt) = (counts["count"]!.GetValue<long>(), counts["unique"]!.GetValue<int>(), counts["lastNewAt"]!.GetValue<long>());
        }

        /// <summary>Starts the receiver posting to itself, <paramref name="perSecond"/> a second for <paramref name="duration"/>.</summary>
        public async Task BlastAsync(int perSecond, TimeSpan duration)
        {
            blastCpu = CpuTime;
            (await client.PostAsync($"/blast?perSecond={perSecond}&milliseconds={(int)duration.TotalMilliseconds}", null)).EnsureSuccessStatusCode();
        }

        /// <summary>Waits for the blast to end: the POSTs answered, and the receiver process's CPU meanwhile.</summary>
        public async Task<(long Sent, TimeSpan Cpu)> BlastDoneAsync()
        {
            var sent = long.Parse(await client.GetStringAsync("/blast"));
            return (sent, CpuTime - blastCpu);
        }

        private TimeSpan blastCpu;

        public async Task ResetAsync()
        {
            (await client.PostAsync("/reset", null)).EnsureSuccessStatusCode();
            await RefreshAsync();
        }

        public static async Task<CountingReceiver> StartAsync()
        {
            var self = Environment.ProcessPath!;
            var start = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
            // Run as `dotnet CoordinationHub.Benchmarks.dll`: the host, then the program.
            if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(CountingReceiver).Assembly.Location);
            start.ArgumentList.Add("--webhook-receiver");
            var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {self}.");
            var url = await process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("The receiver did not start.");
            return new CountingReceiver(process, url);
        }

        /// <summary>The receiver's own process: prints its address on the first line of its output, then serves until its input closes.</summary>
        public static async Task<int> ServeAsync()
        {
            var ids = new ConcurrentDictionary<string, int>();
            long count = 0, lastNewAt = 0;
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            // One path per subscriber: the webhook-id is the event's, the same for the five of them.
            app.MapPost("/hook/{subscriber}", (HttpContext http, string subscriber) =>
            {
                var key = subscriber + "/" + http.Request.Headers["webhook-id"].ToString();
                if (ids.TryAdd(key, 1)) Interlocked.Exchange(ref lastNewAt, DateTime.UtcNow.Ticks);
                else ids.AddOrUpdate(key, 1, (_, n) => n + 1);
                Interlocked.Increment(ref count);
                return Results.NoContent();
            });
            app.MapGet("/counts", () => Results.Ok(new { count = Interlocked.Read(ref count), unique = ids.Count, lastNewAt = Interlocked.Read(ref lastNewAt) }));
            // The floor: posts to itself at a fixed rate, each with a webhook's size and headers; GET waits for the end.
            Task<long> blast = Task.FromResult(0L);
            app.MapPost("/blast", (int perSecond, int milliseconds, HttpContext http) =>
            {
                blast = BlastAsync(http.Request.Host.ToString(), perSecond, TimeSpan.FromMilliseconds(milliseconds));
                return Results.Accepted();
            });
            app.MapGet("/blast", async () => (await blast).ToString());
            app.MapPost("/sink", () => Results.NoContent());
            app.MapPost("/reset", () =>
            {
                ids.Clear();
                Interlocked.Exchange(ref count, 0);
                return Results.NoContent();
            });
            await app.StartAsync();
            Console.WriteLine(app.Urls.First());
            // Until the benchmark closes the pipe (it ends, or it was killed): a receiver never outlives it.
            await Console.In.ReadToEndAsync();
            await app.StopAsync();
            return 0;
        }

        private static async Task<long> BlastAsync(string host, int perSecond, TimeSpan duration)
        {
            using var sender = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = new Uri($"http://{host}") };
            var body = "{\"id\":\"" + Guid.CreateVersion7() + "\",\"type\":\"convention.amendment-proposed\",\"timestamp\":\"2026-11-26T10:00:00+00:00\"," +
                       "\"data\":{\"resourceType\":\"convention\",\"resourceId\":\"" + Guid.CreateVersion7() + "\",\"recordedStatus\":\"SIGNED\"}}";
            var signature = "v1," + Convert.ToBase64String(new byte[32]);
            var total = (int)(perSecond * duration.TotalSeconds);
            await LoadGenerator.PacedAsync(perSecond, total, _ => PostAsync(), CancellationToken.None);
            return total;

            async Task PostAsync()
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/sink") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
                request.Headers.Add("webhook-id", "msg_floor");
                request.Headers.Add("webhook-timestamp", "1795000000");
                request.Headers.Add("webhook-signature", signature);
                using var response = await sender.SendAsync(request);
                response.EnsureSuccessStatusCode();
            }
        }

        public async ValueTask DisposeAsync()
        {
            client.Dispose();
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }
            process.Dispose();
        }
    }
}

/// <summary>The API process's runtime counters (<c>GET /bench/runtime</c>); a difference of two readings covers a window.</summary>
public sealed record Runtime(int Gen0, int Gen1, int Gen2, double PausedMs, long AllocatedBytes, long WorkItems, int Threads, IReadOnlyDictionary<string, double> CpuMs)
{
    public static async Task<Runtime> ReadAsync(ApiClient api, string key, CancellationToken ct) =>
        System.Text.Json.JsonSerializer.Deserialize<Runtime>(await api.GetAsync("/bench/runtime", key, ct), System.Text.Json.JsonSerializerOptions.Web)!;

    public static readonly Runtime Zero = new(0, 0, 0, 0, 0, 0, 0, new Dictionary<string, double>());

    public static Runtime operator +(Runtime a, Runtime b) => new(a.Gen0 + b.Gen0, a.Gen1 + b.Gen1, a.Gen2 + b.Gen2, a.PausedMs + b.PausedMs,
        a.AllocatedBytes + b.AllocatedBytes, a.WorkItems + b.WorkItems, Math.Max(a.Threads, b.Threads), Merge(a.CpuMs, b.CpuMs, 1));

    public static Runtime operator -(Runtime a, Runtime b) => new(a.Gen0 - b.Gen0, a.Gen1 - b.Gen1, a.Gen2 - b.Gen2, a.PausedMs - b.PausedMs,
        a.AllocatedBytes - b.AllocatedBytes, a.WorkItems - b.WorkItems, a.Threads, Merge(a.CpuMs, b.CpuMs, -1));

    private static Dictionary<string, double> Merge(IReadOnlyDictionary<string, double> a, IReadOnlyDictionary<string, double> b, int sign) =>
        a.Keys.Union(b.Keys).ToDictionary(k => k, k => a.GetValueOrDefault(k) + sign * b.GetValueOrDefault(k));

    public void Print(TimeSpan window) => Console.WriteLine(
        $"    runtime: {Gen0 / window.TotalSeconds:F1} gen0/s, gen1 {Gen1}, gen2 {Gen2}, GC paused {PausedMs:F0} ms ({PausedMs / window.TotalMilliseconds:P1}), " +
        $"{AllocatedBytes / window.TotalSeconds / 1e6:F1} MB/s allocated, {WorkItems / window.TotalSeconds:N0} pool items/s, {Threads} pool threads; " +
        "CPU by thread (% of a core): " + string.Join(", ", CpuMs.Where(p => p.Value / window.TotalMilliseconds >= 0.005)
            .OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value / window.TotalMilliseconds:P0}")));
}
