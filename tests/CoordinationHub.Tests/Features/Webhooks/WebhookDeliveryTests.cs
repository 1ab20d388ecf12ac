using System.Net;
using Microsoft.AspNetCore.Http;
using System.Text.Json;
using CoordinationHub.Features.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Features.Webhooks;

public abstract class WebhookDeliveryTests(ApiFixture fx) : WebhookTestBase(fx)
{
    [Fact]
    public async Task A_party_receives_every_event_of_its_convention_in_order_signed_and_thin_and_an_unrelated_organisation_nothing()
    {
        var partner = await Subscriber("Association Lilloise Webhooks");
        var stranger = await Subscriber("Association Sans Rapport");
        var receiver = await StartReceiver();
        var elsewhere = await StartReceiver();
        var all = await Subscribe(partner, receiver);
        var signedOnly = await Subscribe(partner, await StartReceiver(), "convention.signed");
        var strangers = await Subscribe(stranger, elsewhere, "convention.*");
        StartDispatcher();

        var k = await ConventionWith(partner);

        await Eventually(async () => receiver.Calls.Count >= 4, "the four events of the convention reach the party");
        var calls = receiver.Calls.ToList();
        Assert.All(calls, c => Assert.True(c.Verified, $"StandardWebhooks refused the signature {c.Signature}"));
        var events = calls.Select(c => JsonDocument.Parse(c.Body).RootElement).ToList();
        Assert.Equal(["convention.created", "convention.signature-added", "convention.signature-added", "convention.signed"], events.Select(e => e.GetProperty("type").GetString()));
        Assert.All(events.Zip(calls), p => Assert.Equal(p.Second.Id, p.First.GetProperty("id").GetString()));
        Assert.All(events, e => Assert.Equal(k, e.GetProperty("data").GetProperty("resourceId").GetGuid()));
        Assert.Equal("SIGNED", events[3].GetProperty("data").GetProperty("status").GetString());
        // Thin: the convention's object or parties are never in the body.
        Assert.All(calls, c => Assert.DoesNotContain("Délégation", c.Body));
        Assert.Equal(["id", "type", "timestamp", "data"], events[0].EnumerateObject().Select(p => p.Name));

        await Eventually(async () => (await Deliveries(partner, signedOnly.Id)).Count == 1, "the signed-only subscription gets its one delivery");
        Assert.Equal("convention.signed", (await Deliveries(partner, signedOnly.Id)).Single().EventType);
        // The stranger's subscription: no delivery row at all, and its receiver was never called.
        Assert.Equal(0L, await Sql<long>("SELECT COUNT(*) FROM webhook_delivery WHERE subscription_id = @id", new { id = strangers.Id }));
        Assert.Empty(elsewhere.Calls);
        // An attempt is recorded just after the receiver answered.
        await Eventually(async () => (await Attempts(partner, all.Id)).Count == 4, "four attempts recorded");
        Assert.All(await Attempts(partner, all.Id), a => Assert.Equal((WebhookAttemptOutcome.SUCCEEDED, 200), (a.Outcome, a.StatusCode!.Value)));
    }

