using CoordinationHub.Features.Audit;
using CoordinationHub.Features.Webhooks;
using CoordinationHub.Tests.Features.Referrals;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Features.Audit;

/// <summary>Audit rows and events do not pile up: past their retention they go, in batches; what is recent stays.</summary>
public abstract class RetentionTests(ApiFixture fx) : ReferralTestBase(fx)
{
    private const string InsertAuditSql = """
        INSERT INTO audit_event (id, occurred_at, organisation_id, api_key_id, resource_type, resource_id, action, before_state, after_state)
        VALUES (@id, @at, NULL, @keyId, @resourceType, @resourceId, 'test.retention', NULL, NULL)
        """;

    [Fact]
    public async Task Audit_rows_older_than_the_retention_go_in_batches_and_recent_ones_and_a_held_persons_referral_history_stay()
    {
        var ccas = await Ccas("03190");
        var (held, _) = await Send(ccas, Draft("INCOME", Person("03190")));
        var now = Fx.Clock.GetUtcNow();
        var old = now.AddDays(-366);
        var keyId = Guid.NewGuid();
        var oldConventions = Enumerable.Range(0, AuditRetention.Batch + 5)
            .Select(_ => new { id = Guid.CreateVersion7(), at = old, keyId, resourceType = "convention", resourceId = Guid.NewGuid() }).ToList();
        var recent = new { id = Guid.CreateVersion7(), at = now.AddDays(-300), keyId, resourceType = "convention", resourceId = Guid.NewGuid() };
        var heldReferral = new { id = Guid.CreateVersion7(), at = old, keyId, resourceType = "referral", resourceId = held.Id };
        var goneReferral = new { id = Guid.CreateVersion7(), at = old, keyId, resourceType = "referral", resourceId = Guid.NewGuid() };
        await using (var c = await Fx.Db.OpenAsync(default))
        {
            await c.ExecuteAsync(Fx.Db.Command(InsertAuditSql, null, default).CommandText, oldConventions.Cast<object>().Append(recent).Append(heldReferral).Append(goneReferral));
        }

        await using var scope = Fx.Services.CreateAsyncScope();
        var purged = await scope.ServiceProvider.GetRequiredService<AuditRetention>().RunAsync(default);

        Assert.True(purged >= AuditRetention.Batch + 6, $"{purged} rows purged"); // more than one batch
        Assert.Equal(0, await Count("SELECT COUNT(*) FROM audit_event WHERE api_key_id = @keyId AND occurred_at < @cutoff AND resource_type = 'convention'",
            new { keyId, cutoff = now.AddDays(-365) }));
        Assert.Equal(0, await Count("SELECT COUNT(*) FROM audit_event WHERE id = @id", new { goneReferral.id }));
        Assert.Equal(1, await Count("SELECT COUNT(*) FROM audit_event WHERE id = @id", new { recent.id }));
        Assert.Equal(1, await Count("SELECT COUNT(*) FROM audit_event WHERE id = @id", new { heldReferral.id }));
        // The referral's own audit (written now) stays too.
        Assert.True(await Count("SELECT COUNT(*) FROM audit_event WHERE resource_id = @id AND action = 'referral.sent'", new { id = held.Id }) == 1);
    }

