using System.Security.Cryptography;
using System.Text;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;

namespace CoordinationHub.Platform.Http;

/// <summary>
/// <c>Idempotency-Key</c> on POST: the first response (any status below 500) is stored per
/// API key; the same key with the same request replays it, with another request answers 422,
/// and while the first is still running answers 409. Records are kept for <see cref="KeepFor"/>.
/// A response may carry a person's data: it is stored sealed, and the request is known by a keyed hash.
/// </summary>
public sealed class Idempotency(RequestDelegate next, Db db, TimeProvider clock, ILogger<Idempotency> logger, Security.PersonCipher cipher)
{
    public const string Header = "Idempotency-Key";
    public static readonly TimeSpan KeepFor = TimeSpan.FromHours(24);

    /// <summary>
    /// Marks an endpoint whose answer must not wait for SQLite's single writer (a push queued while another push holds
    /// it): there, its key is claimed in memory (SQLite is one process) and recorded in the database after the answer.
    /// </summary>
    public sealed class AnswersBeforeTheWriter;

    /// <summary>Claims and answers not recorded yet, by API key and Idempotency-Key.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(Guid, string), Pending> pending = new();

    private sealed class Pending(string requestHash)
    {
        public string RequestHash { get; } = requestHash;
        public StoredResponse? Response { get; set; }
    }

