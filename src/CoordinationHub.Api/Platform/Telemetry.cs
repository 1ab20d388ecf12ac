using System.Diagnostics;
using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CoordinationHub.Platform;

/// <summary>
/// The service's own traces and metrics (OpenTelemetry names them <c>CoordinationHub</c>). No personal data goes into
/// a span, a tag or a label: use-case names, route templates, ids, codes and counts only.
/// </summary>
public static class Telemetry
{
    public const string Name = "CoordinationHub";
    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);

    public static readonly Counter<long> RateLimitRefusals = Meter.CreateCounter<long>(
        "coordinationhub.rate_limit.refusals", "{request}", "Requests refused with 429 by the per-key rate limits.");
    public static readonly Counter<long> DatabaseRefusals = Meter.CreateCounter<long>(
        "coordinationhub.database.refusals", "{request}", "Requests answered 503 because the database was unreachable.");
    public static readonly Counter<long> Deliveries = Meter.CreateCounter<long>(
        "coordinationhub.webhooks.deliveries", "{delivery}", "Webhook calls by outcome: delivered, retry (failed, tried again later), dead.");
    public static readonly Counter<long> PurgeRuns = Meter.CreateCounter<long>(
        "coordinationhub.purge.runs", "{run}", "Retention purge runs by outcome: succeeded, failed.");
    public static readonly Counter<long> PurgedRows = Meter.CreateCounter<long>(
        "coordinationhub.purge.rows", "{row}", "Rows removed by the retention purges, by table.");
    public static readonly Counter<long> ImportJobs = Meter.CreateCounter<long>(
        "coordinationhub.imports.jobs", "{job}", "Import jobs finished by outcome: succeeded, failed.");

    // What the background services last saw, read by the observable gauges below (one host per process in production).
    public static long MapGeneration, MapLatestGeneration, MapUpToDateAt = Stopwatch.GetTimestamp();
    public static Backlog Outbox = new(0, null), Webhooks = new(0, null);

    /// <summary>Rows waiting and the instant the oldest of them was written.</summary>
    public sealed record Backlog(long Count, DateTimeOffset? Oldest)
    {
        public double AgeSeconds => Oldest is { } o ? Math.Max(0, (DateTimeOffset.UtcNow - o).TotalSeconds) : 0;
    }

    static Telemetry()
    {
        Meter.CreateObservableGauge("coordinationhub.map.generation", () => Volatile.Read(ref MapGeneration), "{generation}",
            "The generation of the competence map this instance answers from.");
        Meter.CreateObservableGauge("coordinationhub.map.lag", () => Math.Max(0, Volatile.Read(ref MapLatestGeneration) - Volatile.Read(ref MapGeneration)),
            "{generation}", "Generations written to the map feed that this instance has not applied yet.");
        Meter.CreateObservableGauge("coordinationhub.map.staleness", () => Stopwatch.GetElapsedTime(Volatile.Read(ref MapUpToDateAt)).TotalSeconds, "s",
            "Seconds since this instance's map last caught up with the feed (grows while the feed cannot be read).");
        Meter.CreateObservableGauge("coordinationhub.outbox.backlog", () => Volatile.Read(ref Outbox).Count, "{event}",
            "Events written but not yet sequenced into the feed.");
        Meter.CreateObservableGauge("coordinationhub.outbox.oldest_age", () => Volatile.Read(ref Outbox).AgeSeconds, "s",
            "Age of the oldest event not yet sequenced.");
        Meter.CreateObservableGauge("coordinationhub.webhooks.backlog", () => Volatile.Read(ref Webhooks).Count, "{delivery}",
            "Webhook deliveries pending (due now or waiting for a retry).");
        Meter.CreateObservableGauge("coordinationhub.webhooks.oldest_age", () => Volatile.Read(ref Webhooks).AgeSeconds, "s",
            "Age of the oldest pending webhook delivery.");
    }

    /// <summary>Whether traces are collected (the SQLite command spans are hooked only then).</summary>
    public static bool Tracing { get; private set; }
    /// <summary>Whether metrics are collected (the backlog is measured only then).</summary>
    public static bool Metrics { get; private set; }

    /// <summary>
    /// <c>Telemetry:Tracing:Enabled</c>, <c>Telemetry:Metrics:Enabled</c> (on when an exporter is configured: spans
    /// and measures are made only while a provider listens), <c>Telemetry:SamplingRatio</c> (default 1: every trace
    /// started here; a caller's sampled <c>traceparent</c> is always followed), <c>Telemetry:Otlp:Endpoint</c> (no
    /// export without it), <c>Telemetry:Otlp:Protocol</c> (grpc or http/protobuf), <c>Telemetry:Prometheus:Enabled</c>
    /// (a scrape endpoint at <c>/metrics</c>). Logs carry the trace and span ids.
    /// </summary>
    public static void AddTelemetry(this WebApplicationBuilder builder)
    {
        var config = builder.Configuration.GetSection("Telemetry");
        builder.Logging.Configure(o => o.ActivityTrackingOptions =
            ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId | ActivityTrackingOptions.ParentId);
        var otlp = config["Otlp:Endpoint"] is { Length: > 0 } endpoint ? new Uri(endpoint) : null;
        var prometheus = config.GetValue("Prometheus:Enabled", false);
        var tracing = config.GetValue("Tracing:Enabled", otlp is not null);
        var metrics = config.GetValue("Metrics:Enabled", otlp is not null || prometheus);
        // Once on in the process, on (several hosts share a test process; a server has one).
        Tracing |= tracing;
        Metrics |= metrics;
        var protocol = config["Otlp:Protocol"] == "http/protobuf"
            ? OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf : OpenTelemetry.Exporter.OtlpExportProtocol.Grpc;
        var ratio = config.GetValue("SamplingRatio", 1.0);
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("coordinationhub", serviceVersion: typeof(Telemetry).Assembly.GetName().Version?.ToString()));
        if (tracing)
            otel.WithTracing(t =>
            {
                t.SetSampler(new QuietSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(ratio))))
                    .AddSource(Name, "Npgsql")
                    .AddAspNetCoreInstrumentation(o =>
                    {
                        o.Filter = http => !http.Request.Path.StartsWithSegments("/health") && !http.Request.Path.StartsWithSegments("/metrics");
                        // A query string may carry free text (a search by name): never recorded.
                        o.EnrichWithHttpRequest = (activity, _) => activity.SetTag("url.query", null);
                        o.RecordException = false;
                    })
                    .AddHttpClientInstrumentation(o => o.EnrichWithHttpRequestMessage = (activity, _) => activity.SetTag("url.query", null))
                    .AddSqlClientInstrumentation();
                if (otlp is not null) t.AddOtlpExporter(o => { o.Endpoint = Signal(otlp, protocol, "traces"); o.Protocol = protocol; });
            });
        if (metrics)
            otel.WithMetrics(m =>
            {
                // Not the rate limiter's own meter: four measures a request, where the refusals are what matters (counted above).
                m.AddMeter(Name, "Npgsql", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.Http");
                if (otlp is not null) m.AddOtlpExporter(o => { o.Endpoint = Signal(otlp, protocol, "metrics"); o.Protocol = protocol; });
                if (prometheus) m.AddPrometheusExporter();
            });
    }

    /// <summary>OTLP over HTTP posts each signal to its own path under the collector's base address.</summary>
    private static Uri Signal(Uri endpoint, OpenTelemetry.Exporter.OtlpExportProtocol protocol, string signal) =>
        protocol == OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf && endpoint.AbsolutePath is "/" or ""
            ? new Uri(endpoint, "v1/" + signal) : endpoint;

    /// <summary>The Prometheus scrape endpoint at <c>/metrics</c>, when <c>Telemetry:Prometheus:Enabled</c>.</summary>
    public static void MapTelemetry(this WebApplication app)
    {
        if (app.Configuration.GetValue("Telemetry:Prometheus:Enabled", false)
            && app.Configuration.GetValue("Telemetry:Metrics:Enabled", true)) app.MapPrometheusScrapingEndpoint("/metrics");
    }

    /// <summary>
    /// A database or HTTP call made outside any traced operation (a background service's idle poll) starts no trace
    /// of its own: only the operations that do work are traced, and their calls with them.
    /// </summary>
    private sealed class QuietSampler(Sampler inner) : Sampler
    {
        public override SamplingResult ShouldSample(in SamplingParameters p) =>
            p.ParentContext.TraceId == default && p.Kind == ActivityKind.Client ? new SamplingResult(SamplingDecision.Drop) : inner.ShouldSample(p);
    }
}
