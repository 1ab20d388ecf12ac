using CoordinationHub.Platform.OpenApi;
using System.Globalization;
using System.Text.Json;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.Http;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Audit;

// Lower case: the values are the resource types as recorded and as written in the query string.
#pragma warning disable CA1707, IDE1006
public enum AuditResourceType { convention, delegation }
#pragma warning restore CA1707, IDE1006

/// <summary>The audit trail of one convention or delegation, oldest first: who changed what, with the state before and after.</summary>
public sealed record ListAuditEventsQuery(AuditResourceType ResourceType, Guid ResourceId, int? Limit, string? Cursor) : IQuery<Page<AuditEventDto>>;

[ContractName("AuditEvent")]
public sealed record AuditEventDto(
    Guid Id, DateTimeOffset OccurredAt, Guid? OrganisationId, Guid ApiKeyId, string Action, JsonElement? Before, JsonElement? After);

public sealed class ListAuditEventsValidator : AbstractValidator<ListAuditEventsQuery>
{
    public ListAuditEventsValidator()
    {
        RuleFor(q => q.ResourceType).IsInEnum();
        RuleFor(q => q.ResourceId).NotEmpty();
        RuleFor(q => q.Limit).InclusiveBetween(1, Cursor.MaxLimit);
    }
}

public sealed class ListAuditEventsHandler(Db db, Caller caller) : IQueryHandler<ListAuditEventsQuery, Page<AuditEventDto>>
{
    public async ValueTask<Page<AuditEventDto>> Handle(ListAuditEventsQuery query, CancellationToken ct)
    {
        var limit = query.Limit ?? Cursor.DefaultLimit;
        var after = Cursor.Decode(query.Cursor, 2);
        return await db.RetryAsync(async (c, t) =>
        {
            // The trail of a delegation is read by the parties of its convention.
            var conventionId = query.ResourceType == AuditResourceType.convention
                ? query.ResourceId
                : await c.QuerySingleOrDefaultAsync<Guid?>(db.Command(DelegationConventionSql, new { id = query.ResourceId }, t));
            var parties = conventionId is { } cid ? (await c.QueryAsync<Guid>(db.Command(PartiesSql, new { id = cid }, t))).ToList() : [];
            if (parties.Count == 0 || !(caller.IsPlatformAdmin || parties.Contains(caller.OrganisationId ?? Guid.Empty)))
                throw new NotFoundException(query.ResourceType.ToString(), query.ResourceId);

            var rows = (await c.QueryAsync<Row>(db.Command(after is null ? FirstPageSql : NextPageSql, new
            {
                resourceType = query.ResourceType.ToString(), resourceId = query.ResourceId,
                afterAt = after is null ? default : Cursor.Instant(after[0]),
                afterId = after is null ? Guid.Empty : Cursor.Id(after[1]),
                limit = limit + 1,
            }, t))).ToList();
            var page = Cursor.ToPage(rows, limit, r => [r.OccurredAt.UtcTicks.ToString(CultureInfo.InvariantCulture), r.Id.ToString()]);
            return new Page<AuditEventDto>(page.Items.Select(r => new AuditEventDto(
                r.Id, r.OccurredAt, r.OrganisationId, r.ApiKeyId, r.Action, Parse(r.BeforeState), Parse(r.AfterState))).ToList(), page.NextCursor);
        }, ct);
    }

    private static JsonElement? Parse(string? json) => json is null ? null : JsonDocument.Parse(json).RootElement.Clone();

    private sealed class Row
    {
        public Guid Id { get; init; }
        public DateTimeOffset OccurredAt { get; init; }
        public Guid? OrganisationId { get; init; }
        public Guid ApiKeyId { get; init; }
        public string Action { get; init; } = "";
        public string? BeforeState { get; init; }
        public string? AfterState { get; init; }
    }

    private const string DelegationConventionSql = "SELECT convention_id FROM delegation WHERE id = @id";
    private const string PartiesSql = "SELECT organisation_id FROM convention_party WHERE convention_id = @id";
    private const string FirstPageSql = """
        SELECT id, occurred_at, organisation_id, api_key_id, action, before_state, after_state
        FROM audit_event
        WHERE resource_type = @resourceType AND resource_id = @resourceId
        ORDER BY occurred_at, id
        {limit}
        """;
    private const string NextPageSql = """
        SELECT id, occurred_at, organisation_id, api_key_id, action, before_state, after_state
        FROM audit_event
        WHERE resource_type = @resourceType AND resource_id = @resourceId
          AND (occurred_at > @afterAt OR (occurred_at = @afterAt AND id > @afterId))
        ORDER BY occurred_at, id
        {limit}
        """;
}
