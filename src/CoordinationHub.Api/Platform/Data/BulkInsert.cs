using System.Data;
using System.Data.Common;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;
using SQLitePCL;

namespace CoordinationHub.Platform.Data;

/// <summary>
/// Many rows in few round trips, by each provider's fast path: on SQLite one prepared single-row
/// INSERT executed again for every row (no round trip; the statement is compiled once, and on the
/// writer's connection bound by position with SQLite's own calls); on
/// PostgreSQL binary COPY beyond a few rows; elsewhere (SQL Server, small PostgreSQL batches)
/// multi-row INSERTs with plain ADO.NET parameters (Dapper's parameter bag checks names linearly,
/// quadratic on thousands).
/// </summary>
public static class BulkInsert
{
    /// <summary>SQL Server takes at most 1,000 rows per statement.</summary>
    private const int MaxRows = 500;
    /// <summary>Below this many rows a multi-row INSERT is one round trip, COPY three.</summary>
    private const int CopyFrom = 64;

    /// <summary>INSERT of <paramref name="rows"/> rows; the parameter of column c in row i is <c>@c_i</c>.</summary>
    public static string Sql(string table, IReadOnlyList<string> columns, int rows) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)})\nVALUES\n" +
        string.Join(",\n", Enumerable.Range(0, rows).Select(i => "  (" + string.Join(", ", columns.Select(col => $"@{col}_{i}")) + ")"));

    /// <param name="types">The type of each column, sent with null values (PostgreSQL cannot type a column of untyped nulls).</param>
    public static async Task InsertRowsAsync(this Db db, DbConnection c, DbTransaction tx, string table, IReadOnlyList<string> columns,
        IReadOnlyList<DbType> types, IEnumerable<object?[]> rows, CancellationToken ct)
    {
        var list = rows as IReadOnlyCollection<object?[]> ?? rows.ToList();
        if (list.Count == 0) return;
        if (db.Dialect.Provider == DatabaseProvider.Sqlite)
            await db.ExecuteRowsAsync(c, tx, Sql(table, columns, 1), [.. columns.Select(col => $"@{col}_0")], types, list, ct);
        else if (c is NpgsqlConnection npgsql && list.Count >= CopyFrom) await CopyAsync(npgsql, table, columns, types, list, ct);
        else await MultiRowAsync(db, c, tx, table, columns, types, list, ct);
    }

    /// <summary>
    /// One statement executed once per row (a one-row INSERT, an UPDATE by key): on the SQLite writer's connection
    /// bound by position on its compiled statement (<see cref="Bound"/>), elsewhere one prepared command rebound
    /// for every row. <paramref name="parameters"/> names the statement's parameters in the order of a row's values.
    /// </summary>
    public static async Task ExecuteRowsAsync(this Db db, DbConnection c, DbTransaction tx, string sql, IReadOnlyList<string> parameters,
        IReadOnlyList<DbType> types, IReadOnlyCollection<object?[]> rows, CancellationToken ct)
    {
        if (rows.Count == 0) return;
        sql = db.Dialect.Render(sql);
        if (c is SqliteStatementCache writer)
        {
            Bound(writer, sql, parameters, rows);
            return;
        }
        await using var command = c.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        var bound = parameters.Select((name, i) => db.Dialect.Parameter(command, name, null, types[i])).ToArray();
        command.Parameters.AddRange(bound);
        // Microsoft.Data.Sqlite keeps the compiled statement while the text stays the same: executed again, it is only rebound.
        foreach (var row in rows)
        {
            for (var i = 0; i < bound.Length; i++) db.Dialect.Bind(bound[i], row[i], types[i]);
            await command.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>
    /// The SQLite writer's rows, bound with SQLitePCL's calls on a statement compiled once per connection.
    /// Through Microsoft.Data.Sqlite each execution looked every parameter up by name and made new UTF-8 arrays of
    /// its name and value, and a reader; a pushed record binds about 60 values (its 8 rows). The values stored are the
    /// same as <see cref="SqliteDialect"/> gives Microsoft.Data.Sqlite: ids, dates and instants as text, formatted
    /// here straight into UTF-8 on the stack. The writer holds the write lock (BEGIN IMMEDIATE): a step is never busy.
    /// </summary>
    private static void Bound(SqliteStatementCache c, string sql, IReadOnlyList<string> parameters, IEnumerable<object?[]> rows)
    {
        var statement = c.Statement(sql);
        var index = parameters.Select(p => raw.sqlite3_bind_parameter_index(statement, p) is > 0 and var i
            ? i : throw new ArgumentException($"The statement has no parameter {p}: {sql}")).ToArray();
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1024);
        try
        {
            foreach (var row in rows)
            {
                try
                {
                    for (var p = 0; p < index.Length; p++)
                        SqliteException.ThrowExceptionForRC(Bind(statement, index[p], row[p], ref buffer, sql, parameters[p]), c.Handle);
                    var rc = raw.sqlite3_step(statement);
                    if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, c.Handle);
                }
                finally
                {
                    raw.sqlite3_reset(statement);
                }
            }
        }
        finally
        {
            raw.sqlite3_clear_bindings(statement);
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int Bind(sqlite3_stmt s, int i, object? value, ref byte[] buffer, string sql, string parameter)
    {
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        Span<byte> utf8 = stackalloc byte[40];
        int n;
        switch (value)
        {
            case null or DBNull: return raw.sqlite3_bind_null(s, i);
            case string text:
                if (Encoding.UTF8.GetMaxByteCount(text.Length) > buffer.Length)
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                    buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(text.Length));
                }
                return raw.sqlite3_bind_text(s, i, buffer.AsSpan(0, Encoding.UTF8.GetBytes(text, buffer)));
            case Guid g: g.TryFormat(utf8, out n); return raw.sqlite3_bind_text(s, i, utf8[..n]);
            case DateOnly d: d.TryFormat(utf8, out n, TypeHandlers.DateFormat, invariant); return raw.sqlite3_bind_text(s, i, utf8[..n]);
            case DateTimeOffset t:
                t.UtcDateTime.TryFormat(utf8, out n, TypeHandlers.InstantFormat, invariant);
                return raw.sqlite3_bind_text(s, i, utf8[..n]);
            case int v: return raw.sqlite3_bind_int64(s, i, v);
            case long v: return raw.sqlite3_bind_int64(s, i, v);
            case bool b: return raw.sqlite3_bind_int64(s, i, b ? 1 : 0);
            case double v: return raw.sqlite3_bind_double(s, i, v);
            case decimal m: m.TryFormat(utf8, out n, default, invariant); return raw.sqlite3_bind_text(s, i, utf8[..n]);
            case byte[] blob: return raw.sqlite3_bind_blob(s, i, blob);
            default: throw new NotSupportedException($"No SQLite binding for {value.GetType().Name} ({parameter} of {sql}).");
        }
    }

    private static async Task MultiRowAsync(Db db, DbConnection c, DbTransaction tx, string table, IReadOnlyList<string> columns,
        IReadOnlyList<DbType> types, IEnumerable<object?[]> rows, CancellationToken ct)
    {
        foreach (var batch in rows.Chunk(Math.Max(1, Math.Min(MaxRows, db.Dialect.BulkParameters / columns.Count))))
        {
            await using var command = c.CreateCommand();
            command.Transaction = tx;
            command.CommandText = Sql(table, columns, batch.Length);
            for (var i = 0; i < batch.Length; i++)
                for (var col = 0; col < columns.Count; col++)
                    command.Parameters.Add(db.Dialect.Parameter(command, $"@{columns[col]}_{i}", batch[i][col], types[col]));
            await command.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>Binary COPY, inside the connection's transaction: the rows are typed by their CLR values, nulls by <paramref name="types"/>.</summary>
    private static async Task CopyAsync(NpgsqlConnection c, string table, IReadOnlyList<string> columns, IReadOnlyList<DbType> types,
        IEnumerable<object?[]> rows, CancellationToken ct)
    {
        await using var copy = await c.BeginBinaryImportAsync($"COPY {table} ({string.Join(", ", columns)}) FROM STDIN (FORMAT BINARY)", ct);
        foreach (var row in rows)
        {
            await copy.StartRowAsync(ct);
            for (var col = 0; col < columns.Count; col++)
            {
                var task = row[col] switch
                {
                    null => copy.WriteNullAsync(ct),
                    Guid g => copy.WriteAsync(g, NpgsqlDbType.Uuid, ct),
                    string s => copy.WriteAsync(s, NpgsqlDbType.Text, ct),
                    int i => copy.WriteAsync(i, types[col] == DbType.Int64 ? NpgsqlDbType.Bigint : NpgsqlDbType.Integer, ct),
                    long l => copy.WriteAsync(l, NpgsqlDbType.Bigint, ct),
                    DateOnly d => copy.WriteAsync(d, NpgsqlDbType.Date, ct),
                    DateTimeOffset t => copy.WriteAsync(t.ToUniversalTime(), NpgsqlDbType.TimestampTz, ct),
                    bool b => copy.WriteAsync(b, NpgsqlDbType.Boolean, ct),
                    decimal m => copy.WriteAsync(m, NpgsqlDbType.Numeric, ct),
                    var other => throw new NotSupportedException($"COPY {table}.{columns[col]}: no binary mapping for {other.GetType().Name}."),
                };
                await task;
            }
        }
        await copy.CompleteAsync(ct);
    }
}
