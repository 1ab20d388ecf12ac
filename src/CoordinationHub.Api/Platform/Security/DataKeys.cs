using System.Data.Common;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Platform.Security;

/// <summary>
/// Crypto-shredding: each referral's person data (versions, context, thread bodies, stored idempotent
/// answers that carried it) is sealed with a data key of its own, stored in <c>data_key</c> wrapped by the
/// ring's active key. Erasure and purge delete that row in their transaction: every other copy of what it
/// sealed (free pages, WAL, dead tuples, backups, replay records) no longer opens. The platform's own data
/// key (<see cref="Platform"/>, owner <see cref="Guid.Empty"/>) seals what is not one person's: webhook
/// secrets, agents' names and free texts of the access log. A rotation re-wraps these rows only.
/// </summary>
public sealed class DataKeys(Db db, PersonCipher cipher)
{
    public static readonly Guid Platform = Guid.Empty;
    private byte[]? platform; // one reference, swapped whole

    /// <summary>The data key of <paramref name="owner"/>, or null when there is none (destroyed, or never made).</summary>
    public async Task<byte[]?> FindAsync(DbConnection c, DbTransaction? tx, Guid owner, CancellationToken ct)
    {
        var wrapped = await c.QuerySingleOrDefaultAsync<string>(db.Command(WrappedSql, new { owner }, ct, tx));
        return wrapped is null ? null : cipher.Unwrap(wrapped, owner);
    }

    /// <summary>The data keys of these owners (those that have one).</summary>
    public async Task<IReadOnlyDictionary<Guid, byte[]>> FindManyAsync(DbConnection c, DbTransaction? tx, IReadOnlyCollection<Guid> owners,
        CancellationToken ct)
    {
        if (owners.Count == 0) return new Dictionary<Guid, byte[]>();
        var rows = await c.QueryAsync<Row>(db.Command(WrappedManySql, new { owners = owners.ToArray() }, ct, tx));
        return rows.ToDictionary(r => r.OwnerId, r => cipher.Unwrap(r.Wrapped, r.OwnerId));
    }

    /// <summary>A new data key for <paramref name="owner"/>, made outside any transaction; <see cref="InsertAsync"/> stores it.</summary>
    public NewKey Create(Guid owner)
    {
        var (key, wrapped) = cipher.NewDataKey(owner);
        return new NewKey(owner, key, wrapped);
    }

    public sealed record NewKey(Guid Owner, byte[] Key, string Wrapped);

    public Task InsertAsync(DbConnection c, DbTransaction tx, NewKey key, DateTimeOffset now, CancellationToken ct) =>
        c.ExecuteAsync(db.Command(InsertSql, new
        {
            owner = key.Owner, ringKeyId = PersonCipher.RingKeyIdOf(key.Wrapped), wrapped = key.Wrapped, createdAt = now,
        }, ct, tx));

    /// <summary>The owner's data key, made and stored in the caller's transaction when it has none.</summary>
    public async Task<byte[]> FindOrCreateAsync(DbConnection c, DbTransaction tx, Guid owner, DateTimeOffset now, CancellationToken ct)
    {
        if (await FindAsync(c, tx, owner, ct) is { } key) return key;
        var made = Create(owner);
        await InsertAsync(c, tx, made, now, ct);
        return made.Key;
    }

    /// <summary>Destroys the data keys of these owners: what they sealed no longer opens, wherever a copy lies.</summary>
    public Task<int> DestroyAsync(DbConnection c, DbTransaction tx, IReadOnlyCollection<Guid> owners, CancellationToken ct) =>
        c.ExecuteAsync(db.Command(DestroySql, new { owners = owners.ToArray() }, ct, tx));

