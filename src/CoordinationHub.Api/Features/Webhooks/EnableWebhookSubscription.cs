using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Webhooks;

/// <summary>
/// Resumes a disabled subscription: its pending deliveries go out again. Events sequenced while it
/// was disabled were not queued for it; the feed (GET /v1/events) still lists them.
/// </summary>
public sealed record EnableWebhookSubscriptionCommand(Guid Id) : ICommand<WebhookSubscriptionDto>;

public sealed class EnableWebhookSubscriptionHandler(Db db, Caller caller, TimeProvider clock) : ICommandHandler<EnableWebhookSubscriptionCommand, WebhookSubscriptionDto>
{
    public async ValueTask<WebhookSubscriptionDto> Handle(EnableWebhookSubscriptionCommand command, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            await WebhookSubscriptionStore.LoadAsync(db, c, tx, command.Id, caller, t);
            await c.ExecuteAsync(db.Command(EnableSql, new { id = command.Id, now = clock.GetUtcNow() }, t, tx));
            return await WebhookSubscriptionStore.LoadAsync(db, c, tx, command.Id, caller, t);
        }, ct);

    private const string EnableSql = """
        UPDATE webhook_subscription
        SET status = 'ACTIVE', disabled_reason = NULL, disabled_at = NULL, failing_since = NULL, version = version + 1, updated_at = @now
        WHERE id = @id AND status = 'DISABLED'
        """;
}
