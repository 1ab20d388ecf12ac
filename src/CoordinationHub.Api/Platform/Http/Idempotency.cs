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
/// The request is known by a keyed hash. A stored answer that carried a person is sealed with the data key of
/// each referral it carried (one layer each): once erasure or purge destroys one of those keys, the record no
/// longer opens and a replay answers 409 <c>idempotency-replay-erased</c>. Other answers are sealed with the
/// platform's data key.
/// </summary>
public sealed class Idempotency(RequestDelegate next, Db db, TimeProvider clock, ILogger<Idempotency> logger, Security.PersonCipher cipher,
    Security.DataKeys keys)
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
            var served = Served(stored);
            var body = await OpenAsync(stored.Body, served, Context(caller.KeyId, key), ct)
                ?? throw new ConflictException("idempotency-replay-erased",
                    "The answer to this Idempotency-Key carried a person whose data was since erased or purged: it is not served again. "
                    + "The request was carried out; read the resource itself.");
            // A replay serves the person's data again: the referrals the first answer logged are logged again.
            if (served.Count > 0)
                await http.RequestServices.GetRequiredService<Features.PersonalData.PersonAccess>().RecordAsync(served, ct);
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
            if (inMemory)
                // Such an answer carries no person: it is sealed with the platform's key, as the database path seals it.
                Record(caller.KeyId, key, hash, now, completed ? http : null, completed && http.Response.StatusCode < 500
                    ? await keys.SealPlatformAsync(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length),
                        Context(caller.KeyId, key), CancellationToken.None)
                    : null);
            else if (completed && http.Response.StatusCode < 500)
            {
                var servedReferrals = Served(http);
                var text = Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
                await db.RetryAsync(async (c, t) => await c.ExecuteAsync(db.Command(CompleteSql, new
                {
                    record.apiKeyId, record.idempotencyKey, statusCode = http.Response.StatusCode,
                    contentType = http.Response.ContentType, location = http.Response.Headers.Location.ToString(),
                    etag = http.Response.Headers.ETag.ToString(),
                    body = await SealAsync(keys, c, null, text, servedReferrals, Context(record.apiKeyId, key), t),
                    servedReferrals = servedReferrals.Count == 0 ? null : string.Join(',', servedReferrals),
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
    private void Record(Guid apiKeyId, string key, string hash, DateTimeOffset createdAt, HttpContext? http, string? sealedBody)
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
            ETag = http.Response.Headers.ETag.ToString(),
            Body = sealedBody,
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
                        location = response.Location, etag = response.ETag, body = response.Body, servedReferrals = (string?)null,
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
    private static IReadOnlyList<Guid> Served(HttpContext http) =>
        http.Response.StatusCode is >= 200 and < 300 && http.RequestServices.GetRequiredService<Features.PersonalData.AccessContext>().Logged is { Count: > 0 } logged
            ? logged.Order().ToList() : [];

    private static IReadOnlyList<Guid> Served(StoredResponse stored) =>
        stored.ServedReferrals is { Length: > 0 } served ? served.Split(',').Select(Guid.Parse).ToList() : [];

    /// <summary>
    /// The answer sealed with the data key of each referral it carried, one layer each, or with the platform's key when it carried
    /// none. A referral without a key (erased between the answer and now) leaves no body: the replay answers 409.
    /// </summary>
    private static async Task<string?> SealAsync(Security.DataKeys keys, System.Data.Common.DbConnection c,
        System.Data.Common.DbTransaction? tx, string body, IReadOnlyList<Guid> served, string context,
        CancellationToken ct)
    {
        if (served.Count == 0) return Security.PersonCipher.Seal(await keys.PlatformAsync(c, tx, ct), body, context);
        var found = await keys.FindManyAsync(c, tx, served, ct);
        if (served.Any(id => !found.ContainsKey(id))) return null;
        foreach (var id in served) body = Security.PersonCipher.Seal(found[id], body, $"{context}:{id}");
        return body;
    }

    /// <summary>The stored answer, or null when a data key it was sealed with is gone.</summary>
    private async Task<string?> OpenAsync(string? body, IReadOnlyList<Guid> served, string context, CancellationToken ct)
    {
        if (body is null) return served.Count > 0 ? null : "";
        if (Security.PersonCipher.IsLegacy(body)) return cipher.Open(null, body, context);
        if (!Security.PersonCipher.IsSealed(body)) return body;
        return await db.RetryAsync(async (c, t) =>
        {
            if (served.Count == 0) return cipher.Open(await keys.PlatformAsync(c, null, t), body, context);
            var found = await keys.FindManyAsync(c, null, served, t);
            if (served.Any(id => !found.ContainsKey(id))) return null;
            try
            {
                foreach (var id in served.Reverse()) body = cipher.Open(found[id], body, $"{context}:{id}");
                return body;
            }
            // The referral has a data key made after its purge (for what was written since): the one this answer was
            // sealed with is gone all the same.
            catch (System.Security.Cryptography.CryptographicException) { return null; }
        }, ct);
    }

    /// <summary>
    /// Stored answers of the first scheme (sealed with a ring key directly) sealed again as above, once at start-up: after it,
    /// an erasure makes them unreadable too.
    /// </summary>
    public static async Task<int> SealLegacyAsync(Db db, Security.PersonCipher cipher, Security.DataKeys keys, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            var done = 0;
            foreach (var r in await c.QueryAsync<LegacyRow>(db.Command(LegacySql, null, t, tx)))
            {
                var context = Context(r.ApiKeyId, r.IdempotencyKey);
                var body = await SealAsync(keys, c, tx, cipher.Open(null, r.Body!, context), Served(r), context, t);
                done += await c.ExecuteAsync(db.Command(ResealSql, new { r.ApiKeyId, r.IdempotencyKey, body }, t, tx));
            }
            return done;
        }, ct);

    private sealed class LegacyRow : StoredResponse
    {
        public Guid ApiKeyId { get; init; }
        public string IdempotencyKey { get; init; } = "";
    }

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
        // The first answer's ETag, as it was: the resource may have changed since, and If-Match will say so.
        if (!string.IsNullOrEmpty(stored.ETag)) http.Response.Headers.ETag = stored.ETag;
        if (!string.IsNullOrEmpty(stored.ContentType)) http.Response.ContentType = stored.ContentType;
        if (!string.IsNullOrEmpty(body)) await http.Response.WriteAsync(body, http.RequestAborted);
    }

    private class StoredResponse
    {
        public string RequestHash { get; init; } = "";
        public int? StatusCode { get; init; }
        public string? ContentType { get; init; }
        public string? Location { get; init; }
        public string? ETag { get; init; }
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
        SELECT request_hash, status_code, content_type, location, etag, body, served_referrals
        FROM idempotency_record WHERE api_key_id = @apiKeyId AND idempotency_key = @idempotencyKey AND created_at >= @expiredBefore
        """;
    private const string SelectSql = """
        SELECT request_hash, status_code, content_type, location, etag, body, served_referrals
        FROM idempotency_record WHERE api_key_id = @apiKeyId AND idempotency_key = @idempotencyKey
        """;
    private const string CompleteSql = """
        UPDATE idempotency_record
        SET status_code = @statusCode, content_type = @contentType, location = @location, etag = @etag, body = @body,
            served_referrals = @servedReferrals
        WHERE api_key_id = @apiKeyId AND idempotency_key = @idempotencyKey
        """;
    private const string LegacySql = """
        SELECT api_key_id, idempotency_key, request_hash, status_code, content_type, location, body, served_referrals
        FROM idempotency_record WHERE body LIKE 'chv1:%'
        """;
    private const string ResealSql = """
        UPDATE idempotency_record SET body = @body WHERE api_key_id = @apiKeyId AND idempotency_key = @idempotencyKey
        """;
    private const string DeleteSql = "DELETE FROM idempotency_record WHERE api_key_id = @apiKeyId AND idempotency_key = @idempotencyKey";
}