    [Fact]
    public async Task A_receiver_answering_500_is_retried_on_the_backoff_schedule_then_dead_lettered_disabled_after_3_days_and_redelivered()
    {
        var partner = await Subscriber("Association Toujours En Panne");
        var receiver = await StartReceiver();
        receiver.Respond = http => { http.Response.StatusCode = 500; return http.Response.WriteAsync("database down"); };
        var subscription = await Subscribe(partner, receiver, "convention.created");
        StartDispatcher();
        var t0 = Fx.Clock.GetUtcNow();
        await ConventionWith(partner);

        await Eventually(async () => (await Delivery(partner, subscription.Id)).Attempts == 1, "the first attempt");
        var first = await Delivery(partner, subscription.Id);
        Assert.Equal((WebhookDeliveryStatus.PENDING, 500), (first.Status, first.LastStatusCode!.Value));
        // 5 s ± 20 % jitter, on the service clock.
        Assert.InRange(first.NextAttemptAt - t0, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(6));
        await Task.Delay(200);
        Assert.Single(receiver.Calls); // not due yet: nothing retried before its time

        // Each further wait (5 min, 30 min, 2 h, 5 h, 10 h, jittered) is passed by 13 h steps: 78 h in all.
        for (var attempt = 2; attempt <= 7; attempt++)
        {
            Fx.Clock.Set(Fx.Clock.GetUtcNow().AddHours(13));
            var n = attempt;
            await Eventually(async () => (await Delivery(partner, subscription.Id)).Attempts == n, $"attempt {n}");
        }
        var dead = await Delivery(partner, subscription.Id);
        Assert.Equal(WebhookDeliveryStatus.DEAD, dead.Status);
        Assert.Equal(dead.Id, (await Deliveries(partner, subscription.Id, "DEAD")).Single().Id);
        var attempts = await Attempts(partner, subscription.Id);
        Assert.Equal(7, attempts.Count);
        Assert.All(attempts, a => Assert.Equal((WebhookAttemptOutcome.FAILED, 500, "database down"), (a.Outcome, a.StatusCode!.Value, a.ResponseExcerpt)));
        Assert.Equal(Enumerable.Range(1, 7).Reverse(), attempts.Select(a => a.AttemptNo));

        // Failing since t0 for more than 3 days: disabled, and the organisation sees why.
        var disabled = await (await partner.Client(Fx).GetAsync($"/v1/webhook-subscriptions/{subscription.Id}").Ok()).Read<WebhookSubscriptionDto>();
        Assert.Equal(WebhookSubscriptionStatus.DISABLED, disabled.Status);
        Assert.Contains("HTTP 500", disabled.DisabledReason);
        Assert.Equal(t0, disabled.FailingSince);

        // The receiver is repaired: enable, redeliver the dead letter.
        receiver.Respond = _ => Task.CompletedTask;
        var enabled = await (await partner.Client(Fx).PostJson($"/v1/webhook-subscriptions/{subscription.Id}/enable", new { }).Ok())
            .Read<WebhookSubscriptionDto>();
        Assert.Equal((WebhookSubscriptionStatus.ACTIVE, null), (enabled.Status, enabled.DisabledReason));
        var redelivery = await partner.Client(Fx).PostJson($"/v1/webhook-subscriptions/{subscription.Id}/deliveries/{dead.Id}/redelivery", new { });
        Assert.Equal(HttpStatusCode.Accepted, redelivery.StatusCode);
        await Eventually(async () => (await Delivery(partner, subscription.Id)).Status == WebhookDeliveryStatus.DELIVERED, "the redelivery succeeds");
        Assert.Equal(8, receiver.Calls.Count);
        Assert.Single(receiver.Calls.Select(c => c.Id).Distinct());
        // A pending or unknown delivery cannot be redelivered.
        await (await partner.Client(Fx).PostJson($"/v1/webhook-subscriptions/{subscription.Id}/deliveries/{Guid.NewGuid()}/redelivery", new { }))
            .Problem(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task A_429_with_Retry_After_is_retried_after_the_time_asked_not_the_schedule()
    {
        var partner = await Subscriber("Association Trop Sollicitée");
        var receiver = await StartReceiver();
        var calls = 0;
        receiver.Respond = http =>
        {
            if (Interlocked.Increment(ref calls) > 1) return Task.CompletedTask;
            http.Response.StatusCode = 429;
            http.Response.Headers.RetryAfter = "120";
            return Task.CompletedTask;
        };
        var subscription = await Subscribe(partner, receiver, "convention.created");
        StartDispatcher();
        var t0 = Fx.Clock.GetUtcNow();
        await ConventionWith(partner);

        await Eventually(async () => (await Delivery(partner, subscription.Id)).Attempts == 1, "the first attempt");
        Assert.Equal(t0.AddSeconds(120), (await Delivery(partner, subscription.Id)).NextAttemptAt);
        Fx.Clock.Set(t0.AddSeconds(119));
        await Task.Delay(200);
        Assert.Single(receiver.Calls);
        Fx.Clock.Set(t0.AddSeconds(121));
        await Eventually(async () => (await Delivery(partner, subscription.Id)).Status == WebhookDeliveryStatus.DELIVERED, "delivered once the wait is over");
    }

    [Fact]
    public async Task A_slow_receiver_times_out_without_delaying_another_subscriber_and_events_of_one_resource_wait_their_turn()
    {
        var slowParty = await Subscriber("Association Lente");
        var fastParty = await Subscriber("Association Rapide");
        var slow = await StartReceiver();
        var release = new TaskCompletionSource();
        slow.Respond = _ => release.Task;
        var fast = await StartReceiver();
        var slowSubscription = await Subscribe(slowParty, slow);
        var fastSubscription = await Subscribe(fastParty, fast);
        StartDispatcher();
        try
        {
            await ConventionWith(slowParty, fastParty); // created, 3 × signature-added, signed

            await Eventually(async () => fast.Calls.Count >= 5, "the fast receiver gets the five events", seconds: 10,
                seen: () => Seen(fast, fastSubscription.Id));
            Assert.Equal(5, fast.Calls.Count);
            // The slow one got the first event only: the next ones of the same convention wait behind it.
            Assert.Single(slow.Calls);
            await Eventually(async () => (await Attempts(slowParty, slowSubscription.Id)).Count == 1, "the slow call times out (3 s)");
            var attempt = (await Attempts(slowParty, slowSubscription.Id)).Single();
            Assert.Equal(WebhookAttemptOutcome.FAILED, attempt.Outcome);
            Assert.Null(attempt.StatusCode);
            Assert.Contains("No answer within 3 s", attempt.Error);
            Assert.InRange(attempt.LatencyMs, 2900, 10000);
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task A_receiver_that_closes_the_connection_or_is_down_is_recorded_and_retried()
    {
        var partner = await Subscriber("Association Injoignable");
        var closing = await StartReceiver();
        closing.Respond = http => { http.Abort(); return Task.CompletedTask; };
        var down = await StartReceiver();
        var closingSubscription = await Subscribe(partner, closing, "convention.created");
        var downSubscription = await Subscribe(partner, down, "convention.created");
        await down.DisposeAsync(); // nothing listens on its port any more
        StartDispatcher();
        await ConventionWith(partner);

        foreach (var id in new[] { closingSubscription.Id, downSubscription.Id })
        {
            await Eventually(async () => (await Attempts(partner, id)).Count == 1, "one failed attempt");
            var attempt = (await Attempts(partner, id)).Single();
            Assert.Equal((WebhookAttemptOutcome.FAILED, (int?)null), (attempt.Outcome, attempt.StatusCode));
            Assert.False(string.IsNullOrEmpty(attempt.Error));
            var delivery = await Delivery(partner, id);
            Assert.Equal((WebhookDeliveryStatus.PENDING, 1), (delivery.Status, delivery.Attempts));
        }
    }

    [Fact]
    public async Task A_dispatcher_stopped_mid_delivery_loses_nothing_another_delivers_once_the_lease_expires()
    {
        var partner = await Subscriber("Association Interrompue");
        var receiver = await StartReceiver();
        var hang = new TaskCompletionSource();
        receiver.Respond = _ => hang.Task;
        var subscription = await Subscribe(partner, receiver, "convention.created");
        var first = StartDispatcher(("Webhooks:HttpTimeout", "00:01:00"));
        await ConventionWith(partner);

        await Eventually(async () => receiver.Calls.Count == 1, "the first dispatcher is mid-delivery");
        await first.DisposeAsync(); // stopped while the call is in flight: its lease stays
        hang.TrySetResult();
        receiver.Respond = _ => Task.CompletedTask;
        Assert.Equal(0, (await Delivery(partner, subscription.Id)).Attempts);

        StartDispatcher();
        await Task.Delay(300);
        Assert.Single(receiver.Calls); // still leased to the stopped dispatcher
        Fx.Clock.Set(Fx.Clock.GetUtcNow().AddMinutes(3)); // past the 2-minute lease
        await Eventually(async () => (await Delivery(partner, subscription.Id)).Status == WebhookDeliveryStatus.DELIVERED, "the second dispatcher delivers it");
        Assert.Equal(2, receiver.Calls.Count);
        Assert.Single(receiver.Calls.Select(c => c.Id).Distinct()); // the same webhook-id: receivers de-duplicate on it
    }

    [Fact]
    public async Task Two_dispatchers_on_one_database_deliver_every_event_and_duplicates_are_counted()
    {
        var partner = await Subscriber("Association Deux Répartiteurs");
        var receiver = await StartReceiver();
        var subscription = await Subscribe(partner, receiver);
        StartDispatcher();
        StartDispatcher();
        const int conventions = 6;
        await Task.WhenAll(Enumerable.Range(0, conventions).Select(_ => ConventionWith(partner)));

        await Eventually(async () => receiver.Calls.Select(c => c.Id).Distinct().Count() == 4 * conventions, "every event delivered", seconds: 30);
        await Task.Delay(300);
        var duplicates = receiver.Calls.Count - receiver.Calls.Select(c => c.Id).Distinct().Count();
        // Leases keep the normal case free of duplicates; at-least-once allows them only after a lost lease.
        Assert.True(duplicates == 0, $"{duplicates} duplicate deliveries");
        await Eventually(async () => (await Deliveries(partner, subscription.Id)).All(d => d.Status == WebhookDeliveryStatus.DELIVERED),
            "every delivery recorded as delivered");
        var deliveries = await Deliveries(partner, subscription.Id);
        Assert.Equal(4 * conventions, deliveries.Count);
        Assert.All(deliveries, d => Assert.Equal((WebhookDeliveryStatus.DELIVERED, 1), (d.Status, d.Attempts)));
        // One attempt per delivery, whichever of the two dispatchers made it.
        var dispatchers = await Rows<string>("SELECT dispatcher FROM webhook_attempt WHERE subscription_id = @id", new { id = subscription.Id });
        Assert.Equal(4 * conventions, dispatchers.Count);
        Assert.InRange(dispatchers.Distinct().Count(), 1, 2);
    }

    [Fact]
    public async Task A_capped_dispatcher_delivers_every_event_in_order_per_convention_and_no_faster_than_its_cap()
    {
        var partner = await Subscriber("Association Débit Plafonné");
        var receiver = await StartReceiver();
        await Subscribe(partner, receiver);
        const int conventions = 6;
        await Task.WhenAll(Enumerable.Range(0, conventions).Select(_ => ConventionWith(partner)));
        StartDispatcher(("Webhooks:MaxDeliveriesPerSecond", "20"));

        await Eventually(async () => receiver.Calls.Count >= 4 * conventions, "every event delivered", seconds: 30);
        var events = receiver.Calls.Select(c => JsonDocument.Parse(c.Body).RootElement).ToList();
        Assert.All(events.GroupBy(e => e.GetProperty("data").GetProperty("resourceId").GetGuid()), g => Assert.Equal(
            ["convention.created", "convention.signature-added", "convention.signature-added", "convention.signed"], g.Select(e => e.GetProperty("type").GetString())));
        // 24 calls at 20 a second, the bucket holding two ticks (4 calls): 1 s from the first to the last, less a tick's
        // spread; uncapped, they all go within a tick.
        var calls = receiver.Calls.Select(c => c.At).Order().ToList();
        Assert.True(calls[^1] - calls[0] >= TimeSpan.FromSeconds(0.6), $"24 calls in {(calls[^1] - calls[0]).TotalSeconds:F2} s");
    }

    [Fact]
    public async Task Under_the_cap_subscriptions_take_turns_and_none_waits_for_another_to_drain()
    {
        var (first, second) = (await Subscriber("Association Premier Servi"), await Subscriber("Association Second Servi"));
        var (a, b) = (await StartReceiver(), await StartReceiver());
        await Subscribe(first, a);
        await Subscribe(second, b);
        const int conventions = 4;
        foreach (var party in new[] { first, second })
            for (var i = 0; i < conventions; i++) await ConventionWith(party);
        // Every event sequenced first (the capped dispatcher sequences a tick's worth at a time, the first party's first):
        // then both have more due than the cap lets out.
        var sequencer = Fx.Services.GetRequiredService<EventSequencer>();
        while ((await sequencer.RunOnceAsync(int.MaxValue, CancellationToken.None)).Events > 0) { }
        // 20 calls a second: two a tick of 100 ms, fewer than either subscription has due (4 conventions each, one in flight per convention).
        StartDispatcher(("Webhooks:MaxDeliveriesPerSecond", "20"));

        await Eventually(async () => a.Calls.Count >= 4 * conventions && b.Calls.Count >= 4 * conventions, "every event delivered", seconds: 30);
        var (atA, atB) = (a.Calls.Select(c => c.At).Order().ToList(), b.Calls.Select(c => c.At).Order().ToList());
        // Before, the subscription listed first took both calls of every tick until it had fewer due than that.
        Assert.True(atB[0] < atA[5], "the second subscription waited for the first one's backlog");
        Assert.True(atA[0] < atB[5], "the first subscription waited for the second one's backlog");
    }

    [Fact]
    public async Task A_sequencing_pass_takes_at_most_the_events_it_is_given_oldest_first()
    {
        // A capped dispatcher sequences a tick's worth of a backlog at a time (the events that make twice its calls of a tick), not the whole of it.
        var partner = await Subscriber("Association Au Compte-Gouttes");
        await Subscribe(partner, await StartReceiver());
        await ConventionWith(partner);
        await ConventionWith(partner);
        var sequencer = Fx.Services.GetRequiredService<EventSequencer>();
        const string Pending = "SELECT COUNT(*) FROM outbox_event WHERE position IS NULL";
        var before = await Sql<long>(Pending);
        Assert.True(before >= 6, $"{before} events wait to be sequenced");
        var oldest = await Sql<Guid>("SELECT id FROM outbox_event WHERE position IS NULL ORDER BY seq LIMIT 1");

        Assert.Equal(4, (await sequencer.RunOnceAsync(4, CancellationToken.None)).Events);
        Assert.Equal(before - 4, await Sql<long>(Pending));
        Assert.NotNull(await Sql<long?>("SELECT position FROM outbox_event WHERE id = @oldest", new { oldest }));
        // Without a smaller limit, a pass takes the configured batch (500).
        Assert.Equal((int)Math.Min(before - 4, 500), (await sequencer.RunOnceAsync(int.MaxValue, CancellationToken.None)).Events);
    }

    [Fact]
    public async Task A_failing_head_delivery_shows_what_it_holds_back_and_skipped_lets_the_later_events_of_its_resource_go()
    {
        var partner = await Subscriber("Association Tête Bloquée");
        var receiver = await StartReceiver();
        // The convention's first event fails, for ever: the three after it wait behind it.
        receiver.Respond = http => Type(receiver.Calls.Last().Body) == "convention.created" ? Fail(http) : Task.CompletedTask;
        static Task Fail(HttpContext http) { http.Response.StatusCode = 500; return http.Response.WriteAsync("down"); }
        var subscription = await Subscribe(partner, receiver);
        StartDispatcher();
        await ConventionWith(partner);

        await Eventually(async () => (await Deliveries(partner, subscription.Id)).Any(d => d.Attempts == 1), "the first attempt");
        var head = (await Deliveries(partner, subscription.Id)).Single(d => d.EventType == "convention.created");
        Assert.Equal((WebhookDeliveryStatus.PENDING, 500, 3), (head.Status, head.LastStatusCode!.Value, head.HeldBack));
        Assert.All((await Deliveries(partner, subscription.Id)).Where(d => d.Id != head.Id), d => Assert.Equal((WebhookDeliveryStatus.PENDING, 0), (d.Status, d.Attempts)));

        var skipped = await (await partner.Client(Fx).PostAsync($"/v1/webhook-subscriptions/{subscription.Id}/deliveries/{head.Id}/skip", null).Ok()).Read<WebhookDeliveryDto>();
        Assert.Equal((WebhookDeliveryStatus.SKIPPED, 0), (skipped.Status, skipped.HeldBack));
        await Eventually(async () => (await Deliveries(partner, subscription.Id, "DELIVERED")).Count == 3, "the three later events delivered");
        Assert.Equal(["convention.signature-added", "convention.signature-added", "convention.signed"],
            receiver.Calls.Select(c => Type(c.Body)).Where(t => t != "convention.created"));
        Assert.Equal(WebhookDeliveryStatus.SKIPPED, (await Deliveries(partner, subscription.Id, "SKIPPED")).Single().Status);

        // Only a pending delivery holds anything back: skipping another is refused; a skipped one can be sent again.
        await (await partner.Client(Fx).PostAsync($"/v1/webhook-subscriptions/{subscription.Id}/deliveries/{head.Id}/skip", null))
            .Problem(HttpStatusCode.Conflict, "webhooks.delivery-not-pending");
        await partner.Client(Fx).PostAsync($"/v1/webhook-subscriptions/{subscription.Id}/deliveries/{head.Id}/redelivery", null).Ok(HttpStatusCode.Accepted);
    }

    /// <summary>
    /// Skip wins over an attempt in flight: the dispatcher writes an outcome only while it holds the lease, which the skip
    /// took, so the answer that comes after (a 200 here) is listed as an attempt and changes nothing.
    /// </summary>
    [Fact]
    public async Task A_delivery_skipped_while_its_attempt_is_in_flight_stays_skipped_whatever_the_attempt_answers()
    {
        var partner = await Subscriber("Association Tête En Vol");
        var receiver = await StartReceiver();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Respond = async http => { if (Type(receiver.Calls.Last().Body) == "convention.created") await gate.Task; };
        var subscription = await Subscribe(partner, receiver);
        StartDispatcher();
        await ConventionWith(partner);

        await Eventually(async () => receiver.Calls.Count == 1, "the first event's call, held open by the receiver");
        var head = (await Deliveries(partner, subscription.Id)).Single(d => d.EventType == "convention.created");
        var skipped = await (await partner.Client(Fx).PostAsync($"/v1/webhook-subscriptions/{subscription.Id}/deliveries/{head.Id}/skip", null).Ok()).Read<WebhookDeliveryDto>();
        Assert.Equal(WebhookDeliveryStatus.SKIPPED, skipped.Status);
        gate.SetResult();

        await Eventually(async () => await Sql<long>("SELECT COUNT(*) FROM webhook_attempt WHERE delivery_id = @id", new { id = head.Id }) == 1,
            "the attempt's 200 is recorded as an attempt");
        await Eventually(async () => (await Deliveries(partner, subscription.Id, "DELIVERED")).Count == 3, "the three later events delivered");
        var after = (await Deliveries(partner, subscription.Id, "SKIPPED")).Single();
        Assert.Equal((head.Id, WebhookDeliveryStatus.SKIPPED, 0), (after.Id, after.Status, after.Attempts));
        Assert.Equal("SKIPPED", await Sql<string>("SELECT status FROM webhook_delivery WHERE id = @id", new { id = head.Id }));
    }

    private static string Type(string body)
    {
        try { return JsonDocument.Parse(body).RootElement.GetProperty("type").GetString() ?? "?"; }
        catch (JsonException) { return "?"; }
    }
}

[Collection(SqliteCollection.Name)] public sealed class WebhookDeliveryTests_Sqlite(SqliteFixture f) : WebhookDeliveryTests(f);
[Collection(PostgresCollection.Name)] public sealed class WebhookDeliveryTests_Postgres(PostgresFixture f) : WebhookDeliveryTests(f);
