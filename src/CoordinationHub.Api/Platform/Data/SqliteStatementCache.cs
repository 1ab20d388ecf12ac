using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Data.Sqlite;

namespace CoordinationHub.Platform.Data;

/// <summary>
/// The SQLite writer's connection as the units it runs see it: commands of the same text share one
/// compiled statement. Microsoft.Data.Sqlite keeps a statement only as long as its command object,
/// and Dapper makes a new command per call, so without this SQLite parses and plans every INSERT of
/// every write again. Only the writer's loop uses it, one unit at a time: no locking. It owns the
/// connection: disposing it closes both.
/// </summary>
public sealed class SqliteStatementCache(SqliteConnection inner) : DbConnection
{
    /// <summary>
    /// Statements kept, least recently used dropped first: a bulk push's IN lists of every length
    /// (hundreds of texts used once) must not keep a create's ten statements out.
    /// </summary>
    public const int Capacity = 256;
    private readonly Dictionary<string, LinkedListNode<SqliteCommand>> idle = new(StringComparer.Ordinal);
    /// <summary>The statements <see cref="BulkInsert"/> executes row after row: a few fixed texts, kept while the connection lives.</summary>
    private readonly Dictionary<string, SQLitePCL.sqlite3_stmt> perRow = new(StringComparer.Ordinal);
    private readonly LinkedList<SqliteCommand> recent = [];

    /// <summary>Compiled statements kept for reuse.</summary>
    public int Count => idle.Count;

    internal bool Holds(string sql) => idle.ContainsKey(sql);

    /// <summary>BEGIN IMMEDIATE: the write lock up front, so that another process's writer queues instead of
    /// failing on lock upgrade half-way through a read-then-write rule check.</summary>
    public SqliteTransaction BeginImmediate() => inner.BeginTransaction(deferred: false);

    public SQLitePCL.sqlite3 Handle => inner.Handle!;

    /// <summary>The compiled statement of <paramref name="sql"/>, bound and stepped by <see cref="BulkInsert"/> itself.</summary>
    public SQLitePCL.sqlite3_stmt Statement(string sql)
    {
        if (perRow.TryGetValue(sql, out var statement)) return statement;
        SqliteException.ThrowExceptionForRC(SQLitePCL.raw.sqlite3_prepare_v2(Handle, sql, out statement), Handle);
        return perRow[sql] = statement;
    }

    /// <summary>Runs <paramref name="sql"/> (no parameters) in <paramref name="tx"/> with its cached statement.</summary>
    public void Execute(string sql, SqliteTransaction tx)
    {
        var command = Rent(sql);
        try
        {
            command.Transaction = tx;
            command.ExecuteNonQuery();
        }
        finally { Return(command); }
    }

    private SqliteCommand Rent(string sql)
    {
        if (!idle.Remove(sql, out var node)) return new SqliteCommand(sql, inner);
        recent.Remove(node);
        return node.Value;
    }

    private void Return(SqliteCommand command)
    {
        command.Parameters.Clear();
        command.Transaction = null;
        // Rented twice at once (a reader still open on the first): keep one.
        if (idle.ContainsKey(command.CommandText)) { command.Dispose(); return; }
        idle[command.CommandText] = recent.AddFirst(command);
        if (idle.Count <= Capacity) return;
        var oldest = recent.Last!;
        recent.RemoveLast();
        idle.Remove(oldest.Value.CommandText);
        oldest.Value.Dispose();
    }

    [AllowNull]
    public override string ConnectionString { get => inner.ConnectionString; set => throw new NotSupportedException(); }
    public override string Database => inner.Database;
    public override string DataSource => inner.DataSource;
    public override string ServerVersion => inner.ServerVersion;
    public override ConnectionState State => inner.State;
    public override void ChangeDatabase(string databaseName) => throw new NotSupportedException();
    public override void Open() { }
    public override void Close() { }
    protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) =>
        throw new NotSupportedException("The SQLite writer owns the transaction.");
    protected override DbCommand CreateDbCommand() => new Command(this);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var command in recent) command.Dispose();
            foreach (var statement in perRow.Values) statement.Dispose();
            perRow.Clear();
            idle.Clear();
            recent.Clear();
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>
    /// Holds its parameters until executed, then runs on the cached command of its text (rented until
    /// it is disposed, so that a reader it returned stays valid).
    /// </summary>
    private sealed class Command(SqliteStatementCache owner) : DbCommand
    {
        private readonly SqliteCommand bag = new();
        private SqliteCommand? rented;

        [AllowNull]
        public override string CommandText { get; set; } = "";
        public override int CommandTimeout { get; set; } = 30;
        public override CommandType CommandType { get; set; } = CommandType.Text;
        public override UpdateRowSource UpdatedRowSource { get; set; }
        public override bool DesignTimeVisible { get; set; }
        protected override DbConnection? DbConnection { get => owner; set { } }
        protected override DbParameterCollection DbParameterCollection => bag.Parameters;
        protected override DbTransaction? DbTransaction { get; set; }
        public override void Cancel() { }
        public override void Prepare() { }
        protected override DbParameter CreateDbParameter() => new SqliteParameter();

        public override int ExecuteNonQuery() => Ready().ExecuteNonQuery();
        public override object? ExecuteScalar() => Ready().ExecuteScalar();
        protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior) => Ready().ExecuteReader(behavior);

        private SqliteCommand Ready()
        {
            if (CommandType != CommandType.Text) throw new NotSupportedException("SQLite runs text commands only.");
            if (rented is not null && rented.CommandText != CommandText) Release();
            rented ??= owner.Rent(CommandText);
            rented.Transaction = (SqliteTransaction?)DbTransaction;
            rented.CommandTimeout = CommandTimeout;
            rented.Parameters.Clear();
            foreach (SqliteParameter p in bag.Parameters) rented.Parameters.Add(p);
            return rented;
        }

        private void Release()
        {
            if (rented is null) return;
            owner.Return(rented);
            rented = null;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Release();
                bag.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
