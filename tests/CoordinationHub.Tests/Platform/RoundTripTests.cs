using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Tests.Platform;

/// <summary>Each provider gives back exactly what was written, for the types SQLite has no column type for.</summary>
public abstract class RoundTripTests(ApiFixture fx)
{
    private sealed class Probe
    {
        public Guid Id { get; init; }
        public Guid? Other { get; init; }
        public bool Flag { get; init; }
        public decimal Amount { get; init; }
        public DateOnly Day { get; init; }
        public DateOnly? MaybeDay { get; init; }
        public DateTimeOffset At { get; init; }
    }

    [Fact]
    public async Task Guid_bool_decimal_DateOnly_and_DateTimeOffset_round_trip()
    {
        var table = "probe_" + Guid.NewGuid().ToString("N")[..8];
        var ddl = fx.Provider switch
        {
            DatabaseProvider.Sqlite => $"CREATE TABLE {table} (id TEXT PRIMARY KEY, other TEXT NULL, flag INTEGER NOT NULL, amount TEXT NOT NULL, day TEXT NOT NULL, maybe_day TEXT NULL, at TEXT NOT NULL)",
            _ => $"CREATE TABLE {table} (id uuid PRIMARY KEY, other uuid NULL, flag boolean NOT NULL, amount numeric(14,2) NOT NULL, day date NOT NULL, maybe_day date NULL, at timestamptz NOT NULL)",
        };
        var written = new Probe
        {
            Id = Guid.CreateVersion7(), Other = null, Flag = true, Amount = 12345.67m, Day = new DateOnly(2026, 2, 28), MaybeDay = new DateOnly(2027, 1, 1),
            At = new DateTimeOffset(2026, 3, 1, 8, 15, 30, 123, TimeSpan.FromHours(2)),
        };
        await using var c = await fx.Db.OpenAsync(default);
        await c.ExecuteAsync(ddl);
        await c.ExecuteAsync(fx.Db.Command($"INSERT INTO {table} (id, other, flag, amount, day, maybe_day, at) VALUES (@id, @other, @flag, @amount, @day, @maybeDay, @at)", written, default));
        var read = await c.QuerySingleAsync<Probe>(fx.Db.Command($"SELECT id, other, flag, amount, day, maybe_day, at FROM {table} WHERE id = @id AND day = @day AND at = @at", written, default));

        Assert.Equal(written.Id, read.Id);
        Assert.Null(read.Other);
        Assert.True(read.Flag);
        Assert.Equal(12345.67m, read.Amount);
        Assert.Equal(written.Day, read.Day);
        Assert.Equal(written.MaybeDay, read.MaybeDay);
        Assert.Equal(written.At.UtcDateTime, read.At.UtcDateTime);
        Assert.Equal(TimeSpan.Zero, read.At.Offset);
        await c.ExecuteAsync($"DROP TABLE {table}");
    }
}

[Collection(SqliteCollection.Name)] public sealed class RoundTripTests_Sqlite(SqliteFixture f) : RoundTripTests(f);
[Collection(PostgresCollection.Name)] public sealed class RoundTripTests_Postgres(PostgresFixture f) : RoundTripTests(f);
