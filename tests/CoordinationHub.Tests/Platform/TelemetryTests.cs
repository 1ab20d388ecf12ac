using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Features.Webhooks;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Tests.Features.Referrals;
using CoordinationHub.Tests.Features.Webhooks;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// A referral's whole story and its webhook, through a host that traces everything into memory: the trace goes from the
/// request to its use case to its SQL and on to the delivery; and nothing the operators collect names the person.
/// </summary>
public abstract class TelemetryTests(ApiFixture fx) : ReferralTestBase(fx)
{
    [Fact]
    public async Task A_referral_story_is_traced_from_request_to_SQL_to_delivery_and_no_span_log_or_metric_names_the_person()
    {
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        var logs = new CapturedLogs();
        await using var host = Fx.CreateFactory(Fx.ConnectionString, startupTasks: false, s =>
        {
            s.AddHostedService<WebhookDispatcher>();
            s.AddSingleton<ILoggerProvider>(logs);
            s.ConfigureOpenTelemetryTracerProvider(b => b.AddInMemoryExporter(spans));
            s.ConfigureOpenTelemetryMeterProvider(b => b.AddInMemoryExporter(metrics));
        }, new Dictionary<string, string>
        {
            ["Telemetry:Tracing:Enabled"] = "true", ["Telemetry:Metrics:Enabled"] = "true", ["Webhooks:Dispatch"] = "true",
            ["Logging:LogLevel:Default"] = "Debug",
        });
        // Built now: the host's hosted services (OpenTelemetry's among them) are not started without start-up tasks.
        var providers = (host.Services.GetRequiredService<TracerProvider>(), host.Services.GetRequiredService<MeterProvider>());
        HttpClient Client(string key)
        {
            var client = host.CreateDefaultClient(new ContractConformance.Handler());
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return client;
        }

        var ccas = await Ccas("03190");
        var dep = await Dep("03");
        var receiver = await Receiver.StartAsync();
        await using var _ = receiver;
        var hooks = await Fx.KeyFor(dep.Id, Scopes.WebhooksManage, Scopes.EventsRead);
        var subscription = await (await Client(hooks).PostJson("/v1/webhook-subscriptions",
            new { url = receiver.Url, eventTypes = new[] { "referral.sent" }, description = "telemetry" }).Ok(HttpStatusCode.Created))
            .Read<WebhookSubscriptionDto>();
        receiver.Secrets.Add(subscription.Secret!);

        // The person: values found nowhere else, so that finding one means it leaked.
        var family = "Telemetrie" + Guid.NewGuid().ToString("N")[..8];
        var person = new Dictionary<string, object?>
        {
            ["familyName"] = family, ["givenNames"] = "Zéphirine Aglaé", ["birthDate"] = "1961-07-23", ["communeInsee"] = "03190",
            ["address"] = "17 allée des Capucines", ["contact"] = new { channel = "PHONE", value = "06 98 76 54 31" },
            ["allocataireNumber"] = "7319046",
        };
        string[] secrets = [family, "Zéphirine", "Aglaé", "1961-07-23", "07/23/1961", "23/07/1961", "Capucines", "06 98 76 54 31", "7319046", "Loyer impayé", "rappellera lundi"];
        var draft = Draft("INCOME", person);
        draft["context"] = "Loyer impayé depuis mars.";

        // The caller's traceparent (sampled) names the trace the create starts.
        var traceId = ActivityTraceId.CreateRandom();
        var create = new HttpRequestMessage(HttpMethod.Post, "/v1/referrals") { Content = JsonContent.Create(draft, options: ApiFixture.Json) };
        create.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        var created = await Client(ccas.Key).SendAsync(create).Ok(HttpStatusCode.Created);
        var referral = await created.Read<ReferralDto>();
        var read = await Client(dep.Key).GetAsync($"/v1/referrals/{referral.Id}").Ok();
        var accepted = await Send(Client(dep.Key), HttpMethod.Post, $"/v1/referrals/{referral.Id}/acceptance", new { agent = Agent }, read.Headers.ETag!.Tag);
        await Client(dep.Key).PostJson($"/v1/referrals/{referral.Id}/messages", new { agent = Agent, body = "Mme Zéphirine rappellera lundi." })
            .Ok(HttpStatusCode.Created);
        var current = await Client(dep.Key).GetAsync($"/v1/referrals/{referral.Id}").Ok();
        await Send(Client(dep.Key), HttpMethod.Post, $"/v1/referrals/{referral.Id}/closure",
            new { agent = Agent, reason = "PERSON_UNREACHABLE", text = "Zéphirine injoignable." }, current.Headers.ETag!.Tag);
        // A query string may carry what a caller typed: it is never recorded.
        await Client(dep.Key).GetAsync($"/v1/organisations?q={family}").Ok();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!receiver.Calls.Any(c => c.Body.Contains(referral.Id.ToString())) && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Contains(receiver.Calls, c => c.Body.Contains(referral.Id.ToString()) && c.Verified);
        // The delivery's span ends after the receiver answered: wait for it, then flush.
        deadline = DateTime.UtcNow.AddSeconds(10);
        List<Activity> Spans() { lock (spans) return [.. spans]; }
        while (!Spans().Any(a => a.DisplayName == "WebhookDelivery" && a.GetTagItem("coordinationhub.webhooks.event_type") as string == "referral.sent"
            && a.TraceId == traceId) && DateTime.UtcNow < deadline)
        {
            providers.Item1.ForceFlush();
            await Task.Delay(50);
        }
        providers.Item1.ForceFlush();
        // The delivery is counted when its outcome is recorded, in the dispatcher's next transaction.
        for (var i = 0; i < 100 && !metrics.Any(m => m.Name == "coordinationhub.webhooks.deliveries"); i++)
        {
            providers.Item2.ForceFlush();
            await Task.Delay(100);
        }
        var all = Spans();

        // (a) request → use case → SQL, and on to the delivery, in one trace.
        var trace = all.Where(a => a.TraceId == traceId).ToList();
        var names = string.Join(", ", trace.Select(a => $"{a.Source.Name}:{a.DisplayName}"));
        var request = trace.SingleOrDefault(a => a.Kind == ActivityKind.Server && a.DisplayName.StartsWith("POST /v1/referrals", StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException($"no server span for the create in trace {traceId} among {all.Count}: {names}");
        var handler = trace.SingleOrDefault(a => a.DisplayName == "CreateReferral") ?? throw new Xunit.Sdk.XunitException("no CreateReferral span in " + names);
        Assert.True(IsUnder(handler, request, trace), "the use case's span is under the request's");
        var sql = trace.Where(a => a.Source.Name is "Npgsql" || a.DisplayName.StartsWith("sqlite ", StringComparison.Ordinal)).ToList();
        Assert.Contains(sql, s => IsUnder(s, handler, trace) && ((s.GetTagItem("db.query.text") ?? s.GetTagItem("db.statement")) as string ?? "")
            .Contains("INSERT INTO referral", StringComparison.OrdinalIgnoreCase));
        var delivery = Assert.Single(trace, a => a.DisplayName == "WebhookDelivery");
        Assert.Equal(ActivityStatusCode.Unset, delivery.Status);
        var call = Assert.Single(trace, a => a.Kind == ActivityKind.Client && a.Source.Name == "System.Net.Http" && IsUnder(a, delivery, trace));
        // The call carries the trace on: the receiver's own span (a host in this process, traced too) joins it.
        Assert.Contains(trace, a => a.Kind == ActivityKind.Server && a.ParentSpanId == call.SpanId);
        // The other steps were traced too.
        foreach (var useCase in new[] { "GetReferral", "AcceptReferral", "PostReferralMessage", "CloseReferralWithoutOutcome" })
            Assert.Contains(all, a => a.DisplayName == useCase);

        // (b) no personal data in any span, event, link, log record or metric tag: every string scanned.
        var strings = all.SelectMany(SpanStrings)
            .Concat(logs.Entries.SelectMany(e => e.Strings()))
            .Concat(metrics.SelectMany(MetricStrings))
            .ToList();
        Assert.True(strings.Count > 1000, $"only {strings.Count} strings collected");
        Assert.Contains(strings, s => s.Contains(referral.Id.ToString())); // ids are there: the scan does read the collected values
        foreach (var secret in secrets)
        {
            var found = strings.Where(s => s.Contains(secret, StringComparison.OrdinalIgnoreCase)).Take(3).ToList();
            Assert.True(found.Count == 0, $"'{secret}' found in: {string.Join(" | ", found)}");
        }
        Assert.Contains(metrics, m => m.Name == "http.server.request.duration");
        Assert.Contains(metrics, m => m.Name == "coordinationhub.webhooks.deliveries");
    }

    private static async Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string url, object body, string etag)
    {
        var request = new HttpRequestMessage(method, url) { Content = JsonContent.Create(body, options: ApiFixture.Json) };
        request.Headers.TryAddWithoutValidation("If-Match", etag);
        return await client.SendAsync(request).Ok();
    }

    private static bool IsUnder(Activity child, Activity ancestor, List<Activity> trace)
    {
        var byId = trace.GroupBy(a => a.SpanId).ToDictionary(g => g.Key, g => g.First());
        for (var at = child; at is not null; at = byId.GetValueOrDefault(at.ParentSpanId))
            if (at.ParentSpanId == ancestor.SpanId) return true;
        return false;
    }

    private static IEnumerable<string> SpanStrings(Activity a)
    {
        yield return a.DisplayName;
        yield return a.OperationName;
        yield return a.StatusDescription ?? "";
        foreach (var (k, v) in a.TagObjects) { yield return k; yield return v?.ToString() ?? ""; }
        foreach (var e in a.Events)
        {
            yield return e.Name;
            foreach (var (k, v) in e.Tags) { yield return k; yield return v?.ToString() ?? ""; }
        }
        foreach (var l in a.Links)
            foreach (var (k, v) in l.Tags ?? []) { yield return k; yield return v?.ToString() ?? ""; }
        foreach (var (k, v) in a.Baggage) { yield return k; yield return v ?? ""; }
    }

    private static List<string> MetricStrings(Metric m)
    {
        List<string> strings = [m.Name, m.Description];
        foreach (ref readonly var point in m.GetMetricPoints())
            foreach (var (k, v) in point.Tags) strings.AddRange([k, v?.ToString() ?? ""]);
        return strings;
    }
}

[Collection(SqliteCollection.Name)] public sealed class TelemetryTests_Sqlite(SqliteFixture f) : TelemetryTests(f);
[Collection(PostgresCollection.Name)] public sealed class TelemetryTests_Postgres(PostgresFixture f) : TelemetryTests(f);
