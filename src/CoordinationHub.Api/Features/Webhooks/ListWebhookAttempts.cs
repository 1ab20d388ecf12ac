using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Http;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Webhooks;

#pragma warning disable CA1707
public enum WebhookAttemptOutcome { SUCCEEDED, FAILED }
#pragma warning restore CA1707

/// <summary>One call to the receiver: its answer (or the network error), how long it took, the start of the response.</summary>
[ContractName("WebhookAttempt")]
public sealed record WebhookAttemptDto
{
    public Guid Id { get; init; }
    public Guid DeliveryId { get; init; }
    public Guid EventId { get; init; }
    public int AttemptNo { get; init; }
    public DateTimeOffset AttemptedAt { get; init; }
    public WebhookAttemptOutcome Outcome { get; init; }
    public int? StatusCode { get; init; }
    public int LatencyMs { get; init; }
    public string? Error { get; init; }
    public string? ResponseExcerpt { get; init; }
}

/// <summary>The attempts of a subscription, newest first.</summary>
public sealed record ListWebhookAttemptsQuery(Guid SubscriptionId, int? Limit, string? Cursor) : IQuery<Page<WebhookAttemptDto>>;

public sealed class ListWebhookAttemptsValidator : AbstractValidator<ListWebhookAttemptsQuery>
{
    public ListWebhookAttemptsValidator() => RuleFor(q => q.Limit).InclusiveBetween(1, Cursor.MaxLimit);
}

public sealed class ListWebhookAttemptsHandler(Db db, Caller caller) : IQueryHandler<ListWebhookAttemptsQuery, Page<WebhookAttemptDto>>
{
    public async ValueTask<Page<WebhookAttemptDto>> Handle(ListWebhookAttemptsQuery query, CancellationToken ct)
    {
        var limit = query.Limit ?? Cursor.DefaultLimit;
        var before = Cursor.Decode(query.Cursor, 1) is { } parts ? Cursor.Id(parts[0]) : (Guid?)null;
        return await db.RetryAsync(async (c, t) =>
        {
            await WebhookSubscriptionStore.LoadAsync(db, c, null, query.SubscriptionId, caller, t);
            var rows = (await c.QueryAsync<WebhookAttemptDto>(db.Command(before is null ? FirstSql : NextSql,
                new { subscriptionId = query.SubscriptionId, before, limit = limit + 1 }, t))).ToList();
            return Cursor.ToPage(rows, limit, r => [r.Id.ToString()]);
        }, ct);
    }

    // Ids are UUIDv7: their order is the order of the attempts.
    private const string FirstSql = """
        SELECT id, delivery_id, event_id, attempt_no, attempted_at, outcome, status_code, latency_ms, error, response_excerpt
        FROM webhook_attempt
        WHERE subscription_id = @subscriptionId
        ORDER BY id DESC
        {limit}
        """;
    private const string NextSql = """
        SELECT id, delivery_id, event_id, attempt_no, attempted_at, outcome, status_code, latency_ms, error, response_excerpt
        FROM webhook_attempt
        WHERE subscription_id = @subscriptionId AND id < @before
        ORDER BY id DESC
        {limit}
        """;
}
