using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.SqlClient;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace CoordinationHub.Platform.Data;

public enum DatabaseProvider { Sqlite, PostgreSQL, SqlServer }

/// <summary>
/// Everything that differs between the three databases, and nothing else.
/// Shared SQL carries tokens that <see cref="Render"/> replaces:
/// <c>{limit}</c> (row limit taken from <c>@limit</c>, after ORDER BY),
/// <c>{lock}</c> (row-lock hint after a table name, SQL Server),
/// <c>{for_update}</c> (row lock at the end of a SELECT, PostgreSQL),
/// <c>{for_no_key_update}</c> (the same, but a foreign key to the row is still checked meanwhile, PostgreSQL),
/// <c>{in:ids}</c> (membership in the list parameter <c>@ids</c>: Dapper expands <c>IN @ids</c>,
/// but hands PostgreSQL an array, which takes <c>= ANY(@ids)</c>),
/// <c>{skip_locked}</c> (after a table name: lock the rows read and skip those another transaction
/// holds, SQL Server) and <c>{for_update_skip_locked}</c> (the same at the end of a SELECT, PostgreSQL);
/// SQLite has one writer at a time, so a leasing transaction never meets another.
/// </summary>
public abstract class SqlDialect
{
    private readonly ConcurrentDictionary<string, string> rendered = new(StringComparer.Ordinal);

    private static readonly System.Text.RegularExpressions.Regex InToken = new(@"\{in:(\w+)\}");

    public abstract DatabaseProvider Provider { get; }
    public abstract DbConnection CreateConnection(string connectionString);
    protected abstract string Limit { get; }
    protected virtual string Lock => "";
    protected virtual string ForUpdate => "";
    protected virtual string ForNoKeyUpdate => ForUpdate;
    protected virtual string SkipLocked => "";
    protected virtual string ForUpdateSkipLocked => "";
    /// <summary>Whether a failure is worth retrying: the same statement may succeed a moment later.</summary>
    public abstract bool IsTransient(Exception exception);
    /// <summary>Whether the database is unreachable (answered as 503, not 500).</summary>
    public abstract bool IsUnavailable(Exception exception);
    public abstract bool IsUniqueViolation(Exception exception);

    /// <summary>
    /// A statement that takes, until the end of the transaction, an exclusive lock on a name (<c>@key</c>)
    /// rather than on a row: transactions that would collide on it serialise, the others do not. Null for
    /// SQLite, whose writers already go one at a time.
    /// </summary>
    public virtual string? KeyLockSql => null;

    /// <summary>A parameter for hand-built bulk statements, converted as the Dapper type handlers would.</summary>
    public DbParameter Parameter(DbCommand command, string name, object? value, System.Data.DbType typeWhenNull)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        Bind(p, value, typeWhenNull);
        return p;
    }

    /// <summary>Gives a bulk statement's parameter its next value (a prepared statement executed row after row).</summary>
    public void Bind(DbParameter p, object? value, System.Data.DbType typeWhenNull)
    {
        if (value is null) { p.Value = DBNull.Value; p.DbType = typeWhenNull; return; }
        p.ResetDbType(); // the type a previous null gave it
        p.Value = Convert(value);
    }

    protected virtual object Convert(object value) => value is DateTimeOffset d ? d.ToUniversalTime() : value;

    protected virtual string In(string list) => $"IN @{list}";

    /// <summary>Parameters per multi-row INSERT (SQL Server stops at 2,100 per statement).</summary>
    public virtual int BulkParameters => 2000;

    public string Render(string sql) => rendered.GetOrAdd(sql, s => InToken.Replace(s, m => In(m.Groups[1].Value))
        .Replace("{limit}", Limit)
        .Replace("{lock}", Lock)
        .Replace("{for_update}", ForUpdate)
        .Replace("{for_no_key_update}", ForNoKeyUpdate)
        .Replace("{skip_locked}", SkipLocked)
        .Replace("{for_update_skip_locked}", ForUpdateSkipLocked));

    public static SqlDialect For(DatabaseProvider provider) => provider switch
    {
        DatabaseProvider.Sqlite => new SqliteDialect(),
        DatabaseProvider.PostgreSQL => new PostgresDialect(),
        DatabaseProvider.SqlServer => new SqlServerDialect(),
        _ => throw new ArgumentOutOfRangeException(nameof(provider)),
    };
}

