using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Webhooks;

/// <summary>Stops deliveries at once; the subscription's attempts stay on record until the retention period ends.</summary>
public sealed record DeleteWebhookSubscriptionCommand(Guid Id) : ICommand;

public sealed class DeleteWebhookSubscriptionHandler(Db db, Caller caller, TimeProvider clock) : ICommandHandler<DeleteWebhookSubscriptionCommand>
{
    public async ValueTask<Unit> Handle(DeleteWebhookSubscriptionCommand command, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            await WebhookSubscriptionStore.LoadAsync(db, c, tx, command.Id, caller, t);
            await c.ExecuteAsync(db.Command(DeleteSql, new { id = command.Id, now = clock.GetUtcNow() }, t, tx));
            return Unit.Value;
        }, ct);

    private const string DeleteSql = """
        UPDATE webhook_subscription SET status = 'DELETED', version = version + 1, updated_at = @now WHERE id = @id
        """;
}
