using System.Data;
using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;

namespace CoordinationHub.Platform.Data;

/// <summary>
/// SQLite has no uuid, date, timestamp or decimal type: it hands back strings. These handlers
/// convert in both directions, and pass values untouched to PostgreSQL and SQL Server.
/// SQLite instants are stored as fixed-width UTC text, so text order is time order.
/// </summary>
public static class TypeHandlers
{
    private static int registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref registered, 1) == 1) return;
        DefaultTypeMap.MatchNamesWithUnderscores = true;
        // Dapper maps these types itself and would skip the handlers unless they leave its type map.
        foreach (var type in new[] { typeof(Guid), typeof(DateTimeOffset), typeof(DateOnly), typeof(decimal) })
        {
            SqlMapper.RemoveTypeMap(type);
            SqlMapper.RemoveTypeMap(typeof(Nullable<>).MakeGenericType(type));
        }
        SqlMapper.AddTypeHandler(new GuidHandler());
        SqlMapper.AddTypeHandler(new DateTimeOffsetHandler());
        SqlMapper.AddTypeHandler(new DateOnlyHandler());
        SqlMapper.AddTypeHandler(new DecimalHandler());
    }

    public const string InstantFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";
    public const string DateFormat = "yyyy-MM-dd";

    /// <summary>A parameter's value as SQLite stores it: what the handlers below set, enums as their number (as Dapper does).</summary>
    public static object ToSqlite(object? value) => value switch
    {
        null => DBNull.Value,
        Guid g => g.ToString(),
        DateTimeOffset d => Instant(d),
        DateOnly d => Date(d),
        decimal m => Number(m),
        Enum e => Convert.ChangeType(e, Enum.GetUnderlyingType(e.GetType()), CultureInfo.InvariantCulture),
        _ => value,
    };

    /// <summary>The types <see cref="ToSqlite"/> takes (nullable or not); others go through Dapper's parameters.</summary>
    public static bool IsSqliteValue(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsEnum || t == typeof(string) || t == typeof(Guid) || t == typeof(DateTimeOffset) || t == typeof(DateOnly)
            || t == typeof(decimal) || t == typeof(bool) || t == typeof(int) || t == typeof(long) || t == typeof(short)
            || t == typeof(double) || t == typeof(byte[]);
    }

    private static string Instant(DateTimeOffset value) => value.UtcDateTime.ToString(InstantFormat, CultureInfo.InvariantCulture);
    private static string Date(DateOnly value) => value.ToString(DateFormat, CultureInfo.InvariantCulture);
    private static string Number(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    private sealed class GuidHandler : SqlMapper.TypeHandler<Guid>
    {
        public override void SetValue(IDbDataParameter parameter, Guid value)
        {
            if (parameter is SqliteParameter) { parameter.DbType = DbType.String; parameter.Value = value.ToString(); }
            else { parameter.DbType = DbType.Guid; parameter.Value = value; }
        }

        public override Guid Parse(object value) => value switch
        {
            Guid g => g,
            string s => Guid.Parse(s),
            byte[] b => new Guid(b),
            _ => throw new DataException($"Cannot read {value.GetType()} as Guid"),
        };
    }

    private sealed class DateTimeOffsetHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override void SetValue(IDbDataParameter parameter, DateTimeOffset value)
        {
            if (parameter is SqliteParameter) { parameter.DbType = DbType.String; parameter.Value = Instant(value); }
            else { parameter.DbType = DbType.DateTimeOffset; parameter.Value = value.ToUniversalTime(); }
        }

        public override DateTimeOffset Parse(object value) => value switch
        {
            DateTimeOffset d => d.ToUniversalTime(),
            DateTime d => new DateTimeOffset(DateTime.SpecifyKind(d, DateTimeKind.Utc)),
            string s => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
            _ => throw new DataException($"Cannot read {value.GetType()} as DateTimeOffset"),
        };
    }

    private sealed class DateOnlyHandler : SqlMapper.TypeHandler<DateOnly>
    {
        public override void SetValue(IDbDataParameter parameter, DateOnly value)
        {
            if (parameter is SqliteParameter) { parameter.DbType = DbType.String; parameter.Value = Date(value); }
            else { parameter.DbType = DbType.Date; parameter.Value = value; }
        }

        public override DateOnly Parse(object value) => value switch
        {
            DateOnly d => d,
            DateTime d => DateOnly.FromDateTime(d),
            string s => DateOnly.ParseExact(s[..10], DateFormat, CultureInfo.InvariantCulture),
            _ => throw new DataException($"Cannot read {value.GetType()} as DateOnly"),
        };
    }

    private sealed class DecimalHandler : SqlMapper.TypeHandler<decimal>
    {
        public override void SetValue(IDbDataParameter parameter, decimal value)
        {
            // Text keeps every digit in SQLite; REAL would round cents.
            if (parameter is SqliteParameter) { parameter.DbType = DbType.String; parameter.Value = Number(value); }
            else { parameter.DbType = DbType.Decimal; parameter.Value = value; }
        }

        public override decimal Parse(object value) => value switch
        {
            decimal d => d,
            string s => decimal.Parse(s, NumberStyles.Number, CultureInfo.InvariantCulture),
            double d => (decimal)d,
            long l => l,
            _ => Convert.ToDecimal(value, CultureInfo.InvariantCulture),
        };
    }
}
