using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Webhooks;

/// <summary>
/// The subscriber skips a pending delivery (a failing head that holds back the later events of its resource): it is
/// SKIPPED and the next delivery of the resource becomes due. An attempt in flight is let go: its answer is not recorded
/// (the dispatcher writes its outcome only while it holds the lease). A delivery that is not pending: 409.
/// </summary>
public sealed record SkipWebhookDeliveryCommand(Guid SubscriptionId, Guid DeliveryId) : ICommand<WebhookDeliveryDto>;

public sealed class SkipWebhookDeliveryHandler(Db db, Caller caller) : ICommandHandler<SkipWebhookDeliveryCommand, WebhookDeliveryDto>
{
    public async ValueTask<WebhookDeliveryDto> Handle(SkipWebhookDeliveryCommand command, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            await WebhookSubscriptionStore.LoadAsync(db, c, tx, command.SubscriptionId, caller, t);
            var ids = new { id = command.DeliveryId, subscriptionId = command.SubscriptionId };
            var delivery = await c.QuerySingleOrDefaultAsync<WebhookDeliveryDto>(db.Command(LoadSql, ids, t, tx))
                ?? throw new NotFoundException("webhook delivery", command.DeliveryId);
            if (delivery.Status != WebhookDeliveryStatus.PENDING)
                throw new ConflictException("webhooks.delivery-not-pending",
                    $"This delivery is {delivery.Status}, not pending: it holds nothing back. A dead-lettered or skipped one can be sent again with redelivery.");
            await c.ExecuteAsync(db.Command(SkipSql, new { command.DeliveryId }, t, tx));
            return await c.QuerySingleAsync<WebhookDeliveryDto>(db.Command(LoadSql, ids, t, tx));
        }, ct);

    private const string LoadSql = "SELECT " + ListWebhookDeliveriesHandler.Columns + """

        FROM webhook_delivery d JOIN outbox_event e ON e.id = d.event_id
        WHERE d.id = @id AND d.subscription_id = @subscriptionId
        """;
    private const string SkipSql = """
        UPDATE webhook_delivery SET status = 'SKIPPED', lease_owner = NULL, leased_until = NULL
        WHERE id = @deliveryId AND status = 'PENDING'
        """;
}
