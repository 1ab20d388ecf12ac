using System.Data.Common;
using System.Text.Json;
using CoordinationHub.Platform.Auth;
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

    /// <param name="resourceType">"convention" or "delegation".</param>
    /// <param name="eventType">e.g. convention.signed, delegation.created.</param>
    public async Task RecordAsync(DbConnection c, DbTransaction tx, string resourceType, Guid resourceId, string eventType, object? before, object? after, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var beforeJson = before is null ? null : JsonSerializer.Serialize(before, Json);
        var afterJson = after is null ? null : JsonSerializer.Serialize(after, Json);
        await c.ExecuteAsync(db.Command(AuditSql, new
        {
            id = Guid.CreateVersion7(), now, organisationId = caller.OrganisationId, apiKeyId = caller.KeyId,
            resourceType, resourceId, action = eventType, beforeState = beforeJson, afterState = afterJson,
        }, ct, tx));
        var payload = JsonSerializer.Serialize(new { type = eventType, resourceType, resourceId, occurredAt = now, data = after ?? before }, Json);
        await c.ExecuteAsync(db.Command(OutboxSql, new { id = Guid.CreateVersion7(), now, eventType, resourceType, resourceId, payload }, ct, tx));
    }

    private const string AuditSql = """
        INSERT INTO audit_event (id, occurred_at, organisation_id, api_key_id, resource_type, resource_id, action, before_state, after_state)
        VALUES (@id, @now, @organisationId, @apiKeyId, @resourceType, @resourceId, @action, @beforeState, @afterState)
        """;
    private const string OutboxSql = """
        INSERT INTO outbox_event (id, occurred_at, event_type, resource_type, resource_id, payload)
        VALUES (@id, @now, @eventType, @resourceType, @resourceId, @payload)
        """;
}
