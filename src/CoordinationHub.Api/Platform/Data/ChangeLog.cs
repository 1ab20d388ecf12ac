using System.Data.Common;
using System.Text.Json;
using CoordinationHub.Platform.Auth;
using System.Data;

namespace CoordinationHub.Platform.Data;

/// <summary>
/// Every change to a convention or a delegation writes, in the transaction of the change, an
/// append-only audit record (who, when, before/after) and a domain event in the outbox for the
/// webhook delivery to send. Either all three land or none does.
/// </summary>
public sealed class ChangeLog(Db db, Caller caller, TimeProvider clock)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    /// <summary>One change: "convention", "delegation"…, its id, the event (e.g. delegation.created), the states before and after.</summary>
    public sealed record Entry(string ResourceType, Guid ResourceId, string EventType, object? Before, object? After);

    /// <param name="resourceType">"convention" or "delegation".</param>
    /// <param name="eventType">e.g. convention.signed, delegation.created.</param>
    public Task RecordAsync(DbConnection c, DbTransaction tx, string resourceType, Guid resourceId, string eventType, object? before, object? after, CancellationToken ct) =>
        RecordAsync(c, tx, [new Entry(resourceType, resourceId, eventType, before, after)], ct);

    /// <summary>Many changes in a few statements (a bulk push): the audit rows, then the events in the order given.</summary>
    public async Task RecordAsync(DbConnection c, DbTransaction tx, IReadOnlyCollection<Entry> entries, CancellationToken ct)
    {
        if (entries.Count == 0) return;
        var audit = new List<object?[]>(entries.Count);
        var outbox = new List<object?[]>(entries.Count);
        foreach (var e in entries)
        {
            var now = clock.GetUtcNow();
            var beforeJson = e.Before is null ? null : JsonSerializer.Serialize(e.Before, Json);
            var afterJson = e.After is null ? null : JsonSerializer.Serialize(e.After, Json);
            audit.Add([Guid.CreateVersion7(), now, caller.OrganisationId, caller.KeyId, e.ResourceType, e.ResourceId, e.EventType, beforeJson, afterJson]);
            var payload = JsonSerializer.Serialize(new
            {
                type = e.EventType, resourceType = e.ResourceType, resourceId = e.ResourceId, occurredAt = now, data = e.After ?? e.Before,
            }, Json);
            outbox.Add([Guid.CreateVersion7(), now, e.EventType, e.ResourceType, e.ResourceId, payload]);
        }
        await db.InsertRowsAsync(c, tx, "audit_event", AuditColumns, AuditTypes, audit, ct);
        await db.InsertRowsAsync(c, tx, "outbox_event", OutboxColumns, OutboxTypes, outbox, ct);
    }

    internal static readonly string[] AuditColumns =
        ["id", "occurred_at", "organisation_id", "api_key_id", "resource_type", "resource_id", "action", "before_state", "after_state"];
    private static readonly DbType[] AuditTypes =
    [
        DbType.Guid, DbType.DateTimeOffset, DbType.Guid, DbType.Guid, DbType.String, DbType.Guid, DbType.String, DbType.String, DbType.String,
    ];
    internal static readonly string[] OutboxColumns = ["id", "occurred_at", "event_type", "resource_type", "resource_id", "payload"];
    private static readonly DbType[] OutboxTypes = [DbType.Guid, DbType.DateTimeOffset, DbType.String, DbType.String, DbType.Guid, DbType.String];
}
