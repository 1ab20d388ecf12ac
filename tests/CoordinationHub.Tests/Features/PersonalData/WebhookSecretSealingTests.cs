using System.Net;
using CoordinationHub.Features.Webhooks;
using CoordinationHub.Platform.Security;
using CoordinationHub.Tests.Features.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Features.PersonalData;

/// <summary>Issue 23, finding 12: a webhook's signing secret is stored sealed with the platform's data key, never in clear.</summary>
public abstract class WebhookSecretSealingTests(ApiFixture fx) : WebhookTestBase(fx)
{
    [Fact]
    public async Task A_copy_of_the_database_holds_no_signing_secret_and_the_receiver_still_verifies_every_delivery()
    {
        var partner = await Subscriber("Association Scellée " + Guid.NewGuid().ToString("N")[..6]);
        var receiver = await StartReceiver();
        var subscription = await Subscribe(partner, receiver, "convention.created");
        var rotated = await (await partner.Client(Fx).PostJson($"/v1/webhook-subscriptions/{subscription.Id}/secret-rotation",
            new { overlapHours = 1 }).Ok()).Read<WebhookSubscriptionDto>();
        receiver.Secrets.Add(rotated.Secret!);

        // What a stolen database shows: two sealed values, neither secret, neither its key material.
        var stored = await Sql<string>("SELECT secret || ' ' || previous_secret FROM webhook_subscription WHERE id = @id", new { id = subscription.Id });
        foreach (var secret in new[] { subscription.Secret!, rotated.Secret! })
        {
            Assert.DoesNotContain(secret, stored);
            Assert.DoesNotContain(secret["whsec_".Length..], stored);
        }
        Assert.All(stored.Split(' '), s => Assert.StartsWith("chv2:", s));
        var keys = Fx.Services.GetRequiredService<DataKeys>();
        Assert.Equal(rotated.Secret, await keys.OpenPlatformAsync(stored.Split(' ')[0], WebhookSigner.SecretContext(subscription.Id), CancellationToken.None));

        // The dispatcher opens them to sign: both signatures verify during the overlap.
        StartDispatcher();
        await ConventionWith(partner);
        await Eventually(async () => !receiver.Calls.IsEmpty, "the delivery reaches the receiver");
        Assert.All(receiver.Calls, c => Assert.True(c.Verified, $"A delivery did not verify: {c.Signature}"));
        Assert.Equal(2, receiver.Calls.First().Signature.Split(' ').Length);
    }

    [Fact]
    public async Task A_secret_stored_in_clear_before_sealing_is_sealed_at_start_up_and_still_signs()
    {
        var partner = await Subscriber("Association Ancienne " + Guid.NewGuid().ToString("N")[..6]);
        var receiver = await StartReceiver();
        var subscription = await Subscribe(partner, receiver, "convention.created");
        await Sql<long>("UPDATE webhook_subscription SET secret = @secret WHERE id = @id RETURNING 1",
            new { id = subscription.Id, secret = subscription.Secret });

        await Fx.Services.GetRequiredService<CoordinationHub.Platform.Data.Migrator>().MigrateAsync(CancellationToken.None);

        var stored = await Sql<string>("SELECT secret FROM webhook_subscription WHERE id = @id", new { id = subscription.Id });
        Assert.StartsWith("chv2:", stored);
        StartDispatcher();
        await ConventionWith(partner);
        await Eventually(async () => !receiver.Calls.IsEmpty, "the delivery reaches the receiver");
        Assert.All(receiver.Calls, c => Assert.True(c.Verified, $"A delivery did not verify: {c.Signature}"));
    }
}

[Collection(SqliteCollection.Name)] public sealed class WebhookSecretSealingTests_Sqlite(SqliteFixture f) : WebhookSecretSealingTests(f);
[Collection(PostgresCollection.Name)] public sealed class WebhookSecretSealingTests_Postgres(PostgresFixture f) : WebhookSecretSealingTests(f);
