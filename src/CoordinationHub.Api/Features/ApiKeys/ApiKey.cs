using System.Data.Common;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.OpenApi;
using Dapper;

namespace CoordinationHub.Features.ApiKeys;

/// <summary>An API key as its organisation sees it: never the key itself, which is shown once.</summary>
[ContractName("ApiKey")]
public sealed record ApiKeyDto
{
    public Guid Id { get; init; }
    /// <summary>Null for the platform administrator's keys.</summary>
    public Guid? OrganisationId { get; init; }
    public string Label { get; init; } = "";
    /// <summary>The key's first 12 characters, to recognise it in a configuration.</summary>
    public string Prefix { get; init; } = "";
    public IReadOnlyList<string> Scopes { get; init; } = [];
    public DateTimeOffset CreatedAt { get; init; }
    /// <summary>When the key stops working (null: never).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
    public DateTimeOffset? RevokedAt { get; init; }
    public DateTimeOffset? LastUsedAt { get; init; }
    /// <summary>Bumped by every change (rotation, scopes, label, expiry, revocation).</summary>
    public int Version { get; init; }
}

/// <summary>A key and its secret: the answer that creates or rotates it, the only one that carries the secret.</summary>
[ContractName("ApiKeySecret")]
public sealed record ApiKeySecretDto
{
    public required ApiKeyDto ApiKey { get; init; }
    /// <summary>The key (<c>chk_…</c>) to send as <c>Authorization: Bearer</c>: store it now, it is never shown again.</summary>
    public required string Key { get; init; }
}

/// <summary>
/// Who may manage which key, in one place: the platform administrator any key; an organisation's key holding
/// <c>api-keys:manage</c> the keys of its organisation, granting at most the scopes it holds itself.
/// </summary>
public static class ApiKeyRules
{
    /// <summary>The key, if the caller may manage it; else 404 (another organisation's key is not visible).</summary>
    public static async Task<ApiKeyStore.ApiKeyRow> LoadAsync(Db db, DbConnection c, DbTransaction? tx, Guid id, Caller caller, CancellationToken ct)
    {
        var row = await c.QuerySingleOrDefaultAsync<ApiKeyStore.ApiKeyRow>(db.Command(LoadSql, new { id }, ct, tx));
        if (row is null || !(caller.IsPlatformAdmin || (row.OrganisationId is { } org && caller.Is(org) && !row.IsPlatformAdmin)))
            throw new NotFoundException("API key", id);
        return row;
    }

    /// <summary>The scopes granted, or 422 naming those the caller may not grant.</summary>
    public static IReadOnlyList<string> Grantable(Caller caller, IEnumerable<string> requested)
    {
        var scopes = requested.Select(s => s.Trim()).Distinct().Order(StringComparer.Ordinal).ToList();
        var unknown = scopes.Where(s => !Platform.Auth.Scopes.All.Contains(s) || s == Platform.Auth.Scopes.PlatformAdmin).ToList();
        if (unknown.Count > 0)
            throw new RuleException("api-keys.unknown-scope", $"Unknown or reserved scope(s): {string.Join(", ", unknown)}.");
        var beyond = caller.IsPlatformAdmin ? [] : scopes.Where(s => !caller.Scopes.Contains(s)).ToList();
        if (beyond.Count > 0)
            throw new RuleException("api-keys.scope-not-held",
                $"A key can grant only the scopes it holds; this one does not hold {string.Join(", ", beyond)}.");
        return scopes;
    }

    public static void CheckExpiry(DateTimeOffset? expiresAt, DateTimeOffset now)
    {
        if (expiresAt is { } at && at <= now)
            throw new RuleException("api-keys.expiry-past", $"The expiry {at:u} is not in the future.");
    }

    public static void CheckActive(ApiKeyStore.ApiKeyRow row)
    {
        if (row.RevokedAt is not null) throw new ConflictException("api-keys.revoked", $"The API key {row.Id} is revoked.");
    }

    public static ApiKeyDto ToDto(this ApiKeyStore.ApiKeyRow r) => new()
    {
        Id = r.Id, OrganisationId = r.OrganisationId, Label = r.Name, Prefix = r.Prefix,
        Scopes = r.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries), CreatedAt = r.CreatedAt, ExpiresAt = r.ExpiresAt,
        RevokedAt = r.RevokedAt, LastUsedAt = r.LastUsedAt, Version = r.Version,
    };

    /// <summary>The state an audit record keeps of a key: never its hash.</summary>
    public static object Audited(this ApiKeyStore.ApiKeyRow r) => r.ToDto();

    public const string Columns = """
        id, organisation_id, name, prefix, scopes, is_platform_admin, created_at, revoked_at, last_used_at, expires_at, version,
        expiry_warned_at
        """;
    private const string LoadSql = "SELECT " + Columns + " FROM api_key WHERE id = @id";
}
