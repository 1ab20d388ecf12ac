using CoordinationHub.Platform.Data;
using Dapper;
using Microsoft.Data.Sqlite;

namespace CoordinationHub.Tests.Platform;

/// <summary>The SQLite writer's statement cache, through Dapper as the handlers use it, on a real SQLite database.</summary>
public sealed class SqliteStatementCacheTests : IDisposable
{
    private readonly SqliteConnection inner = new("Data Source=:memory:");
    private readonly SqliteStatementCache cache;

    public SqliteStatementCacheTests()
    {
        inner.Open();
        inner.Execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
        cache = new SqliteStatementCache(inner);
    }

    public void Dispose()
    {
        cache.Dispose();
        inner.Dispose();
    }

    [Fact]
    public async Task One_text_is_one_statement_rebound_with_each_call_parameters()
    {
        using var tx = inner.BeginTransaction();
        for (var i = 1; i <= 3; i++)
            await cache.ExecuteAsync("INSERT INTO t (id, name) VALUES (@id, @name)", new { id = i, name = $"n{i}" }, tx);
        tx.Commit();

        Assert.Equal(["n1", "n2", "n3"], (await cache.QueryAsync<string>("SELECT name FROM t ORDER BY id")).ToArray());
        Assert.Equal(2, cache.Count); // the INSERT and the SELECT
    }

    [Fact]
    public async Task A_text_run_again_while_its_reader_is_open_gets_a_statement_of_its_own()
    {
        inner.Execute("INSERT INTO t (id, name) VALUES (1, 'a'), (2, 'b')");
        const string sql = "SELECT name FROM t WHERE id >= @from ORDER BY id";
        var outer = new List<string>();
        await foreach (var name in cache.QueryUnbufferedAsync<string>(sql, new { from = 1 }))
        {
            outer.Add(name);
            Assert.Equal(["b"], (await cache.QueryAsync<string>(sql, new { from = 2 })).ToArray());
        }
        Assert.Equal(["a", "b"], outer);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public async Task Texts_used_once_push_out_the_oldest_not_the_ones_in_use()
    {
        const string hot = "SELECT COUNT(*) FROM t";
        static string Once(int n) => $"SELECT id FROM t WHERE id > {n}";
        for (var n = 1; n <= SqliteStatementCache.Capacity * 2; n++)
        {
            // A new text each time, as a bulk push's IN lists of every length make them.
            Assert.Empty(await cache.QueryAsync<long>(Once(n)));
            // The hot text first comes when the cache is already full of them.
            if (n > SqliteStatementCache.Capacity) Assert.Equal(0, await cache.ExecuteScalarAsync<long>(hot));
        }
        Assert.Equal(SqliteStatementCache.Capacity, cache.Count);
        Assert.True(cache.Holds(hot));
        Assert.True(cache.Holds(Once(SqliteStatementCache.Capacity * 2)));
        Assert.False(cache.Holds(Once(1)));
    }
}
