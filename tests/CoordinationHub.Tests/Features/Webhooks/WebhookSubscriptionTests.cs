using System.Net;
using CoordinationHub.Features.Webhooks;
using CoordinationHub.Platform.Http;

namespace CoordinationHub.Tests.Features.Webhooks;

public abstract class WebhookSubscriptionTests(ApiFixture fx) : WebhookTestBase(fx)
{
    [Theory]
    [InlineData("http://example.com/hook", "webhooks.url-not-https")]
    [InlineData("https://10.1.2.3/hook", "webhooks.url-forbidden-address")]
    [InlineData("https://192.168.1.10/hook", "webhooks.url-forbidden-address")]
    [InlineData("https://169.254.169.254/latest/meta-data", "webhooks.url-forbidden-address")]
    [InlineData("https://127.0.0.2/hook", "webhooks.url-forbidden-address")]
    [InlineData("https://[::1]/hook", "webhooks.url-forbidden-address")]
    [InlineData("https://[fd00:ec2::254]/hook", "webhooks.url-forbidden-address")]
    [InlineData("https://localhost/hook", "webhooks.url-forbidden-address")]
    public async Task A_URL_that_is_not_https_or_reaches_a_private_address_is_refused_with_422(string url, string type)
    {
        var partner = await Subscriber("Association Curieuse");
        var response = await partner.Client(Fx).PostJson("/v1/webhook-subscriptions", new { url, eventTypes = new[] { "*" } });
        var problem = await response.Problem(HttpStatusCode.UnprocessableEntity, type);
        Assert.DoesNotContain("whsec_", problem.ToString());
        Assert.Equal(0L, await Sql<long>("SELECT COUNT(*) FROM webhook_subscription WHERE organisation_id = @id", new { id = partner.Id }));
    }

