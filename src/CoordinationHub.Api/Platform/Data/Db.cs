using System.Data;
using System.Data.Common;
using System.Diagnostics;
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
public sealed class Db : IDisposable
{
    private readonly string connectionString;
    private readonly ResiliencePipeline retry;

    public Db(IOptions<DatabaseOptions> options, IConfiguration configuration, ILogger<Db>? logger = null)
    {
        Dialect = SqlDialect.For(options.Value.Provider);
        Outage = new DatabaseOutage(Dialect, logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger<Db>.Instance);
        connectionString = Normalize(Dialect.Provider, configuration.GetConnectionString("CoordinationHub") ?? DefaultSqlite);
        sqliteWriter = new SqliteWriter(this);
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
    /// <summary>Whether the database is unreachable now, and the one place that says so in the log.</summary>
    public DatabaseOutage Outage { get; }
    public string ConnectionString => connectionString;

    /// <summary>Directory holding the SQLite file, or the working directory's data/ for servers.</summary>
    public string DataDirectory => Dialect.Provider == DatabaseProvider.Sqlite
        ? Path.GetDirectoryName(Path.GetFullPath(new SqliteConnectionStringBuilder(connectionString).DataSource)) ?? "data"
        : Path.GetFullPath("data");

    // The pooled SQLite handles that run with secure_delete (a handle leaves the table when it is collected).
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, object> SecureDeleteOn = new();
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, object> Profiled = new();
    private static readonly object Marker = new();

    public async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        var connection = Dialect.CreateConnection(connectionString);
        try
        {
            await connection.OpenAsync(ct);
            // Deleted rows are overwritten with zeros, not left in free space: the second line behind crypto-shredding.
            // The setting lives as long as the SQLite handle, which the pool hands out again: set once per handle.
            if (connection is Microsoft.Data.Sqlite.SqliteConnection { Handle: { } handle })
            {
                if (!SecureDeleteOn.TryGetValue(handle, out _))
                {
                    await using var pragma = connection.CreateCommand();
                    pragma.CommandText = "PRAGMA secure_delete=ON";
                    await pragma.ExecuteNonQueryAsync(ct);
                    SecureDeleteOn.AddOrUpdate(handle, Marker);
                }
                // Traced, each statement becomes a span (SqliteSpans); hooked once per handle, as the pragma.
                if (Telemetry.Tracing && !Profiled.TryGetValue(handle, out _))
                {
                    SQLitePCL.raw.sqlite3_profile(handle, SqliteSpans.Profile, null);
                    Profiled.AddOrUpdate(handle, Marker);
                }
            }
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
            var result = await work(connection, token);
            Outage.Reachable();
            return result;
        }, ct);

    /// <summary>
    /// Runs <paramref name="work"/> in a transaction, committed when it returns; the whole
    /// transaction is retried on transient errors, since nothing of a failed attempt remains.
    /// </summary>
    public ValueTask<T> InTransactionAsync<T>(Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work, CancellationToken ct, IsolationLevel isolation = IsolationLevel.ReadCommitted) =>
        retry.ExecuteAsync(async token =>
        {
            if (Dialect.Provider == DatabaseProvider.Sqlite)
            {
                var written = (T)(await sqliteWriter.RunAsync(async (c, tx, t) => (object?)await work(c, tx, t), token))!;
                Outage.Reachable();
                return written;
            }
            await using var connection = await OpenAsync(token);
            await using var tx = await connection.BeginTransactionAsync(isolation, token);
            var result = await work(connection, tx, token);
            await tx.CommitAsync(token);
            Outage.Reachable();
            return result;
        }, ct);

    private readonly SqliteWriter sqliteWriter;

    public void Dispose() => sqliteWriter.Dispose();

    /// <summary>
    /// SQLite has one writer at a time (and Microsoft.Data.Sqlite waits for a busy file by sleeping 150 ms
    /// between attempts), so the writers of this process queue here instead. One loop takes what is queued,
    /// runs each unit in its own savepoint of one transaction (a unit that fails is rolled back alone, and its
    /// caller gets its error), and commits once for all: group commit, one WAL sync for many small writes.
    /// A unit's caller is answered only after that commit.
    /// </summary>
    /// <remarks>
    /// The WAL is checkpointed by SQLite inside these commits (every 1,000 pages). A second connection
    /// checkpointing beside the writer was tried and dropped: under constant writes and reads its passive
    /// checkpoints never caught up with the writer's last frame, so the WAL was never restarted and grew by
    /// about 30 MB a second (745 MB after 26 s of creates), where in-commit checkpoints keep it at 16 MB.
    /// temp_store stays FILE: a unit's savepoint journal is kept in memory up to 64 KiB and spills to a
    /// file beyond, so a 200,000-record push does not hold a copy of every page it changes in memory.
    /// </remarks>
    private sealed class SqliteWriter(Db db) : IDisposable
    {
        private const int MaxBatch = 64;

