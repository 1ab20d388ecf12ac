using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Webhooks;

/// <summary>
/// Sends a dead-lettered (or already delivered) event again, with a fresh retry schedule. A pending
/// delivery is already on its way: 409.
/// </summary>
public sealed record RedeliverWebhookCommand(Guid SubscriptionId, Guid DeliveryId) : ICommand<WebhookDeliveryDto>;

public sealed class RedeliverWebhookHandler(Db db, Caller caller, TimeProvider clock) : ICommandHandler<RedeliverWebhookCommand, WebhookDeliveryDto>
{
    public async ValueTask<WebhookDeliveryDto> Handle(RedeliverWebhookCommand command, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            await WebhookSubscriptionStore.LoadAsync(db, c, tx, command.SubscriptionId, caller, t);
            var ids = new { id = command.DeliveryId, subscriptionId = command.SubscriptionId };
            var delivery = await c.QuerySingleOrDefaultAsync<WebhookDeliveryDto>(db.Command(LoadSql, ids, t, tx))
                ?? throw new NotFoundException("webhook delivery", command.DeliveryId);
            if (delivery.Status == WebhookDeliveryStatus.PENDING)
                throw new ConflictException("webhooks.delivery-pending", "This delivery is still pending; it will be attempted again without being asked.");
            await c.ExecuteAsync(db.Command(RedeliverSql, new { command.DeliveryId, now = clock.GetUtcNow() }, t, tx));
            return (await c.QuerySingleAsync<WebhookDeliveryDto>(db.Command(LoadSql, ids, t, tx)));
        }, ct);

    private const string LoadSql = "SELECT " + ListWebhookDeliveriesHandler.Columns + """

        FROM webhook_delivery d JOIN outbox_event e ON e.id = d.event_id
        WHERE d.id = @id AND d.subscription_id = @subscriptionId
        """;
    private const string RedeliverSql = """
        UPDATE webhook_delivery
        SET status = 'PENDING', attempts = 0, next_attempt_at = @now, lease_owner = NULL, leased_until = NULL, delivered_at = NULL
        WHERE id = @deliveryId
        """;
}
