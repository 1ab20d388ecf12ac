using System.Data.Common;
using System.Diagnostics;
using Dapper;
using Microsoft.Data.Sqlite;

namespace CoordinationHub.Benchmarks;

/// <summary>
/// The native floor of a push that writes what the API writes (SQLite): a copy of the API's database taken
/// before the national load (<c>VACUUM INTO</c>: the same tables, columns, indexes, triggers and foreign keys,
/// and the referential they point to), into which the rows each push inserted — read back from the API's
/// database by rowid — are inserted again, one prepared INSERT per row, one transaction per push, with
/// no rule, read or serialisation. Informative: the issue's target reads the one-row path.
/// </summary>
/// <remarks>
/// Only what the push's own transaction inserts: the event sequencer, after the commit and in its own
/// transaction, gives each event its position (an UPDATE) and records its audience (<see cref="AfterCommit"/>);
/// those rows are counted, not replayed. UPDATEs are not replayed either (the import job's report, the map
/// generation: one of each per push).
/// </remarks>
public sealed class PushRowsReplay : IAsyncDisposable
{
    /// <summary>Tables the API writes after the push's commit, in another transaction.</summary>
    public static readonly IReadOnlySet<string> AfterCommit = new HashSet<string> { "event_audience" };

    private readonly SqliteConnection api;
    private readonly SqliteConnection copy;
    private readonly string copyFile;
    /// <summary>The tables in an order that writes parents before children (the copy checks foreign keys).</summary>
    private readonly List<string> tables;
    private readonly Dictionary<string, long> counts;
    private Dictionary<string, long> mark;
    private readonly List<Dictionary<string, (long After, long Upto)>> pushes = [];

    private PushRowsReplay(SqliteConnection api, SqliteConnection copy, string copyFile, List<string> tables, Dictionary<string, long> counts,
        Dictionary<string, long> mark) =>
        (this.api, this.copy, this.copyFile, this.tables, this.counts, this.mark) = (api, copy, copyFile, tables, counts, mark);

    /// <summary>Copies the API's database as it is now (before the load) and marks where each table's rows end.</summary>
    public static async Task<PushRowsReplay> CreateAsync(string connectionString, CancellationToken ct)
    {
        var api = new SqliteConnection(new SqliteConnectionStringBuilder(connectionString) { Pooling = false }.ToString());
        await api.OpenAsync(ct);
        var file = new SqliteConnectionStringBuilder(connectionString).DataSource + ".push-rows";
        File.Delete(file);
        await api.ExecuteAsync("VACUUM INTO @file", new { file });
        // As the API opens its database: foreign keys on, write-ahead log (synchronous left at its default, as the API does).
        var copy = new SqliteConnection(
            new SqliteConnectionStringBuilder { DataSource = file, ForeignKeys = true, Pooling = false }.ToString());
        await copy.OpenAsync(ct);
        await copy.ExecuteAsync("PRAGMA journal_mode=WAL");
        var names = (await api.QueryAsync<string>("""
            SELECT name FROM sqlite_master
            WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name NOT LIKE 'bench%'
            ORDER BY name
            """)).ToList();
        var parents = new Dictionary<string, List<string>>();
        foreach (var t in names)
            parents[t] = [.. await api.QueryAsync<string>($"SELECT DISTINCT \"table\" FROM pragma_foreign_key_list('{t}')")];
        var ordered = new List<string>();
        void Visit(string t, int depth)
        {
            if (ordered.Contains(t) || depth > names.Count) return; // the depth stops a cycle; there is none among these tables
            foreach (var p in parents[t].Where(p => p != t && parents.ContainsKey(p))) Visit(p, depth + 1);
            if (!ordered.Contains(t)) ordered.Add(t);
        }
        foreach (var t in names) Visit(t, 0);
        var replay = new PushRowsReplay(api, copy, file, ordered, await CountAsync(api, ordered), []);
        replay.mark = await replay.LastRowidsAsync();
        return replay;
    }

    private static async Task<Dictionary<string, long>> CountAsync(SqliteConnection c, IEnumerable<string> tables)
    {
        var counts = new Dictionary<string, long>();
        foreach (var t in tables) counts[t] = await c.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {t}");
        return counts;
    }

    private async Task<Dictionary<string, long>> LastRowidsAsync()
    {
        var last = new Dictionary<string, long>();
        foreach (var t in tables) last[t] = await api.ExecuteScalarAsync<long>($"SELECT COALESCE(MAX(rowid), 0) FROM {t}");
        return last;
    }

    /// <summary>After a push: the rows it inserted are those past the previous mark (rowids only grow: nothing before is deleted).</summary>
    public async Task MarkPushAsync()
    {
        var now = await LastRowidsAsync();
        pushes.Add(tables.Where(t => now[t] > mark[t]).ToDictionary(t => t, t => (mark[t], now[t])));
        mark = now;
    }

    /// <summary>Rows added per table over the load (COUNT before and after), largest first.</summary>
    public async Task<List<(string Table, long Rows)>> RowsAddedAsync()
    {
        var after = await CountAsync(api, tables);
        return [.. tables.Select(t => (t, after[t] - counts[t])).Where(x => x.Item2 != 0).OrderByDescending(x => x.Item2)];
    }

    /// <summary>Inserts each push's rows again into the copy; returns the time spent inside the transactions and the rows written.</summary>
    public async Task<(TimeSpan Elapsed, long Rows)> ReplayAsync(CancellationToken ct)
    {
        var (elapsed, written) = (TimeSpan.Zero, 0L);
        foreach (var push in pushes)
        {
            // Read before the clock starts.
            var rows = new List<(string Table, string[] Columns, List<object[]> Rows)>();
            foreach (var (t, (after, upto)) in push.Where(p => !AfterCommit.Contains(p.Key)).OrderBy(p => tables.IndexOf(p.Key)))
            {
                await using var read = api.CreateCommand();
                read.CommandText = $"SELECT * FROM {t} WHERE rowid > {after} AND rowid <= {upto} ORDER BY rowid";
                await using var reader = await read.ExecuteReaderAsync(ct);
                var columns = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
                var list = new List<object[]>();
                while (await reader.ReadAsync(ct))
                {
                    var values = new object[columns.Length];
                    reader.GetValues(values);
                    list.Add(values);
                }
                rows.Add((t, columns, list));
                written += list.Count;
            }
            var watch = Stopwatch.StartNew();
            await using var tx = (SqliteTransaction)await copy.BeginTransactionAsync(ct);
            foreach (var (t, columns, list) in rows)
            {
                await using var insert = copy.CreateCommand();
                insert.Transaction = tx;
                var values = string.Join(", ", columns.Select((_, i) => $"@p{i}"));
                insert.CommandText = $"INSERT INTO {t} ({string.Join(", ", columns)}) VALUES ({values})";
                var parameters = columns.Select((_, i) => insert.Parameters.Add(new SqliteParameter { ParameterName = $"@p{i}" })).ToArray();
                insert.Prepare();
                foreach (var row in list)
                {
                    for (var i = 0; i < parameters.Length; i++) parameters[i].Value = row[i];
                    insert.ExecuteNonQuery();
                }
            }
            await tx.CommitAsync(ct);
            elapsed += watch.Elapsed;
        }
        return (elapsed, written);
    }

    public async ValueTask DisposeAsync()
    {
        await copy.DisposeAsync();
        await api.DisposeAsync();
        foreach (var suffix in new[] { "", "-wal", "-shm" }) File.Delete(copyFile + suffix);
    }
}
