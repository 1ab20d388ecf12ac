using System.Data.Common;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using CoordinationHub.Platform;
using CoordinationHub.Platform.Data;
using Dapper;
using Microsoft.Extensions.Options;

namespace CoordinationHub.Features.Webhooks;

/// <summary>
/// Delivers webhooks at least once. Each loop: sequence new outbox events (which creates the
/// deliveries), then, in one transaction, record the calls that finished and lease the due deliveries
/// that fit in the free slots (a lease is a row update: <c>lease_owner</c>, <c>leased_until</c>;
/// PostgreSQL skips rows another instance is leasing, SQL Server reads past them, SQLite has one
/// writer), and post each one on its own task. A killed process leaves its leases to expire; another
/// dispatcher then takes them again, so nothing is lost and a delivery may be repeated (receivers
/// de-duplicate on <c>webhook-id</c>). Only the oldest pending delivery of a resource is leased for
/// a subscription, so events of one resource arrive in order. Each subscription has its own slots
/// and every call a timeout, so a slow receiver delays only itself. Failures are retried on the
/// persisted schedule (<c>next_attempt_at</c>), not in memory, so retries survive restarts; that is
/// also why there is no Polly retry around the call: every attempt is recorded and listed.
/// </summary>
public sealed class WebhookDispatcher(
    Db db, EventSequencer sequencer, UrlGuard guard, TimeProvider clock, IOptions<WebhookOptions> options, ILogger<WebhookDispatcher> logger,
    Platform.Security.DataKeys keys)
    : BackgroundService
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly string name = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";
    // Calls in flight, by delivery, and their count per subscription: the loop alone reads and writes them.
    private readonly Dictionary<Guid, Task> inFlight = [];
    private readonly Dictionary<Guid, int> perSubscription = [];
    private readonly Channel<Result> finished = Channel.CreateUnbounded<Result>(new() { SingleReader = true });
    private readonly HttpClient http = new(guard.CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan };
    private long batch;
    private DateTimeOffset nextPurge;

    private WebhookOptions O => options.Value;

    // The loop and its calls' own code run on a low-priority thread: lookups win the cores when both want them.
    private SingleThreadScheduler? scheduler;

    protected override Task ExecuteAsync(CancellationToken stopping)
    {
        if (!O.Dispatch) return Task.CompletedTask;
        scheduler = new SingleThreadScheduler("Webhook dispatcher", nice: 10);
        return scheduler.RunAsync(() => LoopAsync(stopping));
    }

    private async Task LoopAsync(CancellationToken stopping)
    {
        var results = new List<Result>();
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                // SQLite has one writer: the tick's sequencing rides in its record-and-lease transaction (one commit, where
                // two wrote the same delivery pages to the WAL). A server keeps it apart, so that the sequencer's row lock,
                // which the other instances' sequencers wait for, is not held through this instance's leases.
                var together = db.Dialect.Provider == DatabaseProvider.Sqlite;
                var limit = SequenceLimit;
                var apart = together ? (0, 0) : await sequencer.RunOnceAsync(limit, stopping);
                var sequence = together && await sequencer.AnyPendingAsync(stopping) ? limit : 0;
                while (finished.Reader.TryRead(out var r)) results.Add(r);
                // A span for a batch that records or sequences something; none for the idle polls.
                using var activity = results.Count > 0 || sequence > 0 ? Telemetry.Source.StartActivity("WebhookDispatch") : null;
                activity?.SetTag("coordinationhub.webhooks.results", results.Count);
                var withLeases = await RecordAndLeaseAsync(results, lease: true, sequence, stopping);
                var (sequenced, created) = together ? withLeases : apart;
                if (sequenced > 0) fanOut = (double)created / sequenced;
                results.Clear();
                activity?.Dispose();
                await PurgeWhenDueAsync(stopping);
                await MeasureBacklogWhenDueAsync(stopping);
                // What was due is leased: the next lease is worth a transaction once a call finishes. Capped, a tick
                // passes even while a backlog is sequenced, so that the backlog's cost is spread too.
                if (sequenced == 0 || Capped) await WaitAsync(backlog: sequenced >= limit, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The calls of a batch that could not be recorded are delivered again once their leases expire.
                if (!db.Outage.Observe(e)) logger.LogError(e, "Webhook dispatcher loop failed; trying again");
                Free(results);
                results.Clear();
                try { await Task.Delay(O.PollInterval, stopping); } catch (OperationCanceledException) { break; }
            }
        }
        // Stopping: calls in flight are cancelled and left leased, as a killed process would leave them;
        // a call that was answered is recorded.
        await Task.WhenAll(inFlight.Values);
        while (finished.Reader.TryRead(out var r)) results.Add(r);
        if (results.Count > 0) await RecordAndLeaseAsync(results, lease: false, sequence: 0, CancellationToken.None);
    }

    public override void Dispose()
    {
        http.Dispose();
        scheduler?.Dispose();
        base.Dispose();
    }

    private double tokens;
    private long refilledAt = Stopwatch.GetTimestamp();
    // The last lease stopped at the rate cap: more may be due at the next tick.
    private bool heldBack;
    private long leases;

    /// <summary>
    /// With a rate cap, one record-and-lease transaction per tick, and the tick's calls spread over it: a steady
    /// stream instead of bursts, and batches large enough that the transaction's fixed cost stays small (a
    /// transaction for every call that finished cost three times the CPU per delivery).
    /// </summary>
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    /// <summary>Deliveries that may start now under <c>MaxDeliveriesPerSecond</c>: a token bucket holding two ticks.</summary>
    private int Allowance()
    {
        if (!Capped) return int.MaxValue;
        var now = Stopwatch.GetTimestamp();
        tokens = Math.Min(2 * Tick.TotalSeconds * O.MaxDeliveriesPerSecond,
            tokens + Stopwatch.GetElapsedTime(refilledAt, now).TotalSeconds * O.MaxDeliveriesPerSecond);
        refilledAt = now;
        return (int)tokens;
    }

    private bool Capped => O.MaxDeliveriesPerSecond > 0;

    /// <summary>
    /// Events sequenced per loop: capped, enough per tick to create twice the deliveries the cap starts in a tick (some
    /// slack, so that the leases never wait for the sequencer), at the last batch's deliveries per event (an event
    /// nobody subscribed to counts as one). A backlog was sequenced flat out
    /// (10,000 events committed at once: 20 batches of 500 back to back, each 60–85 ms of CPU in SQLite's one writer on an
    /// otherwise idle machine), taking a core from the API for seconds whatever the cap on the calls.
    /// </summary>
    private int SequenceLimit => Capped ? Math.Max(1, (int)(2 * O.MaxDeliveriesPerSecond * Tick.TotalSeconds / Math.Max(1, fanOut))) : int.MaxValue;

    private double fanOut = 1;

    /// <summary>
    /// Until a call finishes or the poll interval passes (new events, retries now due); capped, a tick at least, and
    /// no more when the cap held leases back or a backlog waits to be sequenced.
    /// </summary>
    private async Task WaitAsync(bool backlog, CancellationToken stopping)
    {
        var waited = TimeSpan.Zero;
        if (Capped)
        {
            await Task.Delay(Tick, stopping);
            if (heldBack || backlog) return;
            waited = Tick;
        }
        using var wake = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        wake.CancelAfter(O.PollInterval > waited ? O.PollInterval - waited : TimeSpan.Zero);
        try
        {
            await finished.Reader.WaitToReadAsync(wake.Token);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// One transaction: up to <paramref name="sequence"/> new events sequenced (their deliveries created), the outcomes of
    /// the finished calls (many rows a statement: a commit per delivery would cap the rate at what the disk syncs per
    /// second), then new leases for the slots they free. Recorded first, so that the next event of a resource just
    /// delivered is due in the same transaction.
    /// </summary>
    private async Task<(int Events, int Deliveries)> RecordAndLeaseAsync(List<Result> results, bool lease, int sequence, CancellationToken ct)
    {
        if (sequence == 0 && results.Count == 0 && (!lease || inFlight.Count >= O.MaxInFlight)) return (0, 0);
        var owner = $"{name}/{Interlocked.Increment(ref batch)}";
        var now = clock.GetUtcNow();
        var freed = results.CountBy(r => r.Row.SubscriptionId).ToDictionary();
        var (sequenced, rows) = await db.InTransactionAsync(async (c, tx, t) =>
        {
            (int Events, int Deliveries) s = sequence > 0 ? await sequencer.SequenceAsync(c, tx, sequence, t) : (0, 0);
            if (results.Count > 0) await RecordAsync(c, tx, results, now, t);
            return (s, lease ? await LeaseAsync(c, tx, owner, now, freed, t) : []);
        }, ct);
        sequencer.Committed(sequenced.Events);
        Free(results);
        tokens -= rows.Count;
        // Capped, the calls start in small groups across the tick (a group wakes the threads once).
        var slices = Capped ? 10 : 1;
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            perSubscription[row.SubscriptionId] = perSubscription.GetValueOrDefault(row.SubscriptionId) + 1;
            inFlight[row.Id] = DeliverAsync(row, owner, Tick * (i * slices / rows.Count) / slices, ct);
        }
        return sequenced;
    }

    private void Free(List<Result> results)
    {
        foreach (var r in results)
        {
            inFlight.Remove(r.Row.Id);
            perSubscription[r.Row.SubscriptionId]--;
        }
    }

    private async Task RecordAsync(DbConnection c, DbTransaction tx, List<Result> results, DateTimeOffset now, CancellationToken t)
    {
        // Successes in one statement per lease and status code; failures one by one (they are rare).
        foreach (var g in results.Where(r => r.Outcome.Succeeded).GroupBy(r => (r.Owner, r.Outcome.Status)))
        {
            var ids = g.Select(r => r.Row.Id).ToList();
            await c.ExecuteAsync(db.Command(DeliveredSql, new { ids, owner = g.Key.Owner, now, statusCode = g.Key.Status }, t, tx));
            Telemetry.Deliveries.Add(ids.Count, new KeyValuePair<string, object?>("outcome", "delivered"));
        }
        foreach (var r in results.Where(r => !r.Outcome.Succeeded)) await RecordFailureAsync(c, tx, r, t);
        var healthy = results.Where(r => r.Outcome.Succeeded).Select(r => r.Row.SubscriptionId).Distinct().ToList();
        if (healthy.Count > 0) await c.ExecuteAsync(db.Command(HealthySql, new { ids = healthy }, t, tx));
        await db.InsertRowsAsync(c, tx, "webhook_attempt", AttemptColumns, AttemptTypes, results.Select(r => new object?[]
        {
            Guid.CreateVersion7(), r.Row.Id, r.Row.SubscriptionId, r.Row.EventId, r.Row.Attempts + 1, r.At,
            r.Outcome.Succeeded ? "SUCCEEDED" : "FAILED", r.Outcome.Status, r.LatencyMs, r.Outcome.Error, r.Outcome.Excerpt, name,
        }), t);
    }

    private async Task RecordFailureAsync(DbConnection c, DbTransaction tx, Result r, CancellationToken t)
    {
        var (row, owner, outcome, now) = (r.Row, r.Owner, r.Outcome, r.At);
        var attemptNo = row.Attempts + 1;
        var dead = !outcome.Retryable || attemptNo > O.Backoff.Length;
        Telemetry.Deliveries.Add(1, new KeyValuePair<string, object?>("outcome", dead ? "dead" : "retry"));
        var next = dead ? now : now + (outcome.RetryAfter is { } ra ? Min(ra, O.MaxRetryAfter) : Jittered(O.Backoff[attemptNo - 1]));
        await c.ExecuteAsync(db.Command(FailedSql, new
        {
            id = row.Id, owner, attemptNo, next, status = dead ? "DEAD" : "PENDING", statusCode = outcome.Status,
            error = Truncate(outcome.Error ?? $"HTTP {outcome.Status}"),
        }, t, tx));
        await c.ExecuteAsync(db.Command(FailingSql, new { id = row.SubscriptionId, now }, t, tx));
        await c.ExecuteAsync(db.Command(DisableSql, new
        {
            id = row.SubscriptionId, now, cutoff = now - O.DisableAfter,
            reason = Truncate($"Every delivery failed for {O.DisableAfter.TotalDays:0.#} days; the last: {outcome.Error ?? $"HTTP {outcome.Status}"}."),
        }, t, tx));
    }

    /// <param name="freed">Slots of each subscription freed by the outcomes recorded in this transaction.</param>
    private async Task<List<LeasedDelivery>> LeaseAsync(
        DbConnection c, DbTransaction tx, string owner, DateTimeOffset now, Dictionary<Guid, int> freed, CancellationToken t)
    {
        var allowance = Allowance();
        var capacity = Math.Min(O.MaxInFlight - inFlight.Count + freed.Values.Sum(), allowance);
        heldBack = allowance <= 0;
        if (capacity <= 0) return [];
        // One query per subscription with free slots: a query over all subscriptions would walk every
        // pending row of the busy ones (and of blocked resources) to find nothing. Fair shares first: when the cap
        // leaves room for only part of what is due, every subscription gets its share before any gets more (the ones
        // listed first took every slot, and the last one's backlog went out alone at the end, 32 calls a tick).
        var ids = new List<Guid>();
        var subscriptions = (await c.QueryAsync<Guid>(db.Command(ActiveSql, null, t, tx))).ToList();
        if (subscriptions.Count == 0) return [];
        var start = (int)(leases++ % subscriptions.Count); // the share's rounding favours each in turn
        var order = subscriptions.Skip(start).Concat(subscriptions.Take(start)).ToList();
        var share = (capacity + order.Count - 1) / order.Count;
        var taken = new Dictionary<Guid, int>();
        var dry = new HashSet<Guid>();
        foreach (var limit in (int[])[share, int.MaxValue]) // the fair share, then what the others left
        {
            foreach (var subscriptionId in order)
            {
                if (ids.Count >= capacity) break;
                if (dry.Contains(subscriptionId)) continue;
                var had = taken.GetValueOrDefault(subscriptionId);
                var busy = perSubscription.GetValueOrDefault(subscriptionId) - freed.GetValueOrDefault(subscriptionId) + had;
                var free = Math.Min(Math.Min(O.MaxInFlightPerSubscription - busy, capacity - ids.Count), limit - had);
                if (free <= 0) continue;
                // In this transaction the rows the first pass took come first again: skip them.
                var due = (await c.QueryAsync<Guid>(db.Command(DueSql, new { now, subscriptionId, limit = had + free }, t, tx))).Skip(had).ToList();
                ids.AddRange(due);
                taken[subscriptionId] = had + due.Count;
                if (due.Count < free) dry.Add(subscriptionId);
            }
        }
        heldBack = ids.Count >= allowance;
        if (ids.Count == 0) return [];
        // By id, not by owner: lease_owner has no index, and a lookup by it would read the whole table.
        await c.ExecuteAsync(db.Command(LeaseSql, new { owner, until = now + O.Lease, ids }, t, tx));
        return (await c.QueryAsync<LeasedDelivery>(db.Command(LeasedSql, new { ids }, t, tx))).ToList();
    }

    /// <summary>Posts the delivery and hands the outcome to the loop; on shutdown, leaves it leased.</summary>
    private async Task DeliverAsync(LeasedDelivery row, string owner, TimeSpan delay, CancellationToken stopping)
    {
        // The loop goes on leasing while the request is built and sent.
        if (delay > TimeSpan.Zero)
        {
            try { await Task.Delay(delay, stopping); } catch (OperationCanceledException) { return; }
        }
        else await Task.Yield();
        // In the trace of the request that wrote the event, when it was traced (its traceparent is kept with the event).
        using var activity = Telemetry.Source.StartActivity("WebhookDelivery", ActivityKind.Producer,
            ActivityContext.TryParse(row.TraceParent, null, isRemote: true, out var origin) ? origin : default);
        activity?.SetTag("coordinationhub.webhooks.delivery_id", row.Id);
        activity?.SetTag("coordinationhub.webhooks.event_type", row.EventType);
        activity?.SetTag("coordinationhub.webhooks.attempt", row.Attempts + 1);
        Outcome outcome;
        var watch = Stopwatch.StartNew();
        try
        {
            var body = JsonSerializer.Serialize(row.ToEvent(), Json);
            // During a rotation's overlap the previous secret signs first: receivers not yet switched keep
            // verifying even with libraries that read only the first signature (StandardWebhooks 1.1.2 for .NET).
            // The secrets are stored sealed with the platform's data key.
            var context = WebhookSigner.SecretContext(row.SubscriptionId);
            var secrets = new List<string> { (await keys.OpenPlatformAsync(row.Secret, context, stopping))! };
            if (row.PreviousSecret is not null && row.PreviousSecretUntil > clock.GetUtcNow())
                secrets.Insert(0, (await keys.OpenPlatformAsync(row.PreviousSecret, context, stopping))!);
            // The wall clock, not the service clock: receivers compare it with theirs to refuse replays.
            var timestamp = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
            using var request = new HttpRequestMessage(HttpMethod.Post, row.Url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add("webhook-id", row.EventId.ToString());
            request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.Add("webhook-signature", WebhookSigner.Sign(row.EventId.ToString(), timestamp, body, secrets));
            request.Headers.UserAgent.Add(new ProductInfoHeaderValue("CoordinationHub-Webhooks", "1.0"));

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            timeout.CancelAfter(O.HttpTimeout);
            try
            {
                // The answer is read where it arrives, on the pool: going back to the dispatcher's thread for that little
                // work cost a thread switch and a wake-up per delivery.
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                var excerpt = await ExcerptAsync(response, timeout.Token).ConfigureAwait(false);
                outcome = new Outcome((int)response.StatusCode, null, excerpt, RetryAfter(response));
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return; // shutting down: the lease expires and another dispatcher (or this one, restarted) retries
            }
            catch (OperationCanceledException)
            {
                outcome = new Outcome(null, $"No answer within {O.HttpTimeout.TotalSeconds:0.#} s.", null, null);
            }
            catch (HttpRequestException e)
            {
                outcome = new Outcome(null, Truncate(e.InnerException?.Message ?? e.Message), null, null);
            }
        }
        catch (Exception e)
        {
            logger.LogError(e, "Delivery {Delivery} could not be sent", row.Id);
            outcome = new Outcome(null, Truncate($"Not sent: {e.Message}"), null, null);
        }
        if (activity is not null)
        {
            if (outcome.Status is { } status) activity.SetTag("http.response.status_code", status);
            if (!outcome.Succeeded) activity.SetStatus(ActivityStatusCode.Error);
        }
        finished.Writer.TryWrite(new Result(row, owner, outcome, (int)watch.ElapsedMilliseconds, clock.GetUtcNow()));
    }

    private sealed record Outcome(int? Status, string? Error, string? Excerpt, TimeSpan? RetryAfter)
    {
        public bool Succeeded => Status is >= 200 and < 300;
        /// <summary>Network errors, timeouts, 5xx, 408 and 429 are worth another attempt; another answer will not change.</summary>
        public bool Retryable => Status is null or >= 500 or 429 or 408;
    }

    private sealed record Result(LeasedDelivery Row, string Owner, Outcome Outcome, int LatencyMs, DateTimeOffset At);

    /// <summary>Events purged per transaction, with their deliveries, attempts and audience.</summary>
    public const int PurgeBatch = 500;

    /// <summary>
    /// Deletes what is older than the retention period: events (out of the feed), deliveries and attempts; a batch of
    /// events per transaction, so that a long backlog of old rows never holds the writer (SQLite) or locks for long.
    /// An event still being delivered (pending, active subscription) stays until its delivery ends.
    /// </summary>
    public async Task<int> PurgeAsync(CancellationToken ct)
    {
        var cutoff = clock.GetUtcNow().AddDays(-O.RetentionDays);
        var total = 0;
        while (true)
        {
            var purged = await db.InTransactionAsync(async (c, tx, t) =>
            {
                var ids = (await c.QueryAsync<Guid>(db.Command(OldEventsSql, new { cutoff, limit = PurgeBatch }, t, tx))).ToList();
                if (ids.Count == 0) return 0;
                foreach (var sql in (string[])[PurgeAttemptsSql, PurgeDeliveriesSql, PurgeAudienceSql, PurgeEventsSql])
                    await c.ExecuteAsync(db.Command(sql, new { ids }, t, tx));
                return ids.Count;
            }, ct);
            total += purged;
            if (purged < PurgeBatch) break;
        }
        if (total > 0) Telemetry.PurgedRows.Add(total, new KeyValuePair<string, object?>("table", "outbox_event"));
        return total;
    }

    private DateTimeOffset nextMeasure;

    /// <summary>The outbox's and the deliveries' backlog, for the gauges: every 15 s, only while metrics are collected.</summary>
    private async Task MeasureBacklogWhenDueAsync(CancellationToken ct)
    {
        var now = TimeProvider.System.GetUtcNow();
        if (!Telemetry.Metrics || now < nextMeasure) return;
        nextMeasure = now.AddSeconds(15);
        var (outbox, deliveries) = await db.RetryAsync(async (c, t) =>
            (await c.QuerySingleAsync<BacklogRow>(db.Command(OutboxBacklogSql, null, t)),
             await c.QuerySingleAsync<BacklogRow>(db.Command(DeliveryBacklogSql, null, t))), ct);
        Volatile.Write(ref Telemetry.Outbox, new Telemetry.Backlog(outbox.Count, outbox.Oldest));
        Volatile.Write(ref Telemetry.Webhooks, new Telemetry.Backlog(deliveries.Count, deliveries.Oldest));
    }

    private sealed class BacklogRow
    {
        public long Count { get; init; }
        public DateTimeOffset? Oldest { get; init; }
    }

    private const string OutboxBacklogSql = "SELECT COUNT(*) AS count, MIN(occurred_at) AS oldest FROM outbox_event WHERE position IS NULL";
    private const string DeliveryBacklogSql = "SELECT COUNT(*) AS count, MIN(created_at) AS oldest FROM webhook_delivery WHERE status = 'PENDING'";

    private async Task PurgeWhenDueAsync(CancellationToken ct)
    {
        var now = TimeProvider.System.GetUtcNow();
        if (now < nextPurge) return;
        nextPurge = now.AddMinutes(10);
        await PurgeAsync(ct);
    }

    private TimeSpan Jittered(TimeSpan delay) => delay * (1 - O.Jitter + 2 * O.Jitter * Random.Shared.NextDouble());

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var wait = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - clock.GetUtcNow(),
            _ => TimeSpan.Zero,
        };
        return wait > TimeSpan.Zero ? wait : null;
    }

    private static async Task<string?> ExcerptAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var buffer = new byte[500];
        var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await using var _ = stream.ConfigureAwait(false);
        var read = 0;
        while (read < buffer.Length && await stream.ReadAsync(buffer.AsMemory(read), ct).ConfigureAwait(false) is var n and > 0) read += n;
        return read == 0 ? null : Platform.Http.FreeText.Clean(Encoding.UTF8.GetString(buffer, 0, read));
    }

    private static string? Truncate(string? s) => s is null || s.Length <= 500 ? s : s[..500];

    private sealed class LeasedDelivery
    {
        public Guid Id { get; init; }
        public Guid SubscriptionId { get; init; }
        public int Attempts { get; init; }
        public string Url { get; init; } = "";
        public string Secret { get; init; } = "";
        public string? PreviousSecret { get; init; }
        public DateTimeOffset? PreviousSecretUntil { get; init; }
        public Guid EventId { get; init; }
        public long Position { get; init; }
        public DateTimeOffset OccurredAt { get; init; }
        public string EventType { get; init; } = "";
        public string ResourceType { get; init; } = "";
        public Guid ResourceId { get; init; }
        public string Payload { get; init; } = "";
        public string? TraceParent { get; init; }

        public EventDto ToEvent() => new OutboxRow
        {
            Id = EventId, Position = Position, OccurredAt = OccurredAt, EventType = EventType, ResourceType = ResourceType,
            ResourceId = ResourceId, Payload = Payload,
        }.ToEvent();
    }

    private const string ActiveSql = "SELECT id FROM webhook_subscription WHERE status = 'ACTIVE' ORDER BY id";
    // Only the oldest pending delivery of a resource per subscription is eligible: per-resource order.
    // The rows read stay locked to this transaction (PostgreSQL, SQL Server) until they are leased.
    private const string DueSql = """
        SELECT d.id FROM webhook_delivery d {skip_locked}
        WHERE d.subscription_id = @subscriptionId AND d.status = 'PENDING' AND d.next_attempt_at <= @now
          AND (d.leased_until IS NULL OR d.leased_until < @now)
          AND NOT EXISTS (
              SELECT 1 FROM webhook_delivery e
              WHERE e.subscription_id = d.subscription_id AND e.resource_id = d.resource_id
                AND e.status = 'PENDING' AND e.position < d.position)
        ORDER BY d.next_attempt_at, d.position
        {limit}
        {for_update_skip_locked}
        """;
    private const string LeaseSql = "UPDATE webhook_delivery SET lease_owner = @owner, leased_until = @until WHERE id {in:ids}";
    private const string LeasedSql = """
        SELECT d.id, d.subscription_id, d.attempts, s.url, s.secret, s.previous_secret, s.previous_secret_until,
               e.id AS event_id, e.position, e.occurred_at, e.event_type, e.resource_type, e.resource_id, e.payload, e.trace_parent
        FROM webhook_delivery d
        JOIN webhook_subscription s ON s.id = d.subscription_id
        JOIN outbox_event e ON e.id = d.event_id
        WHERE d.id {in:ids}
        """;

    private const string DeliveredSql = """
        UPDATE webhook_delivery
        SET status = 'DELIVERED', attempts = attempts + 1, delivered_at = @now, lease_owner = NULL, leased_until = NULL,
            last_status_code = @statusCode, last_error = NULL
        WHERE id {in:ids} AND lease_owner = @owner
        """;
    private const string FailedSql = """
        UPDATE webhook_delivery
        SET status = @status, attempts = @attemptNo, next_attempt_at = @next, lease_owner = NULL, leased_until = NULL,
            last_status_code = @statusCode, last_error = @error
        WHERE id = @id AND lease_owner = @owner
        """;
    private const string HealthySql = "UPDATE webhook_subscription SET failing_since = NULL WHERE id {in:ids} AND failing_since IS NOT NULL";
    private const string FailingSql = "UPDATE webhook_subscription SET failing_since = @now WHERE id = @id AND failing_since IS NULL";
    private const string DisableSql = """
        UPDATE webhook_subscription
        SET status = 'DISABLED', disabled_at = @now, disabled_reason = @reason, version = version + 1, updated_at = @now
        WHERE id = @id AND status = 'ACTIVE' AND failing_since <= @cutoff
        """;
    private static readonly string[] AttemptColumns =
    [
        "id", "delivery_id", "subscription_id", "event_id", "attempt_no", "attempted_at", "outcome", "status_code",
        "latency_ms", "error", "response_excerpt", "dispatcher",
    ];
    private static readonly System.Data.DbType[] AttemptTypes =
    [
        System.Data.DbType.Guid, System.Data.DbType.Guid, System.Data.DbType.Guid, System.Data.DbType.Guid, System.Data.DbType.Int32,
        System.Data.DbType.DateTimeOffset, System.Data.DbType.String, System.Data.DbType.Int32, System.Data.DbType.Int32,
        System.Data.DbType.String, System.Data.DbType.String, System.Data.DbType.String,
    ];

    // An event whose delivery an active subscription still retries waits for it to end (delivered or dead): its
    // attempts are being written, and deleting under them would break their foreign key.
    private const string OldEventsSql = """
        SELECT e.id FROM outbox_event e
        WHERE e.position IS NOT NULL AND e.occurred_at < @cutoff
          AND NOT EXISTS (
              SELECT 1 FROM webhook_delivery d JOIN webhook_subscription s ON s.id = d.subscription_id
              WHERE d.event_id = e.id AND d.status = 'PENDING' AND s.status = 'ACTIVE')
        ORDER BY e.position {limit}
        """;
    private const string PurgeAttemptsSql = """
        DELETE FROM webhook_attempt WHERE delivery_id IN (SELECT id FROM webhook_delivery WHERE event_id {in:ids})
        """;
    private const string PurgeDeliveriesSql = "DELETE FROM webhook_delivery WHERE event_id {in:ids}";
    private const string PurgeAudienceSql = "DELETE FROM event_audience WHERE event_id {in:ids}";
    private const string PurgeEventsSql = "DELETE FROM outbox_event WHERE id {in:ids}";
}
