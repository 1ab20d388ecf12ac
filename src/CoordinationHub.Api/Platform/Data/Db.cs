using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace CoordinationHub.Platform.Data;

public sealed class DatabaseOptions
{
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;
    /// <summary>Run pending migrations when the host starts.</summary>
    public bool MigrateOnStartup { get; set; } = true;
    /// <summary>Load the bundled referential into an empty directory on start.</summary>
    public bool ImportReferentialOnStartup { get; set; } = true;
}

/// <summary>
/// The one way handlers reach the database: an open connection of the configured provider,
/// the dialect, and a retry pipeline for operations that are safe to repeat.
/// </summary>
public sealed class Db
{
    private readonly string connectionString;
    private readonly ResiliencePipeline retry;

    public Db(IOptions<DatabaseOptions> options, IConfiguration configuration)
    {
        Dialect = SqlDialect.For(options.Value.Provider);
        connectionString = Normalize(Dialect.Provider, configuration.GetConnectionString("CoordinationHub") ?? DefaultSqlite);
        retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(Dialect.IsTransient),
                MaxRetryAttempts = 4,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(25),
            })
            .Build();
    }

    public const string DefaultSqlite = "Data Source=data/coordinationhub.db";

    public SqlDialect Dialect { get; }
    public string ConnectionString => connectionString;

    /// <summary>Directory holding the SQLite file, or the working directory's data/ for servers.</summary>
    public string DataDirectory => Dialect.Provider == DatabaseProvider.Sqlite
        ? Path.GetDirectoryName(Path.GetFullPath(new SqliteConnectionStringBuilder(connectionString).DataSource)) ?? "data"
        : Path.GetFullPath("data");

    public async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        var connection = Dialect.CreateConnection(connectionString);
        try
        {
            await connection.OpenAsync(ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Opens a connection and runs <paramref name="work"/>, retried on transient errors.
    /// Only for work that is safe to repeat: reads, or writes inside their own transaction.
    /// </summary>
    public ValueTask<T> RetryAsync<T>(Func<DbConnection, CancellationToken, Task<T>> work, CancellationToken ct) =>
        retry.ExecuteAsync(async token =>
        {
            await using var connection = await OpenAsync(token);
            return await work(connection, token);
        }, ct);

    /// <summary>
    /// Runs <paramref name="work"/> in a transaction, committed when it returns; the whole
    /// transaction is retried on transient errors, since nothing of a failed attempt remains.
    /// </summary>
    public ValueTask<T> InTransactionAsync<T>(Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work, CancellationToken ct, IsolationLevel isolation = IsolationLevel.ReadCommitted) =>
        retry.ExecuteAsync(async token =>
        {
            // SQLite has one writer at a time, and Microsoft.Data.Sqlite waits for a busy file by sleeping
            // 150 ms between attempts: writers of this process queue here instead (other processes still
            // meet the busy timeout).
            var gated = Dialect.Provider == DatabaseProvider.Sqlite;
            if (gated) await sqliteWriters.WaitAsync(token);
            try
            {
                await using var connection = await OpenAsync(token);
                await using var tx = await BeginAsync(connection, isolation, token);
                var result = await work(connection, tx, token);
                await tx.CommitAsync(token);
                return result;
            }
            finally
            {
                if (gated) sqliteWriters.Release();
            }
        }, ct);

    private readonly SemaphoreSlim sqliteWriters = new(1, 1);

    private async Task<DbTransaction> BeginAsync(DbConnection connection, IsolationLevel isolation, CancellationToken ct)
    {
        if (connection is SqliteConnection sqlite)
        {
            // BEGIN IMMEDIATE: take the write lock up front, so two writers queue instead of
            // failing on lock upgrade half-way through a read-then-write rule check.
            return sqlite.BeginTransaction(deferred: false);
        }
        return await connection.BeginTransactionAsync(isolation, ct);
    }

    /// <summary>A Dapper command with the dialect's tokens rendered and the cancellation token passed on.</summary>
    public CommandDefinition Command(string sql, object? parameters, CancellationToken ct, DbTransaction? tx = null) =>
        new(Dialect.Render(sql), Dialect.Provider == DatabaseProvider.Sqlite ? CamelCase(parameters) : parameters, tx, cancellationToken: ct);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, (string Name, System.Reflection.PropertyInfo Property)[]> Properties = new();

    /// <summary>
    /// SQL names parameters in camelCase (<c>@departementCode</c>). PostgreSQL and SQL Server match
    /// names without regard to case; SQLite does not, so <c>new { query.Id }</c> is renamed <c>id</c>.
    /// </summary>
    private static object? CamelCase(object? parameters)
    {
        if (parameters is null or SqlMapper.IDynamicParameters) return parameters;
        var properties = Properties.GetOrAdd(parameters.GetType(), t => t.GetProperties()
            .Select(p => (char.ToLowerInvariant(p.Name[0]) + p.Name[1..], p)).ToArray());
        var renamed = new DynamicParameters();
        foreach (var (name, property) in properties)
        {
            var value = property.GetValue(parameters);
            // Dapper expands lists (IN @ids) without the type handlers: give SQLite the text form of ids.
            renamed.Add(name, value is IEnumerable<Guid> ids ? ids.Select(g => g.ToString()).ToArray() : value);
        }
        return renamed;
    }

    private static string Normalize(DatabaseProvider provider, string cs)
    {
        if (provider != DatabaseProvider.Sqlite) return cs;
        var b = new SqliteConnectionStringBuilder(cs) { ForeignKeys = true, Pooling = true };
        if (b.DefaultTimeout < 30) b.DefaultTimeout = 30;
        var file = b.DataSource;
        if (!string.IsNullOrEmpty(file) && file != ":memory:" && b.Mode != SqliteOpenMode.Memory)
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(file));
            if (!string.IsNullOrEmpty(dir)) System.IO.Directory.CreateDirectory(dir);
        }
        return b.ToString();
    }
}
