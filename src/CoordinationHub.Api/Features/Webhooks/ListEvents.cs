using System.Globalization;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Http;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;
using Microsoft.Extensions.Options;

namespace CoordinationHub.Features.Webhooks;

/// <summary>
/// The pull feed: the events the caller's organisation may see, in order, after a cursor, for systems
/// that accept no incoming call. The same ids as the webhooks. With <c>wait</c> the call is held until
/// an event arrives or the wait ends (long polling).
/// </summary>
public sealed record ListEventsQuery(string? After, string? Types, int? Wait, int? Limit) : IQuery<EventFeedPage>;

/// <param name="Next">The cursor to send as <c>after</c> in the next call, even when no event came.</param>
[ContractName("EventFeedPage")]
public sealed record EventFeedPage(IReadOnlyList<EventDto> Items, string Next);

public sealed class ListEventsValidator : AbstractValidator<ListEventsQuery>
{
    public const int MaxWaitSeconds = 30;

    public ListEventsValidator()
    {
        RuleFor(q => q.After).MaximumLength(200);
        RuleFor(q => q.Types).MaximumLength(1000)
            .Must(t => t is null || t.Split(',').All(p => System.Text.RegularExpressions.Regex.IsMatch(p.Trim(), EventTypes.Pattern)))
            .WithMessage("A comma-separated list of event types (convention.signed), families (referral.*) or *.");
        RuleFor(q => q.Wait).InclusiveBetween(0, MaxWaitSeconds);
        RuleFor(q => q.Limit).InclusiveBetween(1, Cursor.MaxLimit);
    }
}

public sealed class ListEventsHandler(Db db, Caller caller, EventSignal signal, TimeProvider clock, IOptions<WebhookOptions> options)
    : IQueryHandler<ListEventsQuery, EventFeedPage>
{
    public async ValueTask<EventFeedPage> Handle(ListEventsQuery query, CancellationToken ct)
    {
        var after = Cursor.Decode(query.After, 1) is { } parts
            ? long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : throw InvalidCursor()
            : 0L;
        var types = query.Types?.Split(',').Select(t => t.Trim()).ToArray();
        var limit = query.Limit ?? Cursor.DefaultLimit;
        // Real time, not the service clock: a long poll waits as long as the client asked.
        var deadline = TimeProvider.System.GetUtcNow().AddSeconds(query.Wait ?? 0);
        while (true)
        {
            var woken = signal.Next; // taken before reading, so an event sequenced meanwhile is not missed
            var rows = await db.RetryAsync(async (c, t) => (await c.QueryAsync<OutboxRow>(db.Command(caller.IsPlatformAdmin ? AllSql : EntitledSql, new
            {
                organisationId = caller.OrganisationId ?? Guid.Empty, after, limit,
                cutoff = clock.GetUtcNow().AddDays(-options.Value.RetentionDays),
            }, t))).ToList(), ct);
            if (rows.Count > 0) after = rows[^1].Position;
            var items = rows.Where(r => types is null || EventTypes.Matches(types, r.EventType)).Select(r => r.ToEvent()).ToList();
            var left = deadline - TimeProvider.System.GetUtcNow();
            if (items.Count > 0 || left <= TimeSpan.Zero) return new EventFeedPage(items, Cursor.Encode(after.ToString(CultureInfo.InvariantCulture)));
            if (rows.Count == limit) continue; // a full page of other types: read on
            // Another instance's sequencer does not wake this one: look again every second.
            await Task.WhenAny(woken, Task.Delay(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), ct));
            ct.ThrowIfCancellationRequested();
        }
    }

    private static Platform.Errors.BadRequestException InvalidCursor() =>
        new("invalid-cursor", "The cursor is not one this API issued; start again without it.");

    private const string EntitledSql = """
        SELECT e.id, e.position, e.occurred_at, e.event_type, e.resource_type, e.resource_id, e.payload
        FROM event_audience a JOIN outbox_event e ON e.id = a.event_id
        WHERE a.organisation_id = @organisationId AND a.position > @after AND e.occurred_at >= @cutoff
        ORDER BY a.position
        {limit}
        """;
    private const string AllSql = """
        SELECT id, position, occurred_at, event_type, resource_type, resource_id, payload
        FROM outbox_event
        WHERE position > @after AND occurred_at >= @cutoff
        ORDER BY position
        {limit}
        """;
}
