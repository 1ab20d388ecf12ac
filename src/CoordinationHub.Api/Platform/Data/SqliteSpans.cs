using System.Diagnostics;

namespace CoordinationHub.Platform.Data;

/// <summary>
/// A span per SQLite statement, made after the fact from SQLite's profile callback (statement text, as written with its
/// <c>@parameters</c>, never their values; and its duration), under the span of the operation that ran it. Microsoft.Data.Sqlite
/// has no instrumentation of its own. Outside a traced operation it costs the callback and one read of Activity.Current.
/// </summary>
public static class SqliteSpans
{
    public static readonly SQLitePCL.strdelegate_profile Profile = Record;

    private static void Record(object userData, string statement, long nanoseconds)
    {
        if (Activity.Current is not { Recorded: true }) return;
        var end = DateTimeOffset.UtcNow;
        using var activity = Telemetry.Source.StartActivity(ActivityKind.Client, default, null, null,
            end - TimeSpan.FromTicks(nanoseconds / 100), Operation(statement));
        if (activity is null) return;
        activity.SetTag("db.system.name", "sqlite");
        activity.SetTag("db.query.text", statement.Length <= 2000 ? statement : statement[..2000]);
        activity.SetEndTime(end.UtcDateTime);
    }

    /// <summary>The statement's first word (SELECT, INSERT…), the span's name.</summary>
    private static string Operation(string sql)
    {
        var s = sql.AsSpan().TrimStart();
        var end = s.IndexOfAny(' ', '\n', '\r');
        return "sqlite " + (end < 0 ? s : s[..end]).ToString().ToUpperInvariant();
    }
}
