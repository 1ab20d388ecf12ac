using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Platform.Auth;

/// <summary>
/// API keys: 256 random bits shown once, stored as a SHA-256 hash (a slow hash adds nothing
/// to a key of that entropy, and lookups stay one indexed read). Valid keys are cached for
/// <see cref="CacheFor"/>; a revocation in this process takes effect at once, in another process
/// (another instance, the <c>apikeys revoke</c> verb) within <see cref="RevocationsCheckedEvery"/>:
/// at most once a second a request reads how many keys are revoked and the latest revocation (one
/// row, whatever the traffic), and when either moved the whole cache is dropped.
/// </summary>
public sealed class ApiKeyStore(Db db, TimeProvider clock, ILogger<ApiKeyStore>? logger = null)
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan RevocationsCheckedEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan TouchEvery = TimeSpan.FromMinutes(1);
    private const int MaxCached = 50_000;
    private readonly ConcurrentDictionary<string, CacheEntry> cache = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim checking = new(1, 1);
    private volatile RevocationCheck? lastCheck;
    // Bumped when the cache is dropped: an entry read from the database before that (a request still running
    // when the key was revoked) is not served after it.
    private long generation;

    private sealed record CacheEntry(
        ApiKeyIdentity? Identity, DateTimeOffset Expires, DateTimeOffset Touched, long Generation);

    private sealed record RevocationCheck(DateTimeOffset At, long Revoked, DateTimeOffset? Latest);

    private sealed class RevocationStamp
    {
        public long Revoked { get; init; }
        public DateTimeOffset? Latest { get; init; }
    }

    public const string Prefix = "chk_";

    public async Task<(Guid Id, string Key)> CreateAsync(Guid? organisationId, string name, IEnumerable<string> scopes, bool platformAdmin, CancellationToken ct)
    {
        var key = Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var id = Guid.CreateVersion7();
        var scopeList = string.Join(' ', scopes.Distinct().Order(StringComparer.Ordinal));
        await using var connection = await db.OpenAsync(ct);
        await connection.ExecuteAsync(db.Command(InsertSql, new
        {
            id, organisationId, name, prefix = key[..12], keyHash = Hash(key), scopes = scopeList,
            isPlatformAdmin = platformAdmin, createdAt = clock.GetUtcNow(),
        }, ct));
        return (id, key);
    }

    public async Task<IReadOnlyList<ApiKeyRow>> ListAsync(CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return (await connection.QueryAsync<ApiKeyRow>(db.Command(ListSql, null, ct))).ToList();
    }

    public async Task<bool> RevokeAsync(Guid id, CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        var hash = await connection.QuerySingleOrDefaultAsync<string>(db.Command(HashByIdSql, new { id }, ct));
        var rows = await connection.ExecuteAsync(db.Command(RevokeSql, new { id, now = clock.GetUtcNow() }, ct));
        if (hash is not null) Forget();
        return rows > 0;
    }

    public async Task<bool> AnyAsync(CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<int>(db.Command(CountSql, null, ct)) > 0;
    }

    public async ValueTask<ApiKeyIdentity?> AuthenticateAsync(string key, CancellationToken ct)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal) || key.Length > 100) return null;
        var hash = Hash(key);
        var now = clock.GetUtcNow();
        if (Due(lastCheck, now)) await CatchUpWithRevocationsAsync(ct);
        var current = Interlocked.Read(ref generation);
        if (cache.TryGetValue(hash, out var cached) && cached.Expires > now && cached.Generation == current)
        {
            if (cached.Identity is not null && now - cached.Touched > TouchEvery) Touch(hash, cached, now);
            return cached.Identity;
        }

        var row = await db.RetryAsync((c, t) => c.QuerySingleOrDefaultAsync<ApiKeyRow>(db.Command(ByHashSql, new { keyHash = hash }, t)), ct);
        var identity = row is null || row.RevokedAt is not null
            ? null
            : new ApiKeyIdentity(row.Id, row.OrganisationId, row.IsPlatformAdmin, row.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet());
        // Unknown keys are cached too (a client retrying a bad key costs no query), so bound the
        // cache against callers sending endless random keys: start again when it is full.
        if (cache.Count >= MaxCached) cache.Clear();
        var entry = new CacheEntry(identity, now + CacheFor, DateTimeOffset.MinValue, current);
        if (identity is not null) Touch(hash, entry, now);
        else cache[hash] = entry;
        return identity;
    }

    /// <summary>
    /// Drops the cache when a key was revoked elsewhere since the last check. One request checks at a time; those that
    /// waited for it find the check fresh and go on. The clock moving back (tests) counts as due.
    /// </summary>
    private async ValueTask CatchUpWithRevocationsAsync(CancellationToken ct)
    {
        await checking.WaitAsync(ct);
        try
        {
            var last = lastCheck;
            var now = clock.GetUtcNow();
            if (!Due(last, now)) return;
            var stamp = await db.RetryAsync(
                (c, t) => c.QuerySingleAsync<RevocationStamp>(db.Command(RevocationsSql, null, t)), ct);
            if (last is not null && (stamp.Revoked != last.Revoked || stamp.Latest != last.Latest)) Forget();
            lastCheck = new RevocationCheck(now, stamp.Revoked, stamp.Latest);
        }
        finally
        {
            checking.Release();
        }
    }

    private void Forget()
    {
        Interlocked.Increment(ref generation);
        cache.Clear();
    }

    private static bool Due(RevocationCheck? last, DateTimeOffset now) =>
        last is null || now - last.At >= RevocationsCheckedEvery || now < last.At;

    /// <summary>
    /// Records the key's last use, at most once a minute, in the background: no request waits for it (on SQLite the
    /// write waits for the one writer, which a bulk push holds for seconds: lookups waited up to 2.9 s behind it).
    /// </summary>
    private void Touch(string hash, CacheEntry entry, DateTimeOffset now)
    {
        cache[hash] = entry with { Touched = now };
        _ = Task.Run(async () =>
        {
            try
            {
                await db.InTransactionAsync((c, tx, t) => c.ExecuteAsync(db.Command(TouchSql, new { keyHash = hash, now }, t, tx)), CancellationToken.None);
            }
            catch (Exception e)
            {
                logger?.LogWarning(e, "Could not record the last use of an API key");
            }
        });
    }

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public sealed class ApiKeyRow
    {
        public Guid Id { get; init; }
        public Guid? OrganisationId { get; init; }
        public string Name { get; init; } = "";
        public string Prefix { get; init; } = "";
        public string Scopes { get; init; } = "";
        public bool IsPlatformAdmin { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset? RevokedAt { get; init; }
        public DateTimeOffset? LastUsedAt { get; init; }
    }

    private const string InsertSql = """
        INSERT INTO api_key (id, organisation_id, name, prefix, key_hash, scopes, is_platform_admin, created_at)
        VALUES (@id, @organisationId, @name, @prefix, @keyHash, @scopes, @isPlatformAdmin, @createdAt)
        """;
    private const string ListSql = """
        SELECT id, organisation_id, name, prefix, scopes, is_platform_admin, created_at, revoked_at, last_used_at
        FROM api_key ORDER BY created_at, id
        """;
    private const string ByHashSql = """
        SELECT id, organisation_id, name, prefix, scopes, is_platform_admin, created_at, revoked_at, last_used_at
        FROM api_key WHERE key_hash = @keyHash
        """;
    private const string HashByIdSql = "SELECT key_hash FROM api_key WHERE id = @id";
    private const string RevokeSql = "UPDATE api_key SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL";
    private const string CountSql = "SELECT COUNT(*) FROM api_key";
    private const string RevocationsSql = """
        SELECT COUNT(*) AS revoked, MAX(revoked_at) AS latest FROM api_key WHERE revoked_at IS NOT NULL
        """;
    private const string TouchSql = "UPDATE api_key SET last_used_at = @now WHERE key_hash = @keyHash";
}
