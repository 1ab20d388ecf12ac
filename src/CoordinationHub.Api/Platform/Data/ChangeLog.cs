using System.Data.Common;
using System.Text.Json;
using CoordinationHub.Platform.Auth;
using System.Data;
using Dapper;

namespace CoordinationHub.Platform.Data;

/// <summary>
/// Every change to a convention or a delegation writes, in the transaction of the change, an
/// append-only audit record (who, when, before/after) and a domain event in the outbox for the
/// webhook delivery to send. Either all three land or none does.
/// </summary>
public sealed class ChangeLog(Db db, Caller caller, TimeProvider clock)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    /// <summary>
    /// One change: "convention", "delegation"…, its id, the event (e.g. delegation.created), the states before and after,
    /// and who may see the event when its audience depends on the moment (a referral's: <c>ReferralVisibility.Audience</c>);
    /// without one it is resolved when the event is sequenced (<c>EventAudience</c>). A change told by more than one event
    /// (a last signature: signature-added and signed) is audited once: its further events are not <paramref name="Audited"/>.
    /// </summary>
    public sealed record Entry(string ResourceType, Guid ResourceId, string EventType, object? Before, object? After,
        IReadOnlyCollection<Guid>? Audience = null, bool Audited = true);

    /// <param name="resourceType">"convention" or "delegation".</param>
    /// <param name="eventType">e.g. convention.signed, delegation.created.</param>
    public Task RecordAsync(DbConnection c, DbTransaction tx, string resourceType, Guid resourceId, string eventType, object? before, object? after, CancellationToken ct) =>
        RecordAsync(c, tx, [new Entry(resourceType, resourceId, eventType, before, after)], ct);

    /// <summary>Many changes in a few statements (a bulk push): the audit rows, then the events in the order given.</summary>
    public Task RecordAsync(DbConnection c, DbTransaction tx, IReadOnlyCollection<Entry> entries, CancellationToken ct)
    {
        // One buffer and JSON writer for every event of the call (a push's chunk: a thousand).
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = Json.Encoder });
        return WriteAsync(c, tx, entries.Select(e => Prepare(e, buffer, writer)).ToList(), ct);
    }

    /// <summary>A change's audit row and event, built (states serialised) to be written by <see cref="WriteAsync"/>.</summary>
    public sealed record Prepared(object?[]? Audit, object?[] Event);

    /// <summary>
    /// Builds a change's rows, which can be done before the transaction that writes them: on SQLite the one writer is
    /// then held for the inserts alone, not for the JSON.
    /// </summary>
    public Prepared Prepare(Entry e)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = Json.Encoder });
        return Prepare(e, buffer, writer);
    }

    private Prepared Prepare(Entry e, System.Buffers.ArrayBufferWriter<byte> buffer, Utf8JsonWriter writer)
    {
        // The contract lists every event type from the same catalogue: an unlisted one is a bug, not an event.
        if (!EventCatalogue.Contains(e.EventType))
            throw new InvalidOperationException($"Event type '{e.EventType}' is not in EventCatalogue: add it there (and so to the contract).");
        var now = clock.GetUtcNow();
        var beforeJson = e.Before is null ? null : JsonSerializer.Serialize(e.Before, Json);
        var afterJson = e.After is null ? null : JsonSerializer.Serialize(e.After, Json);
        return new(
            !e.Audited ? null : [Guid.CreateVersion7(), now, caller.OrganisationId, caller.KeyId, e.ResourceType, e.ResourceId, e.EventType, beforeJson, afterJson,
                caller.Agent is { } agent ? agent.Issuer + ":" + agent.Subject : null],
            [Guid.CreateVersion7(), now, e.EventType, e.ResourceType, e.ResourceId, Payload(e, now, afterJson ?? beforeJson, buffer, writer),
                e.Audience is null ? null : string.Join(',', e.Audience), TraceParent()]);
    }

    /// <summary>
    /// The W3C traceparent of the traced operation that made the change (none when it is not sampled): the event's
    /// webhook deliveries join that trace.
    /// </summary>
    private static string? TraceParent() =>
        System.Diagnostics.Activity.Current is { Recorded: true, IdFormat: System.Diagnostics.ActivityIdFormat.W3C } a ? a.Id : null;

    /// <summary>Writes prepared changes: the audit rows, then the events in the order given.</summary>
    public async Task WriteAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Prepared> entries, CancellationToken ct)
    {
        if (entries.Count == 0) return;
        // SQLite numbers the events here, as its trigger would one UPDATE at a time (this transaction is the only writer).
        var sqlite = db.Dialect.Provider == DatabaseProvider.Sqlite;
        var seq = sqlite ? await c.ExecuteScalarAsync<long>(db.Command(LastSeqSql, null, ct, tx)) : 0;
        var audits = entries.Where(e => e.Audit is not null).Select(e => e.Audit!).ToList();
        if (audits.Count > 0) await db.InsertRowsAsync(c, tx, "audit_event", AuditColumns, AuditTypes, audits, ct);
        await db.InsertRowsAsync(c, tx, "outbox_event", sqlite ? [.. OutboxColumns, "seq"] : OutboxColumns, sqlite ? [.. OutboxTypes, DbType.Int64] : OutboxTypes,
            entries.Select(e => sqlite ? [.. e.Event, ++seq] : e.Event).ToList(), ct);
    }

    /// <summary>The event: its type, resource and time, and the state it carries (already serialised for the audit record: not twice).</summary>
    private static string Payload(Entry e, DateTimeOffset now, string? data, System.Buffers.ArrayBufferWriter<byte> buffer, Utf8JsonWriter w)
    {
        buffer.ResetWrittenCount();
        w.Reset(buffer);
        w.WriteStartObject();
        w.WriteString("type", e.EventType);
        w.WriteString("resourceType", e.ResourceType);
        w.WriteString("resourceId", e.ResourceId);
        w.WriteString("occurredAt", now);
        w.WritePropertyName("data");
        if (data is null) w.WriteNullValue();
        else w.WriteRawValue(data, skipInputValidation: true);
        w.WriteEndObject();
        w.Flush();
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private const string LastSeqSql = "SELECT COALESCE(MAX(seq), 0) FROM outbox_event";

    internal static readonly string[] AuditColumns =
        ["id", "occurred_at", "organisation_id", "api_key_id", "resource_type", "resource_id", "action", "before_state", "after_state",
            "agent_subject"];
    private static readonly DbType[] AuditTypes =
    [
        DbType.Guid, DbType.DateTimeOffset, DbType.Guid, DbType.Guid, DbType.String, DbType.Guid, DbType.String, DbType.String, DbType.String,
        DbType.String,
    ];
    internal static readonly string[] OutboxColumns = ["id", "occurred_at", "event_type", "resource_type", "resource_id", "payload", "audience", "trace_parent"];
    private static readonly DbType[] OutboxTypes =
        [DbType.Guid, DbType.DateTimeOffset, DbType.String, DbType.String, DbType.Guid, DbType.String, DbType.String, DbType.String];
}
