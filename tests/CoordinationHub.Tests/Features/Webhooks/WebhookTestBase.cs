using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using CoordinationHub.Features.Webhooks;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Tests.Features.Delegations;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StandardWebhooks;

namespace CoordinationHub.Tests.Features.Webhooks;

/// <summary>
/// Real receivers (Kestrel on 127.0.0.1, port 0), dispatchers started and stopped at will (the
/// fixture's host does not dispatch), and events made through the API: a convention between the
/// département of Nord and a partner created for the test, signed by both (4 events: one signature-added per signature).
/// </summary>
public abstract class WebhookTestBase(ApiFixture fx) : DelegationTestBase(fx), IAsyncLifetime
{
    private readonly List<IAsyncDisposable> owned = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var o in Enumerable.Reverse(owned)) await o.DisposeAsync();
        Fx.Clock.Reset();
    }

    protected async Task<Receiver> StartReceiver()
    {
        var receiver = await Receiver.StartAsync();
        owned.Add(receiver);
        return receiver;
    }

    /// <summary>A dispatcher in a host of its own on the same database: disposing it stops it as a kill would (leases left).</summary>
    protected WebApplicationFactory<Program> StartDispatcher(params (string Key, string Value)[] settings)
    {
        var factory = Fx.CreateFactory(Fx.ConnectionString, startupTasks: false, s => s.AddHostedService<WebhookDispatcher>())
            .WithWebHostBuilder(b =>
            {
                b.UseSetting("Webhooks:Dispatch", "true");
                foreach (var (key, value) in settings) b.UseSetting(key, value);
            });
        _ = factory.Server;
        owned.Add(factory);
        return factory;
    }

    protected async Task<Party> Subscriber(string name) => await PartnerParty(name, "59") is var p
        ? p with { Key = await Fx.KeyFor(p.Id, Scopes.WebhooksManage, Scopes.EventsRead, Scopes.ConventionsRead, Scopes.ConventionsWrite) }
        : throw new InvalidOperationException();

    protected async Task<WebhookSubscriptionDto> Subscribe(Party party, Receiver receiver, params string[] types)
    {
        var subscription = await (await party.Client(Fx).PostJson("/v1/webhook-subscriptions",
            new { url = receiver.Url, eventTypes = types.Length == 0 ? ["*"] : types, description = "test" }).Ok(HttpStatusCode.Created))
            .Read<WebhookSubscriptionDto>();
        receiver.Secrets.Add(subscription.Secret!);
        return subscription;
    }

    /// <summary>A convention between Nord and the parties, signed by all: convention.created, signature-added…, signed.</summary>
    protected async Task<Guid> ConventionWith(params Party[] parties)
    {
        var nord = await DepartementParty("59");
        var lille = await Commune("59350");
        return await SignedConvention([nord, .. parties], ["RSA_ACCOMPAGNEMENT"], new { communeIds = new[] { lille.Id } }, Jan2026, Dec2028);
    }

    protected async Task<T> Sql<T>(string sql, object? parameters = null)
    {
        await using var c = await Fx.Db.OpenAsync(CancellationToken.None);
        return await c.ExecuteScalarAsync<T>(Fx.Db.Command(sql, parameters, CancellationToken.None))
            ?? throw new InvalidOperationException($"no value: {sql}");
    }

    protected async Task<List<T>> Rows<T>(string sql, object? parameters = null)
    {
        await using var c = await Fx.Db.OpenAsync(CancellationToken.None);
        return (await c.QueryAsync<T>(Fx.Db.Command(sql, parameters, CancellationToken.None))).ToList();
    }

    /// <summary>Polls until the condition holds; fails after <paramref name="seconds"/>, with what <paramref name="seen"/> describes.</summary>
    protected static async Task Eventually(Func<Task<bool>> condition, string what, int seconds = 15, Func<Task<string>>? seen = null)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > until) Assert.Fail($"Not within {seconds} s: {what}" + (seen is null ? "" : $"; seen: {await seen()}"));
            await Task.Delay(25);
        }
    }

    /// <summary>
    /// For a failure message: a receiver's calls (event type and id), the subscription's deliveries as stored (lease
    /// included), and the events not yet sequenced.
    /// </summary>
    protected async Task<string> Seen(Receiver receiver, Guid subscriptionId)
    {
        var deliveries = await Rows<dynamic>("""
            SELECT e.event_type, d.position, d.status, d.attempts, d.leased_until, d.lease_owner, d.last_error
            FROM webhook_delivery d JOIN outbox_event e ON e.id = d.event_id
            WHERE d.subscription_id = @subscriptionId ORDER BY d.position
            """, new { subscriptionId });
        var unsequenced = await Sql<long>("SELECT COUNT(*) FROM outbox_event WHERE position IS NULL");
        return "calls [" + string.Join(", ", receiver.Calls.Select(c => $"{EventType(c.Body)} {c.Id}")) + "], deliveries [" +
               string.Join(", ", deliveries.Select(d => string.Join(" ", ((IDictionary<string, object?>)d).Values))) +
               $"], unsequenced events {unsequenced}";
    }

    private static string EventType(string body)
    {
        try { return JsonDocument.Parse(body).RootElement.GetProperty("type").GetString() ?? "?"; }
        catch (JsonException) { return "?"; }
    }

    protected Task<WebhookDeliveryDto> Delivery(Party party, Guid subscriptionId) =>
        Deliveries(party, subscriptionId).ContinueWith(t => t.Result.SingleOrDefault() ?? new WebhookDeliveryDto());

    protected async Task<List<WebhookDeliveryDto>> Deliveries(Party party, Guid subscriptionId, string? status = null) =>
        (await (await party.Client(Fx).GetAsync($"/v1/webhook-subscriptions/{subscriptionId}/deliveries?limit=500{(status is null ? "" : "&status=" + status)}").Ok())
            .Read<CoordinationHub.Platform.Http.PageResponse<WebhookDeliveryDto>>()).Items.ToList();

    protected async Task<List<WebhookAttemptDto>> Attempts(Party party, Guid subscriptionId) =>
        (await (await party.Client(Fx).GetAsync($"/v1/webhook-subscriptions/{subscriptionId}/attempts?limit=500").Ok())
            .Read<CoordinationHub.Platform.Http.PageResponse<WebhookAttemptDto>>()).Items.ToList();
}