    [Fact]
    public async Task Events_older_than_the_retention_go_with_their_deliveries_and_attempts_and_recent_ones_stay()
    {
        var dispatcher = ActivatorUtilities.CreateInstance<WebhookDispatcher>(Fx.Services);
        var days = Fx.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<WebhookOptions>>().Value.RetentionDays;
        var now = Fx.Clock.GetUtcNow();
        // Far beyond what the sequencer hands out, so that no feed position collides.
        var position = 9_000_000_000_000L + Random.Shared.NextInt64(1_000_000_000);
        var oldIds = Enumerable.Range(0, WebhookDispatcher.PurgeBatch + 3).Select(_ => Guid.CreateVersion7()).ToList();
        var recentId = Guid.CreateVersion7();
        var subscriptionId = Guid.CreateVersion7();
        var sqlite = Fx.Provider == CoordinationHub.Platform.Data.DatabaseProvider.Sqlite;
        try
        {
            await using (var c = await Fx.Db.OpenAsync(default))
            {
                var events = oldIds.Select((id, i) => new { id, at = now.AddDays(-days - 1), position = position + i, seq = position + i })
                    .Append(new { id = recentId, at = now.AddDays(-days + 1), position = position + oldIds.Count, seq = position + oldIds.Count });
                await c.ExecuteAsync(Fx.Db.Dialect.Render(sqlite
                    ? "INSERT INTO outbox_event (id, occurred_at, event_type, resource_type, resource_id, payload, position, seq) VALUES (@id, @at, 'test.retention', 'test', @id, '{}', @position, @seq)"
                    : "INSERT INTO outbox_event (id, occurred_at, event_type, resource_type, resource_id, payload, position) VALUES (@id, @at, 'test.retention', 'test', @id, '{}', @position)"),
                    events);
                var org = await c.ExecuteScalarAsync<Guid>(Fx.Db.Command("SELECT id FROM organisation WHERE kind = 'DEPARTEMENT' ORDER BY id {limit}", new { limit = 1 }, default));
                await c.ExecuteAsync(Fx.Db.Command("""
                    INSERT INTO webhook_subscription (id, organisation_id, url, event_types, description, secret, status, version, created_at, updated_at)
                    VALUES (@subscriptionId, @org, 'https://example.invalid/hook', 'test.retention', NULL, 'x', 'DISABLED', 1, @now, @now)
                    """, new { subscriptionId, org, now }, default));
                foreach (var (eventId, i) in oldIds.Take(2).Append(recentId).Select((e, i) => (e, i)))
                {
                    var deliveryId = Guid.CreateVersion7();
                    await c.ExecuteAsync(Fx.Db.Command("""
                        INSERT INTO webhook_delivery (id, subscription_id, event_id, position, resource_id, status, attempts, next_attempt_at, created_at)
                        VALUES (@deliveryId, @subscriptionId, @eventId, @position, @eventId, 'DELIVERED', 1, @now, @now)
                        """, new { deliveryId, subscriptionId, eventId, position = position + i, now }, default));
                    await c.ExecuteAsync(Fx.Db.Command("""
                        INSERT INTO webhook_attempt (id, delivery_id, subscription_id, event_id, attempt_no, attempted_at, outcome, latency_ms, dispatcher)
                        VALUES (@id, @deliveryId, @subscriptionId, @eventId, 1, @now, 'SUCCEEDED', 5, 'test')
                        """, new { id = Guid.CreateVersion7(), deliveryId, subscriptionId, eventId, now }, default));
                }
            }

            var purged = await dispatcher.PurgeAsync(default);

            Assert.True(purged >= oldIds.Count, $"{purged} events purged");
            Assert.Equal(0, await Count("SELECT COUNT(*) FROM outbox_event WHERE id {in:ids}", new { ids = oldIds }));
            Assert.Equal(1, await Count("SELECT COUNT(*) FROM outbox_event WHERE id = @recentId", new { recentId }));
            Assert.Equal(1, await Count("SELECT COUNT(*) FROM webhook_delivery WHERE subscription_id = @subscriptionId", new { subscriptionId }));
            Assert.Equal(1, await Count("SELECT COUNT(*) FROM webhook_attempt WHERE subscription_id = @subscriptionId", new { subscriptionId }));
        }
        finally
        {
            await using var c = await Fx.Db.OpenAsync(default);
            foreach (var sql in new[]
            {
                "DELETE FROM webhook_attempt WHERE subscription_id = @subscriptionId", "DELETE FROM webhook_delivery WHERE subscription_id = @subscriptionId",
                "DELETE FROM webhook_subscription WHERE id = @subscriptionId", "DELETE FROM outbox_event WHERE id = @recentId",
            })
                await c.ExecuteAsync(Fx.Db.Command(sql, new { subscriptionId, recentId }, default));
        }
    }

    private async Task<long> Count(string sql, object parameters)
    {
        await using var c = await Fx.Db.OpenAsync(default);
        return await c.ExecuteScalarAsync<long>(Fx.Db.Command(sql, parameters, default));
    }
}

[Collection(SqliteCollection.Name)] public sealed class RetentionTests_Sqlite(SqliteFixture f) : RetentionTests(f);
[Collection(PostgresCollection.Name)] public sealed class RetentionTests_Postgres(PostgresFixture f) : RetentionTests(f);
