using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Http;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Webhooks;

/// <summary>The subscriptions of the caller's organisation, oldest first.</summary>
public sealed record ListWebhookSubscriptionsQuery(int? Limit, string? Cursor) : IQuery<Page<WebhookSubscriptionDto>>;

public sealed class ListWebhookSubscriptionsValidator : AbstractValidator<ListWebhookSubscriptionsQuery>
{
    public ListWebhookSubscriptionsValidator() => RuleFor(q => q.Limit).InclusiveBetween(1, Cursor.MaxLimit);
}

public sealed class ListWebhookSubscriptionsHandler(Db db, Caller caller) : IQueryHandler<ListWebhookSubscriptionsQuery, Page<WebhookSubscriptionDto>>
{
    public async ValueTask<Page<WebhookSubscriptionDto>> Handle(ListWebhookSubscriptionsQuery query, CancellationToken ct)
    {
        var organisationId = WebhookSubscriptionStore.OwnOrganisation(caller);
        var limit = query.Limit ?? Cursor.DefaultLimit;
        var after = Cursor.Decode(query.Cursor, 1) is { } parts ? Cursor.Id(parts[0]) : Guid.Empty;
        var rows = await db.RetryAsync(async (c, t) => (await c.QueryAsync<WebhookSubscriptionStore.Row>(
            db.Command(ListSql, new { organisationId, after, limit = limit + 1 }, t))).ToList(), ct);
        var page = Cursor.ToPage(rows, limit, r => [r.Id.ToString()]);
        return new Page<WebhookSubscriptionDto>(page.Items.Select(r => r.ToDto()).ToList(), page.NextCursor);
    }

    private const string ListSql = "SELECT " + WebhookSubscriptionStore.Columns + """

        FROM webhook_subscription
        WHERE organisation_id = @organisationId AND status <> 'DELETED' AND id > @after
        ORDER BY id
        {limit}
        """;
}
