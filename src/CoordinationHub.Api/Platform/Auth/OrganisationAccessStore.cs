using System.Collections.Concurrent;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Platform.Auth;

/// <summary>
/// An organisation's access settings (<c>organisation_access</c>): the scopes its agents' and machine clients' tokens
/// may be granted, and whether reading the person's data needs an authenticated agent. Read per organisation and kept
/// <see cref="CacheFor"/>; a change made through this instance applies at once.
/// </summary>
public sealed class OrganisationAccessStore(Db db, TimeProvider clock)
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);

    public sealed record Access(Guid Id, IReadOnlySet<string> Scopes, bool RequireAuthenticatedAgent);

    private sealed record Entry(Access? Access, DateTimeOffset Until);
    private readonly ConcurrentDictionary<string, Entry> cache = new(StringComparer.Ordinal);

    public Task<Access?> FindAsync(Guid organisationId, CancellationToken ct) =>
        FindAsync(OrganisationClaimKind.Id, organisationId.ToString(), ct);

    /// <summary>The organisation a token's claim names (its id or SIRET), with its settings; null when none is known.</summary>
    public async Task<Access?> FindAsync(OrganisationClaimKind kind, string value, CancellationToken ct)
    {
        var key = kind + ":" + value;
        var now = clock.GetUtcNow();
        if (cache.TryGetValue(key, out var cached) && cached.Until > now && now >= cached.Until - CacheFor) return cached.Access;
        if (kind == OrganisationClaimKind.Id && !Guid.TryParse(value, out _)) return null;
        var row = await db.RetryAsync((c, t) => c.QuerySingleOrDefaultAsync<Row>(db.Command(
            kind == OrganisationClaimKind.Id ? ByIdSql : BySiretSql, new { id = Guid.TryParse(value, out var id) ? id : Guid.Empty, siret = value, active = true }, t)), ct);
        var access = row is null ? null : new Access(row.Id,
            (row.Scopes ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(), row.RequireAuthenticatedAgent ?? false);
        if (cache.Count > 10_000) cache.Clear();
        cache[key] = new Entry(access, now + CacheFor);
        return access;
    }

    /// <summary>An organisation's settings changed here: forget them.</summary>
    public void Changed() => cache.Clear();

    private sealed class Row
    {
        public Guid Id { get; init; }
        public string? Scopes { get; init; }
        public bool? RequireAuthenticatedAgent { get; init; }
    }

    private const string Select = """
        SELECT o.id, a.scopes, a.require_authenticated_agent
        FROM organisation o LEFT JOIN organisation_access a ON a.organisation_id = o.id
        """;
    private const string ByIdSql = Select + " WHERE o.id = @id AND o.is_active = @active";
    private const string BySiretSql = Select + " WHERE o.siret = @siret AND o.is_active = @active";
}