        private sealed class Unit(Func<DbConnection, DbTransaction, CancellationToken, Task<object?>> work, CancellationToken ct)
        {
            public Func<DbConnection, DbTransaction, CancellationToken, Task<object?>> Work { get; } = work;
            public CancellationToken Ct { get; } = ct;
            public TaskCompletionSource<object?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
            /// <summary>The caller's span: the unit's SQL is traced under it, though it runs on the writer's thread.</summary>
            public Activity? Parent { get; } = Activity.Current;
            public object? Result { get; set; }
            public Exception? Error { get; set; }
        }

        private readonly System.Threading.Channels.Channel<Unit> queue =
            System.Threading.Channels.Channel.CreateUnbounded<Unit>(new() { SingleReader = true });
        private int started;
        private SingleThreadScheduler? thread;

        public void Dispose() => thread?.Dispose();

        public async Task<object?> RunAsync(Func<DbConnection, DbTransaction, CancellationToken, Task<object?>> work, CancellationToken ct)
        {
            // Its own thread, not the pool's: SQLite's calls are synchronous, and a batch (a push: seconds) held a pool thread.
            if (Interlocked.Exchange(ref started, 1) == 0) _ = (thread = new SingleThreadScheduler("SQLite writer", nice: 0)).RunAsync(LoopAsync);
            var unit = new Unit(work, ct);
            await queue.Writer.WriteAsync(unit, ct);
            // Not cancelled by ct here: once its work has run, the unit's fate is the batch's commit.
            return await unit.Done.Task;
        }

        private async Task LoopAsync()
        {
            var batch = new List<Unit>();
            // The writer's own connection, kept open with its compiled statements.
            SqliteStatementCache? statements = null;
            while (await queue.Reader.WaitToReadAsync())
            {
                Activity.Current = null; // the batch's own statements (BEGIN, COMMIT) belong to no request
                batch.Clear();
                while (batch.Count < MaxBatch && queue.Reader.TryRead(out var next)) batch.Add(next);
                try
                {
                    statements ??= new SqliteStatementCache((SqliteConnection)await db.OpenAsync(CancellationToken.None));
                    await using var tx = statements.BeginImmediate();
                    foreach (var unit in batch)
                    {
                        if (unit.Ct.IsCancellationRequested) { unit.Error = new OperationCanceledException(unit.Ct); continue; }
                        statements.Execute("SAVEPOINT unit", tx);
                        Activity.Current = unit.Parent;
                        try
                        {
                            unit.Result = await unit.Work(statements, tx, unit.Ct);
                            statements.Execute("RELEASE unit", tx);
                        }
                        catch (Exception e)
                        {
                            unit.Error = e;
                            statements.Execute("ROLLBACK TO unit", tx);
                            statements.Execute("RELEASE unit", tx);
                        }
                        Activity.Current = null;
                    }
                    await tx.CommitAsync();
                    foreach (var unit in batch)
                        if (unit.Error is null) unit.Done.TrySetResult(unit.Result);
                        else unit.Done.TrySetException(unit.Error);
                }
                catch (Exception e)
                {
                    // The transaction could not begin or commit: nothing of the batch remains.
                    foreach (var unit in batch) unit.Done.TrySetException(unit.Error ?? e);
                    statements?.Dispose();
                    statements = null;
                }
            }
        }
    }

    /// <summary>A Dapper command with the dialect's tokens rendered and the cancellation token passed on.</summary>
    public CommandDefinition Command(string sql, object? parameters, CancellationToken ct, DbTransaction? tx = null) =>
        new(Dialect.Render(sql), Dialect.Provider == DatabaseProvider.Sqlite ? CamelCase(parameters) : parameters, tx, cancellationToken: ct);

    /// <summary>
    /// SQL names parameters in camelCase (<c>@departementCode</c>). PostgreSQL and SQL Server match
    /// names without regard to case; SQLite does not, so <c>new { query.Id }</c> is renamed <c>@id</c>
    /// (<see cref="SqliteParameters"/>), or <c>id</c> in Dapper's parameters when it carries a list to expand.
    /// </summary>
    private static object? CamelCase(object? parameters)
    {
        if (parameters is null or SqlMapper.IDynamicParameters) return parameters;
        var shape = SqliteParameters.Of(parameters.GetType());
        if (shape.Direct) return new SqliteParameters(parameters, shape);
        var renamed = new DynamicParameters();
        foreach (var (name, property) in shape.Named)
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
