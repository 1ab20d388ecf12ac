using CoordinationHub.Platform.OpenApi;
using System.Text;
using System.Text.Json;
using CoordinationHub.Platform.Errors;
using Microsoft.AspNetCore.WebUtilities;

namespace CoordinationHub.Platform.Http;

/// <summary>A page of a list in a stable order, and the cursor of the next page (null on the last).</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

/// <summary>What list endpoints answer: the items and the link to the next page.</summary>
[ContractName("Page")]
public sealed record PageResponse<T>(IReadOnlyList<T> Items, string? NextCursor, string? Next);

/// <summary>
/// Opaque keyset cursors: the sort key of the last row served, base64url-encoded JSON.
/// Clients must not build them; a cursor that does not decode answers 400.
/// </summary>
public static class Cursor
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    public static string Encode(params string[] keys) =>
        WebEncoders.Base64UrlEncode(JsonSerializer.SerializeToUtf8Bytes(keys));

    public static string[]? Decode(string? cursor, int expectedParts)
    {
        if (string.IsNullOrEmpty(cursor)) return null;
        try
        {
            var parts = JsonSerializer.Deserialize<string[]>(WebEncoders.Base64UrlDecode(cursor));
            if (parts is not null && parts.Length == expectedParts && parts.All(p => p is not null)) return parts;
        }
        catch (Exception e) when (e is FormatException or JsonException) { }
        throw new BadRequestException("invalid-cursor", "The cursor is not one this API issued; start again without it.");
    }

    /// <summary>An id carried in a cursor; a cursor whose id does not parse was not issued by us (400).</summary>
    public static Guid Id(string part) =>
        Guid.TryParse(part, out var id) ? id : throw new BadRequestException("invalid-cursor", "The cursor is not one this API issued; start again without it.");

    /// <summary>An instant carried in a cursor as UTC ticks.</summary>
    public static DateTimeOffset Instant(string part) =>
        long.TryParse(part, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ticks) && ticks <= DateTime.MaxValue.Ticks
            ? new DateTimeOffset(ticks, TimeSpan.Zero)
            : throw new BadRequestException("invalid-cursor", "The cursor is not one this API issued; start again without it.");

    /// <summary>Reads N+1 rows to know whether there is a next page; trims and builds the cursor.</summary>
    public static Page<T> ToPage<T>(IReadOnlyList<T> rows, int limit, Func<T, string[]> key) =>
        rows.Count > limit
            ? new Page<T>(rows.Take(limit).ToList(), Encode(key(rows[limit - 1])))
            : new Page<T>(rows, null);

    public static PageResponse<T> ToResponse<T>(this Page<T> page, HttpRequest request)
    {
        if (page.NextCursor is null) return new PageResponse<T>(page.Items, null, null);
        var query = request.Query.Where(q => q.Key != "cursor").SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string?>(q.Key, v))).ToList();
        query.Add(new("cursor", page.NextCursor));
        return new PageResponse<T>(page.Items, page.NextCursor, QueryHelpers.AddQueryString(request.Path, query));
    }
}