/// <summary>A webhook receiver on loopback that verifies every call with the StandardWebhooks package.</summary>
public sealed class Receiver : IAsyncDisposable
{
    public sealed record Call(string Id, string Timestamp, string Body, string Signature, bool Verified, DateTime At);

    private WebApplication app = null!;
    public ConcurrentQueue<Call> Calls { get; } = new();
    public ConcurrentBag<string> Secrets { get; } = [];
    /// <summary>How it answers; 200 by default.</summary>
    public Func<HttpContext, Task> Respond { get; set; } = _ => Task.CompletedTask;
    public string Url { get; private set; } = "";

    public static async Task<Receiver> StartAsync()
    {
        var receiver = new Receiver();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        receiver.app = builder.Build();
        // A path of its own: a subscription of an earlier test whose receiver had this port reaches a 404, not this receiver.
        var path = "/hook/" + Guid.NewGuid().ToString("N");
        receiver.app.MapPost(path, async (HttpContext http) =>
        {
            var body = await new StreamReader(http.Request.Body).ReadToEndAsync();
            var verified = receiver.Secrets.Any(secret =>
            {
                try { new StandardWebhook(secret).Verify(body, http.Request.Headers); return true; }
                catch (Exception) { return false; }
            });
            receiver.Calls.Enqueue(new Call(http.Request.Headers["webhook-id"].ToString(), http.Request.Headers["webhook-timestamp"].ToString(), body,
                http.Request.Headers["webhook-signature"].ToString(), verified, DateTime.UtcNow));
            await receiver.Respond(http);
        });
        await receiver.app.StartAsync();
        receiver.Url = receiver.app.Urls.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + path;
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await app.StopAsync(stop.Token);
        await app.DisposeAsync();
    }
}
