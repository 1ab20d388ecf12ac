using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.ApiKeys;

/// <summary>
/// Keys in their last <see cref="WarnWithin"/>: each answer to such a key carries <see cref="Header"/> (when it stops
/// working), and the organisation gets one <c>api-key.expiring</c> event per key (webhook and pull feed), sent by
/// <see cref="ApiKeyExpiryWatch"/> at most an hour after the key entered that window.
/// </summary>
public sealed class ApiKeyExpiry(Db db, IServiceScopeFactory scopes, TimeProvider clock)
{
    public static readonly TimeSpan WarnWithin = TimeSpan.FromDays(14);
    public const string Header = "Api-Key-Expires";

    /// <summary>Marks the answer of a key that expires within the window (an HTTP-date, as <c>Expires</c> is written).</summary>
    public static void Mark(HttpContext http, DateTimeOffset? expiresAt, DateTimeOffset now)
    {
        if (expiresAt is { } at && at - now <= WarnWithin) http.Response.Headers[Header] = at.ToString("R");
    }

    /// <summary>Sends the warning of every key that entered the window and was not warned of yet; returns how many.</summary>
    public async Task<int> WarnAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var due = await db.RetryAsync(async (c, t) => (await c.QueryAsync<Guid>(db.Command(DueSql, new { now, until = now + WarnWithin }, t))).ToList(), ct);
        var warned = 0;
        foreach (var id in due)
        {
            await using var scope = scopes.CreateAsyncScope();
            var changes = scope.ServiceProvider.GetRequiredService<ChangeLog>();
            warned += await db.InTransactionAsync(async (c, tx, t) =>
            {
                if (await c.ExecuteAsync(db.Command(MarkSql, new { id, now }, t, tx)) == 0) return 0; // another instance did
                var row = await c.QuerySingleAsync<ApiKeyStore.ApiKeyRow>(db.Command(RowSql, new { id }, t, tx));
                await changes.RecordAsync(c, tx, "api_key", id, "api-key.expiring", null, row.Audited(), t);
                return 1;
            }, ct);
        }
        return warned;
    }

    private const string DueSql = """
        SELECT id FROM api_key
        WHERE expires_at > @now AND expires_at <= @until AND revoked_at IS NULL AND expiry_warned_at IS NULL
        """;
    private const string MarkSql = "UPDATE api_key SET expiry_warned_at = @now WHERE id = @id AND expiry_warned_at IS NULL";
    private const string RowSql = "SELECT " + ApiKeyRules.Columns + " FROM api_key WHERE id = @id";
}

/// <summary>Sends the expiry warnings once an hour.</summary>
public sealed class ApiKeyExpiryWatch(ApiKeyExpiry expiry, ILogger<ApiKeyExpiryWatch> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1));
        do
        {
            try
            {
                if (await expiry.WarnAsync(stoppingToken) is > 0 and var n) logger.LogInformation("Warned of {Count} expiring API key(s)", n);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Could not send the API key expiry warnings; next try in an hour");
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
