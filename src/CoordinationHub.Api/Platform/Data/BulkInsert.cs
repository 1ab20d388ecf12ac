using System.Data;
using System.Data.Common;

namespace CoordinationHub.Platform.Data;

/// <summary>
/// Many rows in few statements: multi-row INSERTs with plain ADO.NET parameters (Dapper's
/// parameter bag checks names linearly, quadratic on thousands). A département is ~650 rows.
/// </summary>
public static class BulkInsert
{
    /// <summary>SQL Server takes at most 1,000 rows per statement.</summary>
    private const int MaxRows = 500;

    /// <summary>INSERT of <paramref name="rows"/> rows; the parameter of column c in row i is <c>@c_i</c>.</summary>
    public static string Sql(string table, IReadOnlyList<string> columns, int rows) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)})\nVALUES\n" +
        string.Join(",\n", Enumerable.Range(0, rows).Select(i => "  (" + string.Join(", ", columns.Select(col => $"@{col}_{i}")) + ")"));

    /// <param name="types">The type of each column, sent with null values (PostgreSQL cannot type a column of untyped nulls).</param>
    public static async Task InsertRowsAsync(this Db db, DbConnection c, DbTransaction tx, string table, IReadOnlyList<string> columns,
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
}
