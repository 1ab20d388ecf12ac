using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CoordinationHub.Benchmarks;

/// <summary>JSON over HTTP for the set-up phases (not the measured ones); any non-2xx answer throws with the problem body.</summary>
public sealed class ApiClient(Uri baseAddress) : IDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly HttpClient http = new() { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(2) };

    public Task<JsonNode> GetAsync(string path, string key, CancellationToken ct) => SendAsync(HttpMethod.Get, path, null, key, ct);

    public Task<JsonNode> PostAsync(string path, object body, string key, CancellationToken ct) => SendAsync(HttpMethod.Post, path, body, key, ct);

    /// <summary>A write that answers its body, its ETag and the map generation it was told (<c>Map-Generation</c>).</summary>
    public async Task<(JsonNode Body, string? ETag, long Generation)> WriteAsync(HttpMethod method, string path, object body, string key,
        string? ifMatch, CancellationToken ct)
    {
        using var request = Request(method, path, body, key);
        if (ifMatch is not null) request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        using var response = await http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode) throw new ApiException(method, path, (int)response.StatusCode, text);
        var generation = response.Headers.TryGetValues("Map-Generation", out var values) ? long.Parse(values.First()) : 0;
        return (JsonNode.Parse(text)!, response.Headers.ETag?.Tag, generation);
    }

    /// <summary>POST that answers the existing resource's id on 409 (e.g. the commune already has a CCAS).</summary>
    public async Task<Guid> PostOrExistingAsync(string path, object body, string key, CancellationToken ct)
    {
        using var request = Request(HttpMethod.Post, path, body, key);
        using var response = await http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (response.IsSuccessStatusCode) return JsonNode.Parse(text)!["id"]!.GetValue<Guid>();
        if ((int)response.StatusCode == 409 && JsonNode.Parse(text)?["conflictingResource"]?.GetValue<string>() is { } existing)
            return Guid.Parse(existing[(existing.LastIndexOf('/') + 1)..]);
        throw new ApiException(HttpMethod.Post, path, (int)response.StatusCode, text);
    }

    public async Task<(string Body, TimeSpan Elapsed)> GetTextAsync(string path, string key, CancellationToken ct)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var request = Request(HttpMethod.Get, path, null, key);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        if (!response.IsSuccessStatusCode) throw new ApiException(HttpMethod.Get, path, (int)response.StatusCode, text);
        return (text, elapsed);
    }

    /// <summary>Every item of a cursor-paged list, following <c>next</c>.</summary>
    public async Task<List<JsonNode>> GetAllPagesAsync(string path, string key, CancellationToken ct)
    {
        var items = new List<JsonNode>();
        string? next = path;
        while (next is not null)
        {
            var page = await GetAsync(next, key, ct);
            items.AddRange(page["items"]!.AsArray().Select(i => i!));
            next = page["next"]?.GetValue<string>();
        }
        return items;
    }

    private async Task<JsonNode> SendAsync(HttpMethod method, string path, object? body, string key, CancellationToken ct)
    {
        using var request = Request(method, path, body, key);
        using var response = await http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode) throw new ApiException(method, path, (int)response.StatusCode, text);
        return JsonNode.Parse(text.Length == 0 ? "{}" : text)!;
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, object? body, string key) => new(method, path)
    {
        Headers = { Authorization = new AuthenticationHeaderValue("Bearer", key) },
        Content = body is null ? null : JsonContent.Create(body, options: Json),
    };

    public void Dispose() => http.Dispose();
}

public sealed class ApiException(HttpMethod method, string path, int status, string body)
    : Exception($"{method} {path} answered {status}: {(body.Length > 600 ? body[..600] + "…" : body)}")
{
    public int Status { get; } = status;
}
