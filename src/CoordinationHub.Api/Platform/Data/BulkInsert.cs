using System.Data;
using System.Data.Common;
using Npgsql;
using NpgsqlTypes;

namespace CoordinationHub.Platform.Data;

/// <summary>
/// Many rows in few round trips, by each provider's fast path: on SQLite one prepared single-row
/// INSERT executed again for every row (no round trip; the statement is compiled once); on
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
        if (db.Dialect.Provider == DatabaseProvider.Sqlite) Prepared(db, c, tx, table, columns, types, list);
        else if (c is NpgsqlConnection npgsql && list.Count >= CopyFrom) await CopyAsync(npgsql, table, columns, types, list, ct);
        else await MultiRowAsync(db, c, tx, table, columns, types, list, ct);
    }

    private static void Prepared(Db db, DbConnection c, DbTransaction tx, string table, IReadOnlyList<string> columns, IReadOnlyList<DbType> types,
        IEnumerable<object?[]> rows)
    {
        using var command = c.CreateCommand();
        command.Transaction = tx;
        command.CommandText = Sql(table, columns, 1);
        var parameters = columns.Select(col => db.Dialect.Parameter(command, $"@{col}_0", null, DbType.String)).ToArray();
        command.Parameters.AddRange(parameters);
        // Microsoft.Data.Sqlite keeps the compiled statement while the text stays the same: executed again, it is only rebound.
        foreach (var row in rows)
        {
            for (var col = 0; col < parameters.Length; col++) db.Dialect.Bind(parameters[col], row[col], types[col]);
            command.ExecuteNonQuery();
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