    public async Task InvokeAsync(HttpContext http, Caller caller)
    {
        var key = http.Request.Headers[Header].ToString();
        if (!HttpMethods.IsPost(http.Request.Method) || key.Length == 0 || !caller.IsAuthenticated)
        {
            await next(http);
            return;
        }
        if (key.Length > 100 || key.Any(c => c < 0x21 || c > 0x7e))
            throw new BadRequestException("invalid-idempotency-key", "Idempotency-Key must be 1 to 100 visible ASCII characters (a UUID is a good choice).");

        var hash = await HashAsync(http.Request, cipher);
        var ct = http.RequestAborted;
        var now = clock.GetUtcNow();
        var record = new { apiKeyId = caller.KeyId, idempotencyKey = key, requestHash = hash, createdAt = now, expiredBefore = now - KeepFor };
        var inMemory = db.Dialect.Provider == DatabaseProvider.Sqlite && http.GetEndpoint()?.Metadata.GetMetadata<AnswersBeforeTheWriter>() is not null;

        if (inMemory ? !await TryClaimInMemoryAsync(caller.KeyId, key, hash, ct) : !await TryClaimAsync(record, ct))
        {
            var stored = (pending.TryGetValue((caller.KeyId, key), out var claimed)
                    ? claimed.Response ?? new StoredResponse { RequestHash = claimed.RequestHash }
                    : null)
                ?? await db.RetryAsync((c, t) => c.QuerySingleOrDefaultAsync<StoredResponse>(db.Command(SelectSql, record, t)), ct)
                ?? throw new ConflictException("idempotency-in-progress", "A request with this Idempotency-Key is being processed; retry shortly.");
            if (stored.RequestHash.Trim() != hash)
                throw new RuleException("idempotency-key-reused", "This Idempotency-Key was already used with a different request. Use a new key for a new request.");
            if (stored.StatusCode is null)
                throw new ConflictException("idempotency-in-progress", "A request with this Idempotency-Key is being processed; retry shortly.");
            var body = Security.PersonCipher.IsSealed(stored.Body) ? cipher.Open(stored.Body!, Context(caller.KeyId, key)) : stored.Body;
            // A replay serves the person's data again: the referrals the first answer logged are logged again.
            if (stored.ServedReferrals is { Length: > 0 } served)
                await http.RequestServices.GetRequiredService<Features.PersonalData.PersonAccess>()
                    .RecordAsync(served.Split(',').Select(Guid.Parse), ct);
            await ReplayAsync(http, stored, body);
            return;
        }

        var original = http.Response.Body;
        using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        var completed = false;
        try
        {
            await next(http);
            completed = true;
        }
        finally
        {
            http.Response.Body = original;
            if (inMemory) Record(caller.KeyId, key, hash, now, completed ? http : null, buffer);
            else if (completed && http.Response.StatusCode < 500)
            {
                await db.RetryAsync((c, t) => c.ExecuteAsync(db.Command(CompleteSql, new
                {
                    record.apiKeyId, record.idempotencyKey, statusCode = http.Response.StatusCode,
                    contentType = http.Response.ContentType, location = http.Response.Headers.Location.ToString(),
                    body = cipher.Seal(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length), Context(record.apiKeyId, key)),
                    servedReferrals = Served(http),
                }, t)), CancellationToken.None);
            }
            else
            {
                // Failed or crashed: forget the key so that the client may retry.
                await db.RetryAsync((c, t) => c.ExecuteAsync(db.Command(DeleteSql, record, t)), CancellationToken.None);
            }
            buffer.Position = 0;
            if (completed) await buffer.CopyToAsync(original, ct);
        }
    }

    /// <summary>Claimed here unless claimed in memory already or recorded in the database (read without the writer).</summary>
    private async Task<bool> TryClaimInMemoryAsync(Guid apiKeyId, string key, string hash, CancellationToken ct)
    {
        if (pending.ContainsKey((apiKeyId, key))) return false;
        var now = clock.GetUtcNow();
        var stored = await db.RetryAsync((c, t) => c.QuerySingleOrDefaultAsync<StoredResponse>(db.Command(SelectUnexpiredSql,
            new { apiKeyId, idempotencyKey = key, expiredBefore = now - KeepFor }, t)), ct);
        return stored is null && pending.TryAdd((apiKeyId, key), new Pending(hash));
    }

    /// <summary>
    /// The answer kept in memory for a replay, then recorded through the writer once it is free; a failed request
    /// forgets its claim. A crash before the record loses it: a retry is then applied again (a push of the same content
    /// changes nothing).
    /// </summary>
    private void Record(Guid apiKeyId, string key, string hash, DateTimeOffset createdAt, HttpContext? http, MemoryStream buffer)
    {
        if (http is null || http.Response.StatusCode >= 500)
        {
            pending.TryRemove((apiKeyId, key), out _);
            return;
        }
        var response = new StoredResponse
        {
            RequestHash = hash, StatusCode = http.Response.StatusCode, ContentType = http.Response.ContentType,
            Location = http.Response.Headers.Location.ToString(),
            Body = cipher.Seal(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length), Context(apiKeyId, key)),
        };
        pending[(apiKeyId, key)].Response = response;
        _ = Task.Run(async () =>
        {
            try
            {
                await db.InTransactionAsync(async (c, tx, t) =>
                {
                    await c.ExecuteAsync(db.Command(DeleteExpiredSql, new { apiKeyId, idempotencyKey = key, expiredBefore = createdAt - KeepFor }, t, tx));
                    await c.ExecuteAsync(db.Command(InsertSql, new { apiKeyId, idempotencyKey = key, requestHash = hash, createdAt }, t, tx));
                    return await c.ExecuteAsync(db.Command(CompleteSql, new
                    {
                        apiKeyId, idempotencyKey = key, statusCode = response.StatusCode, contentType = response.ContentType,
                        location = response.Location, body = response.Body, servedReferrals = (string?)null,
                    }, t, tx));
                }, CancellationToken.None);
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Could not record an idempotent answer");
            }
            finally
            {
                pending.TryRemove((apiKeyId, key), out _);
            }
        });
    }

    private async Task<bool> TryClaimAsync(object record, CancellationToken ct)
    {
        try
        {
            return await db.InTransactionAsync(async (c, tx, t) =>
            {
                await c.ExecuteAsync(db.Command(DeleteExpiredSql, record, t, tx));
                await c.ExecuteAsync(db.Command(InsertSql, record, t, tx));
                return true;
            }, ct);
        }
        catch (Exception e) when (db.Dialect.IsUniqueViolation(e))
        {
            logger.LogDebug("Idempotency key already claimed");
            return false;
        }
    }

    /// <summary>The referrals whose reads this request logged (a 2xx answer only: nothing else is served).</summary>
    private static string? Served(HttpContext http) =>
        http.Response.StatusCode is >= 200 and < 300 && http.RequestServices.GetRequiredService<Features.PersonalData.AccessContext>().Logged is { Count: > 0 } logged
            ? string.Join(',', logged) : null;

    private static string Context(Guid apiKeyId, string key) => $"idempotency:{apiKeyId}:{key}";

    private static async Task<string> HashAsync(HttpRequest request, Security.PersonCipher cipher)
    {
        request.EnableBuffering();
        using var sha = cipher.KeyedHash();
        sha.AppendData(Encoding.UTF8.GetBytes($"{request.Method} {request.Path}{request.QueryString}\n"));
        var chunk = new byte[16384];
        int n;
        while ((n = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0) sha.AppendData(chunk, 0, n);
        request.Body.Position = 0;
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static async Task ReplayAsync(HttpContext http, StoredResponse stored, string? body)
    {
        http.Response.StatusCode = stored.StatusCode!.Value;
        http.Response.Headers["Idempotent-Replayed"] = "true";
        if (!string.IsNullOrEmpty(stored.Location)) http.Response.Headers.Location = stored.Location;
        if (!string.IsNullOrEmpty(stored.ContentType)) http.Response.ContentType = stored.ContentType;
        if (!string.IsNullOrEmpty(body)) await http.Response.WriteAsync(body, http.RequestAborted);
    }

    private sealed class StoredResponse
    {
        public string RequestHash { get; init; } = "";
        public int? StatusCode { get; init; }
        public string? ContentType { get; init; }
        public string? Location { get; init; }
        public string? Body { get; init; }
        public string? ServedReferrals { get; init; }
    }

    private const string DeleteExpiredSql = """
        DELETE FROM idempotency_record
        WHERE api_key_id = @apiKeyId AND idempotency_key = @idempotencyKey AND created_at < @expiredBefore
        """;
    private const string InsertSql = """
        INSERT INTO idempotency_record (api_key_id, idempotency_key, request_hash, created_at)
        VALUES (@apiKeyId, @idempotencyKey, @requestHash, @createdAt)
        """;
    private const string SelectUnexpiredSql = """
        SELECT request_hash, status_code, content_type, location, body, served_referrals
        FROM idempotency_record WHERE api_key_id = @apiKeyId AND idempotency_key = @idempotencyKey AND created_at >= @expiredBefore
        """;
    private const string SelectSql = """
        SELECT request_hash, status_code, content_type, location, body, served_referrals
        FROM idempotency_record WHERE api_key_id = @apiKeyId AND idempotency_key = @idempotencyKey
        """;
    private const string CompleteSql = """
        UPDATE idempotency_record
        SET status_code = @statusCode, content_type = @contentType, location = @location, body = @body,
            served_referrals = @servedReferrals
        WHERE api_key_id = @apiKeyId AND idempotency_key = @idempotencyKey
        """;
    private const string DeleteSql = "DELETE FROM idempotency_record WHERE api_key_id = @apiKeyId AND idempotency_key = @idempotencyKey";
}