    [Fact]
    public async Task Malformed_subscriptions_are_refused_with_400_naming_the_field()
    {
        var partner = await Subscriber("Association Pressée");
        var client = partner.Client(Fx);
        var cases = new (object Body, string Field)[]
        {
            (new { url = "ftp://example.com/x", eventTypes = new[] { "*" } }, "url"),
            (new { url = "https://example.com/" + new string('a', 2000), eventTypes = new[] { "*" } }, "url"),
            (new { url = "https://example.com/x", eventTypes = Array.Empty<string>() }, "eventTypes"),
            (new { url = "https://example.com/x", eventTypes = Enumerable.Range(0, 21).Select(i => $"convention.t{(char)('a' + i)}").ToArray() }, "eventTypes"),
            (new { url = "https://example.com/x", eventTypes = new[] { "Convention.Signed" } }, "eventTypes[0]"),
        };
        foreach (var (body, field) in cases)
        {
            var problem = await (await client.PostJson("/v1/webhook-subscriptions", body)).Problem(HttpStatusCode.BadRequest, "validation");
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{field} not named in {problem}");
        }
        // The platform administrator has no organisation to receive events for.
        await (await Fx.Admin().PostJson("/v1/webhook-subscriptions", new { url = "http://127.0.0.1:9/hook", eventTypes = new[] { "*" } }))
            .Problem(HttpStatusCode.UnprocessableEntity, "webhooks.organisation-required");
        // A key without webhooks:manage.
        var reader = Fx.Client(await Fx.KeyFor(partner.Id, "conventions:read"));
        await (await reader.GetAsync("/v1/webhook-subscriptions")).Problem(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task The_secret_is_shown_once_and_a_subscription_is_visible_to_its_organisation_only_until_deleted()
    {
        var partner = await Subscriber("Association Discrète");
        var other = await Subscriber("Association Voisine");
        var created = await partner.Client(Fx).PostJson("/v1/webhook-subscriptions", new { url = "http://127.0.0.1:9/hook", eventTypes = new[] { "convention.*" } })
            .Ok(HttpStatusCode.Created);
        var subscription = await created.Read<WebhookSubscriptionDto>();
        Assert.StartsWith("whsec_", subscription.Secret);
        Assert.Equal($"/v1/webhook-subscriptions/{subscription.Id}", created.Headers.Location!.ToString());

        var read = await (await partner.Client(Fx).GetAsync($"/v1/webhook-subscriptions/{subscription.Id}").Ok()).Read<WebhookSubscriptionDto>();
        Assert.Null(read.Secret);
        Assert.Equal(["convention.*"], read.EventTypes);
        var list = await (await partner.Client(Fx).GetAsync("/v1/webhook-subscriptions").Ok()).Read<PageResponse<WebhookSubscriptionDto>>();
        Assert.Equal(subscription.Id, list.Items.Single().Id);
        Assert.Null(list.Items.Single().Secret);

        await (await other.Client(Fx).GetAsync($"/v1/webhook-subscriptions/{subscription.Id}")).Problem(HttpStatusCode.NotFound, "not-found");
        await (await other.Client(Fx).GetAsync($"/v1/webhook-subscriptions/{subscription.Id}/attempts")).Problem(HttpStatusCode.NotFound, "not-found");
        Assert.Empty((await (await other.Client(Fx).GetAsync("/v1/webhook-subscriptions").Ok()).Read<PageResponse<WebhookSubscriptionDto>>()).Items);

        Assert.Equal(HttpStatusCode.NoContent, (await partner.Client(Fx).DeleteAsync($"/v1/webhook-subscriptions/{subscription.Id}")).StatusCode);
        await (await partner.Client(Fx).GetAsync($"/v1/webhook-subscriptions/{subscription.Id}")).Problem(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task After_a_rotation_both_secrets_sign_during_the_overlap_then_only_the_new_one()
    {
        var partner = await Subscriber("Association Prudente");
        var receiver = await StartReceiver();
        var subscription = await Subscribe(partner, receiver, "convention.created");
        var oldSecret = subscription.Secret!;
        var rotated = await (await partner.Client(Fx).PostJson($"/v1/webhook-subscriptions/{subscription.Id}/secret-rotation", new { overlapHours = 24 }).Ok())
            .Read<WebhookSubscriptionDto>();
        Assert.NotEqual(oldSecret, rotated.Secret);
        Assert.Equal(Fx.Clock.GetUtcNow().AddHours(24), rotated.PreviousSecretUntil);
        StartDispatcher();

        await ConventionWith(partner);
        await Eventually(async () => receiver.Calls.Count == 1, "a delivery during the overlap");
        var during = receiver.Calls.Single();
        Assert.Equal(2, during.Signature.Split(' ').Length);
        // The previous secret signs first (the .NET StandardWebhooks package reads the first signature only),
        // the new one second.
        Assert.True(Verifies(oldSecret, during), "a receiver still on the previous secret verifies the delivery");
        Assert.Equal(WebhookSigner.Sign(during.Id, long.Parse(during.Timestamp), during.Body, [rotated.Secret!]), during.Signature.Split(' ')[1]);

        Fx.Clock.Set(Fx.Clock.GetUtcNow().AddHours(25));
        await ConventionWith(partner);
        await Eventually(async () => receiver.Calls.Count == 2, "a delivery after the overlap");
        var after = receiver.Calls.Last();
        Assert.Single(after.Signature.Split(' '));
        Assert.True(Verifies(rotated.Secret!, after));
        Assert.False(Verifies(oldSecret, after));

        await (await partner.Client(Fx).PostJson($"/v1/webhook-subscriptions/{subscription.Id}/secret-rotation", new { overlapHours = 500 }))
            .Problem(HttpStatusCode.BadRequest, "validation");
    }

    private static bool Verifies(string secret, Receiver.Call call)
    {
        var headers = new Microsoft.AspNetCore.Http.HeaderDictionary
        {
            ["webhook-id"] = call.Id,
            ["webhook-timestamp"] = call.Timestamp,
            ["webhook-signature"] = call.Signature,
        };
        try { new StandardWebhooks.StandardWebhook(secret).Verify(call.Body, headers); return true; }
        catch (Exception) { return false; }
    }

    [Theory]
    [InlineData("8.8.8.8", false)]
    [InlineData("2a00:1450:4007::1", false)]
    [InlineData("127.0.0.1", true)]
    [InlineData("100.64.0.1", true)]
    [InlineData("172.20.0.1", true)]
    [InlineData("::ffff:10.0.0.1", true)]
    [InlineData("fe80::1", true)]
    [InlineData("0.0.0.0", true)]
    public void Addresses_that_are_not_public_are_forbidden_at_connection_time_too(string address, bool forbidden) =>
        Assert.Equal(forbidden, UrlGuard.IsForbidden(IPAddress.Parse(address)));
}

[Collection(SqliteCollection.Name)] public sealed class WebhookSubscriptionTests_Sqlite(SqliteFixture f) : WebhookSubscriptionTests(f);
[Collection(PostgresCollection.Name)] public sealed class WebhookSubscriptionTests_Postgres(PostgresFixture f) : WebhookSubscriptionTests(f);
