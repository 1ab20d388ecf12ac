using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using Mediator;

namespace CoordinationHub.Features.Webhooks;

public sealed record GetWebhookSubscriptionQuery(Guid Id) : IQuery<WebhookSubscriptionDto>;

public sealed class GetWebhookSubscriptionHandler(Db db, Caller caller) : IQueryHandler<GetWebhookSubscriptionQuery, WebhookSubscriptionDto>
{
    public async ValueTask<WebhookSubscriptionDto> Handle(GetWebhookSubscriptionQuery query, CancellationToken ct) =>
        await db.RetryAsync((c, t) => WebhookSubscriptionStore.LoadAsync(db, c, null, query.Id, caller, t), ct);
}
