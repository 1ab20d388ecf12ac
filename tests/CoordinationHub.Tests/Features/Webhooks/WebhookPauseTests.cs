using System.Net;
using System.Text.Json;
using Dapper;

namespace CoordinationHub.Tests.Features.Webhooks;

/// <summary>
/// Decided: a disabled subscription gets no delivery for the events created meanwhile, not even after enable (a
/// receiver that was down for days would otherwise get a flood, in an order it cannot use); the pull feed keeps them
/// (30 days), and the subscriber catches up from it. The contract's enable operation and the README say so.
/// </summary>
public abstract class WebhookPauseTests(ApiFixture fx) : WebhookTestBase(fx)
{
    [Fact]
    public async Task Events_created_while_a_subscription_is_disabled_are_not_sent_after_enable_but_stay_in_the_feed()
    {
        var partner = await Subscriber("Association En Pause");
        var receiver = await StartReceiver();
        var subscription = await Subscribe(partner, receiver);
        await using (var c = await Fx.Db.OpenAsync(CancellationToken.None))
            await c.ExecuteAsync(Fx.Db.Command(
                "UPDATE webhook_subscription SET status = 'DISABLED', disabled_at = @now, disabled_reason = 'test' WHERE id = @id",
                new { id = subscription.Id, now = Fx.Clock.GetUtcNow() }, CancellationToken.None));
        StartDispatcher();

        var during = await ConventionWith(partner);
        await Eventually(async () => (await Feed(partner)).Count(e => e == during) == 4, "the feed holds the four events of the pause");
        await partner.Client(Fx).PostAsync($"/v1/webhook-subscriptions/{subscription.Id}/enable", null).Ok();

        var after = await ConventionWith(partner);
        await Eventually(async () => receiver.Calls.Count >= 4, "the events after enable reach the receiver");
        await Task.Delay(500); // anything of the pause would have come first, in order
        var sent = receiver.Calls.Select(c => JsonDocument.Parse(c.Body).RootElement.GetProperty("data").GetProperty("resourceId").GetGuid());
        Assert.All(sent, id => Assert.Equal(after, id));
        Assert.Equal(4, (await Feed(partner)).Count(e => e == during));
    }

    private async Task<List<Guid>> Feed(Party party)
    {
        var page = await (await party.Client(Fx).GetAsync("/v1/events?limit=500").Ok()).Json();
        return [.. page.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("data").GetProperty("resourceId").GetGuid())];
    }
}

[Collection(SqliteCollection.Name)] public sealed class WebhookPauseTests_Sqlite(SqliteFixture f) : WebhookPauseTests(f);
[Collection(PostgresCollection.Name)] public sealed class WebhookPauseTests_Postgres(PostgresFixture f) : WebhookPauseTests(f);