public sealed class SqliteDialect : SqlDialect
{
    public override DatabaseProvider Provider => DatabaseProvider.Sqlite;
    public override DbConnection CreateConnection(string connectionString) => new SqliteConnection(connectionString);
    protected override string Limit => "LIMIT @limit";
    // Microsoft.Data.Sqlite matches each statement parameter to the collection by name, linearly:
    // thousands per statement turn quadratic. Short statements are as fast in SQLite (no round trip).
    public override int BulkParameters => 160;
    protected override object Convert(object value) => TypeHandlers.ToSqlite(value);
    // 5 SQLITE_BUSY, 6 SQLITE_LOCKED: another writer holds the file.
    public override bool IsTransient(Exception e) => e is SqliteException { SqliteErrorCode: 5 or 6 };
    // 14 SQLITE_CANTOPEN
    public override bool IsUnavailable(Exception e) => e is SqliteException { SqliteErrorCode: 14 };
    // 19 SQLITE_CONSTRAINT with extended code 2067 (unique) or 1555 (primary key)
    public override bool IsUniqueViolation(Exception e) => e is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 2067 or 1555 };
}

public sealed class PostgresDialect : SqlDialect
{
    public override DatabaseProvider Provider => DatabaseProvider.PostgreSQL;
    public override DbConnection CreateConnection(string connectionString) => new NpgsqlConnection(connectionString);
    protected override string Limit => "LIMIT @limit";
    protected override string ForUpdate => "FOR UPDATE";
    protected override string ForNoKeyUpdate => "FOR NO KEY UPDATE";
    protected override string ForUpdateSkipLocked => "FOR UPDATE SKIP LOCKED";
    protected override string In(string list) => $"= ANY(@{list})";
    public override string KeyLockSql => AdvisoryLockSql;
    private const string AdvisoryLockSql = "SELECT pg_advisory_xact_lock(hashtextextended(@key, 0))";
    public override bool IsTransient(Exception e) => e switch
    {
        // 40001 serialization_failure, 40P01 deadlock_detected, 55P03 lock_not_available
        PostgresException p => p.SqlState is "40001" or "40P01" or "55P03" || p.IsTransient,
        NpgsqlException n => n.IsTransient,
        _ => false,
    };
    public override bool IsUnavailable(Exception e) => e switch
    {
        // 57P01..03 admin shutdown / crash shutdown / cannot connect now, 53300 too many connections
        PostgresException p => p.SqlState is "57P01" or "57P02" or "57P03" or "53300",
        NpgsqlException n => n.InnerException is System.Net.Sockets.SocketException or TimeoutException || n.IsTransient,
        _ => false,
    };
    public override bool IsUniqueViolation(Exception e) => e is PostgresException { SqlState: "23505" };
}

public sealed class SqlServerDialect : SqlDialect
{
    // Error numbers SqlClient's own retry logic treats as transient, plus deadlock victim (1205).
    private static readonly HashSet<int> TransientNumbers = [1205, 4060, 40197, 40501, 40613, 49918, 49919, 49920, 4221, 10928, 10929, 10053, 10054, 10060, 233, 64, -2];

    public override DatabaseProvider Provider => DatabaseProvider.SqlServer;
    public override DbConnection CreateConnection(string connectionString) => new SqlConnection(connectionString);
    protected override string Limit => "OFFSET 0 ROWS FETCH NEXT @limit ROWS ONLY";
    protected override string Lock => "WITH (UPDLOCK, ROWLOCK)";
    protected override string SkipLocked => "WITH (UPDLOCK, READPAST, ROWLOCK)";
    public override string KeyLockSql => AppLockSql;
    private const string AppLockSql = "EXEC sp_getapplock @Resource = @key, @LockMode = 'Exclusive', @LockOwner = 'Transaction'";
    public override bool IsTransient(Exception e) => e is SqlException s && s.Errors.Cast<SqlError>().Any(err => TransientNumbers.Contains(err.Number));
    public override bool IsUnavailable(Exception e) => e is SqlException s && s.Errors.Cast<SqlError>().Any(err => err.Number is 4060 or 40613 or 233 or 64 or 10053 or 10054 or 10060 or -2 or 53);
    // 2627 unique constraint, 2601 unique index
    public override bool IsUniqueViolation(Exception e) => e is SqlException s && s.Errors.Cast<SqlError>().Any(err => err.Number is 2627 or 2601);
}
