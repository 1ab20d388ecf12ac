using System.Diagnostics;
using System.Net;
using CoordinationHub.Features.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Features.Webhooks;

public abstract class EventFeedTests(ApiFixture fx) : WebhookTestBase(fx)
{
    [Fact]
    public async Task A_long_poll_returns_as_soon_as_an_event_comes_with_the_same_ids_as_the_webhooks()
    {
        var partner = await Subscriber("Association Derrière Un Pare-Feu");
        var stranger = await Subscriber("Association Étrangère");
        var receiver = await StartReceiver();
        await Subscribe(partner, receiver);
        // The feed is read from the dispatcher's host, whose sequencer wakes its long polls.
        var host = StartDispatcher();
        HttpClient Feed(Party p)
        {
            var client = host.CreateDefaultClient(new Platform.ContractConformance.Handler());
            client.DefaultRequestHeaders.Authorization = new("Bearer", p.Key);
            return client;
        }

        var start = await (await Feed(partner).GetAsync("/v1/events").Ok()).Read<EventFeedPage>();
        Assert.Empty(start.Items);

        // Nothing new: a 1-second poll answers after about a second, with the same cursor.
        var watch = Stopwatch.StartNew();
        var idle = await (await Feed(partner).GetAsync($"/v1/events?after={start.Next}&wait=1").Ok()).Read<EventFeedPage>();
        Assert.Empty(idle.Items);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));
        Assert.Equal(start.Next, idle.Next);

        watch.Restart();
        var poll = Feed(partner).GetAsync($"/v1/events?after={start.Next}&wait=30");
        await Task.Delay(200);
        Assert.False(poll.IsCompleted, "the poll waits for an event");
        var k = await ConventionWith(partner);
        var first = await (await poll.Ok()).Read<EventFeedPage>();
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"the poll answered after {watch.Elapsed}");
        Assert.NotEmpty(first.Items);

        var events = first.Items.ToList();
        var cursor = first.Next;
        while (events.Count < 4)
        {
            var page = await (await Feed(partner).GetAsync($"/v1/events?after={cursor}&wait=10").Ok()).Read<EventFeedPage>();
            events.AddRange(page.Items);
            cursor = page.Next;
        }
        Assert.Equal(["convention.created", "convention.signature-added", "convention.signature-added", "convention.signed"], events.Select(e => e.Type));
        Assert.All(events, e => Assert.Equal(("convention", k), (e.Data.ResourceType, e.Data.ResourceId)));

        await Eventually(async () => receiver.Calls.Count == 4, "the webhooks of the same events");
        Assert.Equal(events.Select(e => e.Id.ToString()), receiver.Calls.Select(c => c.Id));
        // Received is not yet recorded: the purge below must not race the last attempt's insert.
        await Eventually(async () => await Sql<long>(
            "SELECT COUNT(*) FROM webhook_attempt a JOIN outbox_event e ON e.id = a.event_id WHERE e.resource_id = @k", new { k }) == 4,
            "the four attempts recorded");

        // Filtered by type, from the start; and nothing for an organisation that is not a party.
        var signed = await (await Feed(partner).GetAsync($"/v1/events?after={start.Next}&types=convention.signed,delegation.*").Ok()).Read<EventFeedPage>();
        Assert.Equal(["convention.signed"], signed.Items.Select(e => e.Type));
        Assert.Empty((await (await Feed(stranger).GetAsync("/v1/events").Ok()).Read<EventFeedPage>()).Items);

        // After the retention period (30 days) the events leave the feed, and the purge deletes them with their deliveries.
        Fx.Clock.Set(Fx.Clock.GetUtcNow().AddDays(31));
        Assert.Empty((await (await Feed(partner).GetAsync($"/v1/events?after={start.Next}").Ok()).Read<EventFeedPage>()).Items);
        var dispatcher = host.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<WebhookDispatcher>().Single();
        await dispatcher.PurgeAsync(CancellationToken.None);
        Assert.Equal(0L, await Sql<long>("SELECT COUNT(*) FROM outbox_event WHERE resource_id = @k", new { k }));
        Assert.Equal(0L, await Sql<long>("SELECT COUNT(*) FROM event_audience WHERE organisation_id = @id", new { id = partner.Id }));
    }

    [Fact]
    public async Task Bad_feed_parameters_answer_400()
    {
        var partner = await Subscriber("Association Impatiente");
        var client = partner.Client(Fx);
        await (await client.GetAsync("/v1/events?wait=31")).Problem(HttpStatusCode.BadRequest, "validation");
        await (await client.GetAsync("/v1/events?limit=0")).Problem(HttpStatusCode.BadRequest, "validation");
        await (await client.GetAsync("/v1/events?types=DROP TABLE")).Problem(HttpStatusCode.BadRequest, "validation");
        await (await client.GetAsync("/v1/events?after=not-a-cursor")).Problem(HttpStatusCode.BadRequest, "invalid-cursor");
        var noScope = Fx.Client(await Fx.KeyFor(partner.Id, "conventions:read"));
        await (await noScope.GetAsync("/v1/events")).Problem(HttpStatusCode.Forbidden);
    }
}

[Collection(SqliteCollection.Name)] public sealed class EventFeedTests_Sqlite(SqliteFixture f) : EventFeedTests(f);
[Collection(PostgresCollection.Name)] public sealed class EventFeedTests_Postgres(PostgresFixture f) : EventFeedTests(f);
