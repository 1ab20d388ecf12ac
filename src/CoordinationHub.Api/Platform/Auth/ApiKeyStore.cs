using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Platform.Auth;

/// <summary>
/// API keys: 256 random bits shown once, stored as a SHA-256 hash (a slow hash adds nothing
/// to a key of that entropy, and lookups stay one indexed read). Valid keys are cached for
/// <see cref="CacheFor"/>; a change (revocation, rotation, new scopes or expiry) in this process takes effect at once,
/// in another process (another instance, the <c>apikeys revoke</c> verb) within <see cref="RevocationsCheckedEvery"/>:
/// every change bumps its key's version, and at most once a second a request reads the sum of the versions (one
/// row, whatever the traffic); when it moved the whole cache is dropped. An expiry needs no database: the cached
/// key carries it and every lookup compares it with the clock.
/// <para>While the database cannot be reached, lookups answer from the cache whatever the age of an entry (known
/// keys keep working, expiries still apply); the check goes on once a second and, once it succeeds, drops the cache
/// if anything changed meanwhile.</para>
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

    /// <summary>The last check: when, the sum of the key versions then, and whether it failed (the database was down).</summary>
    private sealed record RevocationCheck(DateTimeOffset At, long Changes, bool Failed);

    /// <summary>Test hook: when it returns an exception, the lookups and checks of this store throw it instead of
    /// reaching the database (an outage of this instance's database alone, made deterministic).</summary>
    internal Func<Exception?>? OutageForTests { get; set; }

    public const string Prefix = "chk_";

    public async Task<(Guid Id, string Key)> CreateAsync(Guid? organisationId, string name, IEnumerable<string> scopes, bool platformAdmin,
        CancellationToken ct, DateTimeOffset? expiresAt = null)
    {
        await using var connection = await db.OpenAsync(ct);
        var (id, key) = NewKey();
        await connection.ExecuteAsync(db.Command(InsertSql, new
        {
            id, organisationId, name, prefix = key[..12], keyHash = Hash(key), scopes = ScopeList(scopes),
            isPlatformAdmin = platformAdmin, createdAt = clock.GetUtcNow(), expiresAt,
        }, ct));
        return (id, key);
    }

    public static (Guid Id, string Key) NewKey() => (Guid.CreateVersion7(), Prefix + Base64Url(RandomNumberGenerator.GetBytes(32)));

    public static string ScopeList(IEnumerable<string> scopes) => string.Join(' ', scopes.Distinct().Order(StringComparer.Ordinal));

    /// <summary>A key changed in this process (its version was bumped in the database): drop the cache now.</summary>
    public void Changed() => Forget();

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
        if (Due(lastCheck, now)) await CatchUpWithChangesAsync(ct);
        var current = Interlocked.Read(ref generation);
        var hit = cache.TryGetValue(hash, out var cached) && cached.Generation == current;
        if (hit && (cached!.Expires > now || lastCheck?.Failed == true))
        {
            if (cached.Identity is not null && now - cached.Touched > TouchEvery && lastCheck?.Failed != true) Touch(hash, cached, now);
            return Unexpired(cached.Identity, now);
        }

        ApiKeyRow? row;
        try
        {
            row = await db.RetryAsync((c, t) =>
            {
                if (OutageForTests?.Invoke() is { } outage) throw outage;
                return c.QuerySingleOrDefaultAsync<ApiKeyRow>(db.Command(ByHashSql, new { keyHash = hash }, t));
            }, ct);
        }
        catch (Exception e) when (hit && IsOutage(e, ct))
        {
            // The database is down and the check has not noticed yet: the entry that just aged still answers.
            return Unexpired(cached!.Identity, now);
        }
        var identity = row is null || row.RevokedAt is not null
            ? null
            : new ApiKeyIdentity(row.Id, row.OrganisationId, row.IsPlatformAdmin,
                row.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(), row.ExpiresAt);
        // Unknown keys are cached too (a client retrying a bad key costs no query), so bound the
        // cache against callers sending endless random keys: start again when it is full.
        if (cache.Count >= MaxCached) cache.Clear();
        var entry = new CacheEntry(identity, now + CacheFor, DateTimeOffset.MinValue, current);
        if (identity is not null) Touch(hash, entry, now);
        else cache[hash] = entry;
        return Unexpired(identity, now);
    }

    private static ApiKeyIdentity? Unexpired(ApiKeyIdentity? identity, DateTimeOffset now) =>
        identity?.ExpiresAt is { } expires && expires <= now ? null : identity;

    private bool IsOutage(Exception e, CancellationToken ct) =>
        !ct.IsCancellationRequested && (e is System.Data.Common.DbException or TimeoutException or System.Net.Sockets.SocketException
            || db.Dialect.IsUnavailable(e) || db.Dialect.IsTransient(e));

    /// <summary>
    /// Drops the cache when a key changed elsewhere since the last check. One request checks at a time; those that
    /// waited for it find the check fresh and go on. The clock moving back (tests) counts as due. While the database
    /// is down, the requests that find a check running do not wait for it: they answer from the cache.
    /// </summary>
    private async ValueTask CatchUpWithChangesAsync(CancellationToken ct)
    {
        if (lastCheck?.Failed == true) { if (!await checking.WaitAsync(0, ct)) return; }
        else await checking.WaitAsync(ct);
        try
        {
            var last = lastCheck;
            var now = clock.GetUtcNow();
            if (!Due(last, now)) return;
            long changes;
            try
            {
                changes = await db.RetryAsync((c, t) =>
                {
                    if (OutageForTests?.Invoke() is { } outage) throw outage;
                    return c.ExecuteScalarAsync<long>(db.Command(ChangesSql, null, t));
                }, ct);
            }
            catch (Exception e) when (last is not null && IsOutage(e, ct))
            {
                if (!last.Failed) logger?.LogWarning("API keys: the database is unreachable; known keys answer from the cache");
                lastCheck = last with { At = now, Failed = true };
                return;
            }
            if (last is not null && changes != last.Changes) Forget();
            if (last?.Failed == true) logger?.LogInformation("API keys: the database is back; changes made meanwhile apply");
            lastCheck = new RevocationCheck(now, changes, Failed: false);
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
        public DateTimeOffset? ExpiresAt { get; init; }
        public int Version { get; init; }
        public DateTimeOffset? ExpiryWarnedAt { get; init; }
    }

    private const string InsertSql = """
        INSERT INTO api_key (id, organisation_id, name, prefix, key_hash, scopes, is_platform_admin, created_at, expires_at, version)
        VALUES (@id, @organisationId, @name, @prefix, @keyHash, @scopes, @isPlatformAdmin, @createdAt, @expiresAt, 0)
        """;
    private const string ListSql = """
        SELECT id, organisation_id, name, prefix, scopes, is_platform_admin, created_at, revoked_at, last_used_at,
               expires_at, version
        FROM api_key ORDER BY created_at, id
        """;
    private const string ByHashSql = """
        SELECT id, organisation_id, name, prefix, scopes, is_platform_admin, created_at, revoked_at, last_used_at,
               expires_at, version
        FROM api_key WHERE key_hash = @keyHash
        """;
    private const string HashByIdSql = "SELECT key_hash FROM api_key WHERE id = @id";
    public const string RevokeSql =
        "UPDATE api_key SET revoked_at = @now, version = version + 1 WHERE id = @id AND revoked_at IS NULL";
    private const string CountSql = "SELECT COUNT(*) FROM api_key";
    // Rows are never deleted and versions only grow: the sum moves with every change, and only then.
    private const string ChangesSql = "SELECT COALESCE(SUM(version), 0) FROM api_key";
    private const string TouchSql = "UPDATE api_key SET last_used_at = @now WHERE key_hash = @keyHash";
}
