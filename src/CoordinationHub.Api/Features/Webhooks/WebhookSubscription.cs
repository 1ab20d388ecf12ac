using System.Data.Common;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.OpenApi;
using Dapper;

namespace CoordinationHub.Features.Webhooks;

#pragma warning disable CA1707
public enum WebhookSubscriptionStatus { ACTIVE, DISABLED }
#pragma warning restore CA1707

/// <summary>
/// A subscription as its organisation sees it. <see cref="Secret"/> is sent once, in the answer that
/// creates or rotates it; <see cref="DisabledReason"/> says why deliveries stopped.
/// </summary>
[ContractName("WebhookSubscription")]
public sealed record WebhookSubscriptionDto
{
    public Guid Id { get; init; }
    public Guid OrganisationId { get; init; }
    public string Url { get; init; } = "";
    public IReadOnlyList<string> EventTypes { get; init; } = [];
    public string? Description { get; init; }
    public WebhookSubscriptionStatus Status { get; init; }
    public string? DisabledReason { get; init; }
    public DateTimeOffset? DisabledAt { get; init; }
    /// <summary>Since when every delivery has failed (null while the last one succeeded).</summary>
    public DateTimeOffset? FailingSince { get; init; }
    /// <summary>The signing secret (<c>whsec_…</c>): only in the answer that creates or rotates it.</summary>
    public string? Secret { get; init; }
    /// <summary>Until when the previous secret still signs, after a rotation.</summary>
    public DateTimeOffset? PreviousSecretUntil { get; init; }
    public int Version { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}

public static class WebhookSubscriptionStore
{
    /// <summary>The subscription, if the caller's organisation owns it (or the caller administers the platform).</summary>
    public static async Task<WebhookSubscriptionDto> LoadAsync(Db db, DbConnection c, DbTransaction? tx, Guid id, Caller caller, CancellationToken ct)
    {
        var row = await c.QuerySingleOrDefaultAsync<Row>(db.Command(LoadSql, new { id }, ct, tx));
        if (row is null || row.Status == "DELETED" || !(caller.IsPlatformAdmin || caller.Is(row.OrganisationId)))
            throw new NotFoundException("webhook subscription", id);
        return row.ToDto();
    }

    /// <summary>The organisation a subscription belongs to: the caller's own; an administrator has none.</summary>
    public static Guid OwnOrganisation(Caller caller) => caller.OrganisationId
        ?? throw new RuleException("webhooks.organisation-required", "Webhooks belong to an organisation: use a key of that organisation.");

    internal sealed class Row
    {
        public Guid Id { get; init; }
        public Guid OrganisationId { get; init; }
        public string Url { get; init; } = "";
        public string EventTypes { get; init; } = "";
        public string? Description { get; init; }
        public string Status { get; init; } = "";
        public string? DisabledReason { get; init; }
        public DateTimeOffset? DisabledAt { get; init; }
        public DateTimeOffset? FailingSince { get; init; }
        public DateTimeOffset? PreviousSecretUntil { get; init; }
        public int Version { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }

        public WebhookSubscriptionDto ToDto() => new()
        {
            Id = Id, OrganisationId = OrganisationId, Url = Url, EventTypes = EventTypes.Split(' '), Description = Description,
            Status = Enum.Parse<WebhookSubscriptionStatus>(Status), DisabledReason = DisabledReason, DisabledAt = DisabledAt,
            FailingSince = FailingSince, PreviousSecretUntil = PreviousSecretUntil, Version = Version, CreatedAt = CreatedAt, UpdatedAt = UpdatedAt,
        };
    }

    internal const string Columns = """
        id, organisation_id, url, event_types, description, status, disabled_reason, disabled_at, failing_since,
        previous_secret_until, version, created_at, updated_at
        """;
    private const string LoadSql = "SELECT " + Columns + " FROM webhook_subscription WHERE id = @id";
}
