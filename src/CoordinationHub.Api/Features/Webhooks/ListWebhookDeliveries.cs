using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Http;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Webhooks;

#pragma warning disable CA1707
public enum WebhookDeliveryStatus { PENDING, DELIVERED, DEAD, SKIPPED }
#pragma warning restore CA1707

/// <summary>
/// One event to one subscription: pending (with its next attempt), delivered, dead-lettered after its last attempt, or
/// skipped by the subscriber. Events of one resource are delivered in order: a pending delivery holds back the later ones of
/// its resource (<c>heldBack</c>) until it is delivered, dead-lettered (after about 17.5 h of retries) or skipped.
/// </summary>
[ContractName("WebhookDelivery")]
public sealed record WebhookDeliveryDto
{
    public Guid Id { get; init; }
    public Guid EventId { get; init; }
    public string EventType { get; init; } = "";
    public WebhookDeliveryStatus Status { get; init; }
    public int Attempts { get; init; }
    public DateTimeOffset NextAttemptAt { get; init; }
    public int? LastStatusCode { get; init; }
    public string? LastError { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? DeliveredAt { get; init; }
    /// <summary>
    /// How many later deliveries of the same resource wait behind this pending one (0 when it is not pending): a failing
    /// head can be skipped (<c>POST …/deliveries/{deliveryId}/skip</c>) to let them go.
    /// </summary>
    public int HeldBack { get; init; }
}

public sealed record ListWebhookDeliveriesQuery(Guid SubscriptionId, WebhookDeliveryStatus? Status, int? Limit, string? Cursor)
    : IQuery<Page<WebhookDeliveryDto>>;

public sealed class ListWebhookDeliveriesValidator : AbstractValidator<ListWebhookDeliveriesQuery>
{
    public ListWebhookDeliveriesValidator()
    {
        RuleFor(q => q.Status).IsInEnum();
        RuleFor(q => q.Limit).InclusiveBetween(1, Cursor.MaxLimit);
    }
}

public sealed class ListWebhookDeliveriesHandler(Db db, Caller caller) : IQueryHandler<ListWebhookDeliveriesQuery, Page<WebhookDeliveryDto>>
{
    public async ValueTask<Page<WebhookDeliveryDto>> Handle(ListWebhookDeliveriesQuery query, CancellationToken ct)
    {
        var limit = query.Limit ?? Cursor.DefaultLimit;
        var after = Cursor.Decode(query.Cursor, 1) is { } parts ? Cursor.Id(parts[0]) : Guid.Empty;
        return await db.RetryAsync(async (c, t) =>
        {
            await WebhookSubscriptionStore.LoadAsync(db, c, null, query.SubscriptionId, caller, t);
            var rows = (await c.QueryAsync<WebhookDeliveryDto>(db.Command(query.Status is null ? AllSql : ByStatusSql, new
            {
                subscriptionId = query.SubscriptionId, status = query.Status?.ToString(), after, limit = limit + 1,
            }, t))).ToList();
            return Cursor.ToPage(rows, limit, r => [r.Id.ToString()]);
        }, ct);
    }

    internal const string Columns = """
        d.id, d.event_id, e.event_type, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.delivered_at,
        CASE WHEN d.status = 'PENDING' THEN (SELECT COUNT(*) FROM webhook_delivery l WHERE l.subscription_id = d.subscription_id
            AND l.resource_id = d.resource_id AND l.status = 'PENDING' AND l.position > d.position) ELSE 0 END AS held_back
        """;
    private const string AllSql = "SELECT " + Columns + """

        FROM webhook_delivery d JOIN outbox_event e ON e.id = d.event_id
        WHERE d.subscription_id = @subscriptionId AND d.id > @after
        ORDER BY d.id
        {limit}
        """;
    private const string ByStatusSql = "SELECT " + Columns + """

        FROM webhook_delivery d JOIN outbox_event e ON e.id = d.event_id
        WHERE d.subscription_id = @subscriptionId AND d.status = @status AND d.id > @after
        ORDER BY d.id
        {limit}
        """;
}
