using System.Diagnostics;

namespace CoordinationHub.Platform.Data;

/// <summary>
/// A database outage is a condition, not a flood of errors: its start is logged once (a warning, no stack trace), every
/// request refused meanwhile is counted (<c>coordinationhub.database.refusals</c>), and its end is logged once with
/// its duration, at the first unit of work that succeeds again (a pooled connection opening proves nothing).
/// </summary>
public sealed class DatabaseOutage(SqlDialect dialect, ILogger logger)
{
    private long startedAt; // Stopwatch timestamp; 0 while the database answers
    private long refused;

    public bool Down => Volatile.Read(ref startedAt) != 0;

    /// <summary>Whether <paramref name="e"/> says the database cannot be reached; if so, the outage is noted (logged when it starts).</summary>
    public bool Observe(Exception e)
    {
        if (!IsUnreachable(e)) return false;
        var now = Stopwatch.GetTimestamp();
        if (Interlocked.CompareExchange(ref startedAt, now, 0) == 0)
            logger.LogWarning("The database is unreachable ({Error}); requests are answered 503 until it is back", Describe(e));
        return true;
    }

    /// <summary>A request refused because of the outage.</summary>
    public void Refused()
    {
        Interlocked.Increment(ref refused);
        Telemetry.DatabaseRefusals.Add(1);
    }

    /// <summary>Called after each unit of work that reached the database: ends the outage, if there was one.</summary>
    public void Reachable()
    {
        if (Volatile.Read(ref startedAt) == 0) return;
        var started = Interlocked.Exchange(ref startedAt, 0);
        if (started == 0) return;
        logger.LogWarning("The database is reachable again after {Seconds:0.0} s; {Refused} requests were refused meanwhile",
            Stopwatch.GetElapsedTime(started).TotalSeconds, Interlocked.Exchange(ref refused, 0));
    }

    private bool IsUnreachable(Exception e) =>
        dialect.IsUnavailable(e) || e is TimeoutException || (e.InnerException is { } inner && inner != e && IsUnreachable(inner));

    /// <summary>The exception's kind and message, and its cause's: what failed, without the stack (the same every time).</summary>
    private static string Describe(Exception e) =>
        e.InnerException is { } inner ? $"{e.GetType().Name}: {e.Message} ← {inner.GetType().Name}: {inner.Message}" : $"{e.GetType().Name}: {e.Message}";
}
