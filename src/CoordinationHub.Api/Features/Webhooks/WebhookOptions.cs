namespace CoordinationHub.Features.Webhooks;

/// <summary>Configuration section <c>Webhooks</c>.</summary>
public sealed class WebhookOptions
{
    /// <summary>Whether this instance sequences the outbox and delivers webhooks (any number of instances may).</summary>
    public bool Dispatch { get; set; } = true;
    /// <summary>How often an idle dispatcher looks for new events and due retries.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(250);
    /// <summary>Events sequenced per transaction.</summary>
    public int SequenceBatch { get; set; } = 500;
    /// <summary>
    /// Deliveries in flight per instance, and per subscription (so that one slow receiver keeps only its own slots).
    /// The outcomes of the calls that finish during one transaction are recorded by the next: more slots, fewer
    /// and larger transactions (32 per subscription cost half the CPU per delivery of 8 on SQLite).
    /// </summary>
    public int MaxInFlight { get; set; } = 256;
    /// <summary>
    /// Deliveries started per second by this instance at most (0, the default: no cap), for operators who would
    /// rather drain a backlog slowly than share the cores with it. Capped, the dispatcher sequences, records and leases
    /// once per 100 ms tick (on SQLite in one transaction), sequencing only the events that make twice the calls it may
    /// start (at the last batch's calls per event: a backlog reaches the feed at that pace too), and starts the tick's
    /// calls in ten groups across it. Measured on 2 cores (50,000 deliveries, see the benchmark README): uncapped about
    /// 4,500/s, the lookups' p99 about 2.6 × idle; capped at 1,200, about 1,190/s at about 190–230 µs of CPU a
    /// delivery, the p99 × 1.31–1.48 of idle (1,000 bare POSTs/s beside them: × 1.13–1.26).
    /// </summary>
    public int MaxDeliveriesPerSecond { get; set; }
    public int MaxInFlightPerSubscription { get; set; } = 32;
    public TimeSpan HttpTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>How long a leased delivery stays with its dispatcher; after that (a killed process) another takes it.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);
    /// <summary>Waits between attempts (network error, timeout, 5xx, 429); after the last one the delivery is dead-lettered.</summary>
    public TimeSpan[] Backoff { get; set; } =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(2), TimeSpan.FromHours(5), TimeSpan.FromHours(10),
    ];
    /// <summary>Each wait is drawn in [1 - j, 1 + j] × its value, so that failed receivers are not retried in lockstep.</summary>
    public double Jitter { get; set; } = 0.2;
    /// <summary>The longest Retry-After honoured.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromHours(10);
    /// <summary>A subscription whose deliveries all failed for this long is disabled.</summary>
    public TimeSpan DisableAfter { get; set; } = TimeSpan.FromDays(3);
    /// <summary>How long events stay in the feed (and attempts in the listing).</summary>
    public int RetentionDays { get; set; } = 30;
    /// <summary>
    /// Hosts exempt from the SSRF rules (https, no private or loopback address): for tests and a local
    /// development receiver (e.g. 127.0.0.1). Never list a host that untrusted parties control.
    /// </summary>
    public string[] AllowedHosts { get; set; } = [];

    public bool IsAllowedHost(string host) => AllowedHosts.Contains(host, StringComparer.OrdinalIgnoreCase);
}
