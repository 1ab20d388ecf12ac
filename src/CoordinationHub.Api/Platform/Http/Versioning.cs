using CoordinationHub.Platform.Errors;

namespace CoordinationHub.Platform.Http;

/// <summary>
/// Optimistic concurrency: every versioned resource has an integer <c>version</c> column,
/// sent as a strong ETag; updates must carry it in If-Match (428 without it, 412 when stale).
/// </summary>
public static class ETags
{
    public static string Of(int version) => $"\"{version}\"";

    public static IResult WithETag<T>(this HttpContext http, T body, int version)
    {
        http.Response.Headers.ETag = Of(version);
        return TypedResults.Ok(body);
    }

    public static Microsoft.AspNetCore.Http.HttpResults.Created<T> CreatedWithETag<T>(this HttpContext http, string location, T body, int version)
    {
        http.Response.Headers.ETag = Of(version);
        return TypedResults.Created(location, body);
    }

    /// <summary>The version the client last saw, from If-Match.</summary>
    public static int RequiredVersion(HttpRequest request)
    {
        var header = request.Headers.IfMatch.ToString();
        if (string.IsNullOrWhiteSpace(header))
            throw new PreconditionRequiredException("Send the ETag you last read in an If-Match header, so that you do not overwrite someone else's change.");
        var value = header.Trim();
        if (value.StartsWith("W/", StringComparison.Ordinal)) value = value[2..];
        if (value.Length > 2 && value[0] == '"' && value[^1] == '"' && int.TryParse(value[1..^1], out var version)) return version;
        throw new PreconditionFailedException($"If-Match '{header}' does not match the current ETag of the resource.");
    }
}