    /// <summary>
    /// After a commit that destroyed data keys: on SQLite, the WAL is checkpointed and truncated, so that the frames that held
    /// the keys leave the disk too (the file's pages were zeroed by <c>secure_delete</c>); on PostgreSQL (<paramref name="vacuum"/>,
    /// the scheduled purge) <c>VACUUM data_key</c> drops the dead tuples. Best effort: a reader holding the WAL delays it.
    /// </summary>
    public async Task ScrubAsync(bool vacuum, CancellationToken ct)
    {
        var sql = db.Dialect.Provider switch
        {
            DatabaseProvider.Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)",
            DatabaseProvider.PostgreSQL when vacuum => "VACUUM data_key",
            _ => null,
        };
        if (sql is null) return;
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition(sql, cancellationToken: ct));
    }

    /// <summary>
    /// The platform's data key (made at start-up by <see cref="KeyRingCheck"/>), kept in memory once read: a rotation re-wraps
    /// it, its material never changes.
    /// </summary>
    public async ValueTask<byte[]> PlatformAsync(DbConnection? c, DbTransaction? tx, CancellationToken ct)
    {
        if (platform is { } known) return known;
        string wrapped;
        if (c is null)
        {
            await using var own = await db.OpenAsync(ct);
            wrapped = await own.QuerySingleAsync<string>(db.Command(WrappedSql, new { owner = Platform }, ct));
        }
        else wrapped = await c.QuerySingleAsync<string>(db.Command(WrappedSql, new { owner = Platform }, ct, tx));
        return platform = cipher.Unwrap(wrapped, Platform);
    }

    /// <summary>Seals with the platform's key what is not one person's (a webhook secret, the access log's free texts).</summary>
    public async ValueTask<string> SealPlatformAsync(string value, string context, CancellationToken ct) =>
        PersonCipher.Seal(await PlatformAsync(null, null, ct), value, context);

    /// <summary>Opens what <see cref="SealPlatformAsync"/> sealed; a value from before sealing is returned as it is.</summary>
    public async ValueTask<string?> OpenPlatformAsync(string? value, string context, CancellationToken ct) =>
        PersonCipher.IsSealed(value) ? cipher.Open(await PlatformAsync(null, null, ct), value!, context) : value;

    /// <summary>Makes the platform's data key when the database has none (two instances may race: the second's insert fails and is ignored).</summary>
    public async Task EnsurePlatformAsync(DateTimeOffset now, CancellationToken ct)
    {
        try
        {
            await db.InTransactionAsync(async (c, tx, t) =>
            {
                if (await c.ExecuteScalarAsync<int>(db.Command(CountOwnerSql, new { owner = Platform }, t, tx)) == 0)
                    await InsertAsync(c, tx, Create(Platform), now, t);
                return 0;
            }, ct);
        }
        catch (Exception e) when (db.Dialect.IsUniqueViolation(e)) { }
    }

    /// <summary>Wraps again, with the active ring key, up to <paramref name="batch"/> data keys wrapped by another; run it until 0.</summary>
    public async Task<int> RewrapAsync(int batch, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            var active = cipher.Ring.Active.Id;
            var done = 0;
            foreach (var r in await c.QueryAsync<Row>(db.Command(StaleSql, new { active, limit = batch }, t, tx)))
            {
                var wrapped = cipher.Wrap(cipher.Unwrap(r.Wrapped, r.OwnerId), r.OwnerId);
                done += await c.ExecuteAsync(db.Command(RewrapSql, new { owner = r.OwnerId, ringKeyId = active, wrapped }, t, tx));
            }
            return done;
        }, ct);

    /// <summary>The ring keys the database holds something wrapped or sealed by, with how many rows.</summary>
    public async Task<IReadOnlyDictionary<string, long>> RingKeysInUseAsync(CancellationToken ct) =>
        await db.RetryAsync(async (c, t) => (await c.QueryAsync<(string RingKeyId, long Count)>(db.Command(InUseSql, null, t)))
            .ToDictionary(r => r.RingKeyId, r => r.Count), ct);

    private sealed class Row
    {
        public Guid OwnerId { get; init; }
        public string Wrapped { get; init; } = "";
    }

    private const string WrappedSql = "SELECT wrapped FROM data_key WHERE owner_id = @owner";
    private const string WrappedManySql = "SELECT owner_id, wrapped FROM data_key WHERE owner_id {in:owners}";
    private const string CountOwnerSql = "SELECT COUNT(*) FROM data_key WHERE owner_id = @owner";
    private const string InsertSql = """
        INSERT INTO data_key (owner_id, ring_key_id, wrapped, created_at) VALUES (@owner, @ringKeyId, @wrapped, @createdAt)
        """;
    private const string DestroySql = "DELETE FROM data_key WHERE owner_id {in:owners}";
    private const string StaleSql = "SELECT owner_id, wrapped FROM data_key WHERE ring_key_id <> @active ORDER BY owner_id {limit}";
    private const string RewrapSql = "UPDATE data_key SET ring_key_id = @ringKeyId, wrapped = @wrapped WHERE owner_id = @owner";
    private const string InUseSql = "SELECT ring_key_id, COUNT(*) AS count FROM data_key GROUP BY ring_key_id";
}
