using System.Data;
using System.Data.Common;
using CoordinationHub.Platform.Data;
using Dapper;
using Microsoft.Extensions.Options;

namespace CoordinationHub.Features.Webhooks;

/// <summary>
/// Gives committed outbox events their position (the feed's order and cursor), records who may see
/// each one (as addressed when written, else as <see cref="EventAudience"/> resolves it now), and
/// creates one delivery per matching subscription. One transaction per batch, holding the
/// <c>event_sequencer</c> row: sequencers of several instances take turns and never give a
/// position or a delivery twice. An event committed late (an older transaction) gets a later
/// position: readers of the feed never skip it. Events of one resource are written by transactions
/// that lock that resource, so their positions follow their order.
/// </summary>
public sealed class EventSequencer(Db db, EventAudience audience, EventSignal signal, TimeProvider clock, IOptions<WebhookOptions> options)
{
    /// <param name="limit">Events to sequence at most (the configured batch when larger).</param>
    /// <returns>The events sequenced, and the deliveries that created.</returns>
    public async Task<(int Events, int Deliveries)> RunOnceAsync(int limit, CancellationToken ct)
    {
        if (!await AnyPendingAsync(ct)) return (0, 0);
        var result = await db.InTransactionAsync((c, tx, t) => SequenceAsync(c, tx, limit, t), ct);
        Committed(result.Events);
        return result;
    }

    /// <summary>A read, on no writer: an idle sequencer takes no lock and commits nothing.</summary>
    public async Task<bool> AnyPendingAsync(CancellationToken ct) =>
        await db.RetryAsync(async (c, t) => await c.QueryFirstOrDefaultAsync<Guid?>(db.Command(AnyUnsequencedSql, new { limit = 1 }, t)), ct) is not null;

    /// <summary>Wakes this process's long polls once the transaction that sequenced <paramref name="events"/> committed.</summary>
    public void Committed(int events)
    {
        if (events > 0) signal.Pulse();
    }

    /// <summary>
    /// One batch in the caller's transaction (on SQLite the dispatcher's, which records and leases in the same commit);
    /// the caller calls <see cref="Committed"/> after its commit.
    /// </summary>
    public async Task<(int Events, int Deliveries)> SequenceAsync(DbConnection c, DbTransaction tx, int limit, CancellationToken t)
    {
        limit = Math.Min(limit, options.Value.SequenceBatch);
        await c.ExecuteAsync(db.Command(LockSql, null, t, tx));
        var last = await c.ExecuteScalarAsync<long>(db.Command(LastPositionSql, null, t, tx));
        var events = (await c.QueryAsync<OutboxRow>(db.Command(UnsequencedSql, new { limit }, t, tx))).ToList();
        if (events.Count == 0) return (0, 0);
        var subscriptions = (await c.QueryAsync<SubscriptionRow>(db.Command(ActiveSubscriptionsSql, null, t, tx)))
            .GroupBy(s => s.OrganisationId)
            .ToDictionary(g => g.Key, g => g.Select(s => (s.Id, Types: s.EventTypes.Split(' '))).ToList());
        var now = clock.GetUtcNow();
        var audienceRows = new List<object?[]>();
        var deliveries = new List<object?[]>();
        // An event addressed when it was written goes to that audience; the others' (written before addressing, or of
        // resources whose audience never changes) read once per resource for the batch, every resource of a type in one query.
        var audiences = await audience.ResolveAsync(c, tx, events.Where(e => e.Audience is null).Select(e => (e.ResourceType, e.ResourceId)), t);
        var positions = new List<object?[]>(events.Count);
        foreach (var e in events)
        {
            var position = ++last;
            positions.Add([position, e.Id]);
            foreach (var organisationId in e.Audience is null ? audiences[(e.ResourceType, e.ResourceId)] : EventAudience.Parse(e.Audience))
            {
                audienceRows.Add([organisationId, position, e.Id]);
                foreach (var s in subscriptions.GetValueOrDefault(organisationId) ?? [])
                    if (EventTypes.Matches(s.Types, e.EventType))
                        deliveries.Add([Guid.CreateVersion7(), s.Id, e.Id, position, e.ResourceId, "PENDING", 0, now, now]);
            }
        }
        await db.ExecuteRowsAsync(c, tx, SetPositionSql, PositionParameters, PositionTypes, positions, t);
        await db.InsertRowsAsync(c, tx, "event_audience", AudienceColumns, AudienceTypes, audienceRows, t);
        await db.InsertRowsAsync(c, tx, "webhook_delivery", DeliveryColumns, DeliveryTypes, deliveries, t);
        await c.ExecuteAsync(db.Command(SaveLastPositionSql, new { last }, t, tx));
        return (events.Count, deliveries.Count);
    }

    private sealed class SubscriptionRow
    {
        public Guid Id { get; init; }
        public Guid OrganisationId { get; init; }
        public string EventTypes { get; init; } = "";
    }

    // A write first: it takes the row lock (and SQLite's write lock) before anything is read.
    private const string LockSql = "UPDATE event_sequencer SET last_position = last_position WHERE id = 1";
    private const string AnyUnsequencedSql = "SELECT id FROM outbox_event WHERE position IS NULL ORDER BY seq {limit}";
    private const string LastPositionSql = "SELECT last_position FROM event_sequencer WHERE id = 1";
    // Not the payload: the sequencer does not read it.
    private const string UnsequencedSql = """
        SELECT id, event_type, resource_type, resource_id, audience
        FROM outbox_event
        WHERE position IS NULL
        ORDER BY seq
        {limit}
        """;
    private const string ActiveSubscriptionsSql = "SELECT id, organisation_id, event_types FROM webhook_subscription WHERE status = 'ACTIVE'";
    private const string SetPositionSql = "UPDATE outbox_event SET position = @position WHERE id = @id";
    private static readonly string[] PositionParameters = ["@position", "@id"];
    private static readonly DbType[] PositionTypes = [DbType.Int64, DbType.Guid];
    private static readonly string[] AudienceColumns = ["organisation_id", "position", "event_id"];
    private static readonly DbType[] AudienceTypes = [DbType.Guid, DbType.Int64, DbType.Guid];
    private static readonly string[] DeliveryColumns =
        ["id", "subscription_id", "event_id", "position", "resource_id", "status", "attempts", "next_attempt_at", "created_at"];
    private static readonly DbType[] DeliveryTypes =
        [DbType.Guid, DbType.Guid, DbType.Guid, DbType.Int64, DbType.Guid, DbType.String, DbType.Int32, DbType.DateTimeOffset, DbType.DateTimeOffset];
    private const string SaveLastPositionSql = "UPDATE event_sequencer SET last_position = @last WHERE id = 1";
}

/// <summary>Wakes long-polling feed readers of this process when events were sequenced.</summary>
public sealed class EventSignal
{
    private TaskCompletionSource next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Next => Volatile.Read(ref next).Task;

    public void Pulse() => Interlocked.Exchange(ref next, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
