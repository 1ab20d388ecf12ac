using System.Text.Json;
using System.Text.RegularExpressions;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// Every JSON answer the suite receives is checked against the committed contract: a property the contract
/// requires is present, a property it does not know is a failure, a null is only where the contract says
/// nullable, a property the server sends that the contract says is never null must be <c>required</c>, and enum values,
/// string lengths and list sizes stay within what the contract declares.
/// Installed in every test client (<see cref="ApiFixture.Client"/>), so each test is also a contract test.
/// </summary>
public static class ContractConformance
{
    private static readonly Lazy<JsonElement> Contract = new(() => JsonDocument.Parse(File.ReadAllText(
        Path.Combine(RepoRoot(), "openapi", "coordinationhub.v1.json"))).RootElement);

    private static readonly Lazy<List<(string Method, Regex Path, JsonElement Operation)>> Operations = new(() =>
    [
        .. from path in Contract.Value.GetProperty("paths").EnumerateObject()
           from op in path.Value.EnumerateObject()
           select (op.Name.ToUpperInvariant(), new Regex("^" + Regex.Replace(path.Name, @"\{[^}]+\}", "[^/]+") + "$"), op.Value),
    ]);

    public static string RepoRoot([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", ".."));

    /// <summary>The breaches of the contract in one answer (empty when it conforms or is not an API answer).</summary>
    public static List<string> Check(string method, string path, int status, string? mediaType, string body)
    {
        var failures = new List<string>();
        if (mediaType is not ("application/json" or "application/problem+json") || body.Length == 0) return failures;
        var operation = Operations.Value.FirstOrDefault(o => o.Method == method && o.Path.IsMatch(path)).Operation;
        if (operation.ValueKind != JsonValueKind.Object) return failures; // health, swagger: not in the contract
        var where = $"{method} {path} → {status}";
        if (!operation.GetProperty("responses").TryGetProperty(status.ToString(), out var response))
        {
            failures.Add($"{where}: status {status} is not declared");
            return failures;
        }
        if (!response.TryGetProperty("content", out var content) || !content.TryGetProperty(mediaType, out var media))
        {
            failures.Add($"{where}: {mediaType} is not declared for {status}");
            return failures;
        }
        Walk(media.GetProperty("schema"), JsonDocument.Parse(body).RootElement, where, "$", failures);
        return failures;
    }

    private static JsonElement Resolve(JsonElement schema)
    {
        while (schema.TryGetProperty("$ref", out var reference))
            schema = Contract.Value.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]);
        if (schema.TryGetProperty("allOf", out var all) && all.GetArrayLength() == 1 && !schema.TryGetProperty("properties", out _))
            return Resolve(all[0]);
        return schema;
    }

    private static bool Nullable(JsonElement schema) => schema.TryGetProperty("nullable", out var n) && n.GetBoolean();

    private static void Walk(JsonElement schema, JsonElement value, string where, string at, List<string> failures)
    {
        var nullable = Nullable(schema);
        schema = Resolve(schema);
        if (value.ValueKind == JsonValueKind.Null)
        {
            if (!nullable && !Nullable(schema)) failures.Add($"{where}: {at} is null but the contract does not say nullable");
            return;
        }
        if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("maxItems", out var listMax)
            && value.GetArrayLength() > listMax.GetInt32())
            failures.Add($"{where}: {at} has more items than the contract's maxItems {listMax.GetInt32()}");
        if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out var items))
        {
            var i = 0;
            foreach (var item in value.EnumerateArray()) Walk(items, item, where, $"{at}[{i++}]", failures);
            return;
        }
        if (value.ValueKind == JsonValueKind.String && schema.TryGetProperty("enum", out var values)
            && !values.EnumerateArray().Any(v => v.ValueKind == JsonValueKind.String && v.GetString() == value.GetString()))
            failures.Add($"{where}: {at} is '{value.GetString()}', not one of the contract's values");
        if (value.ValueKind == JsonValueKind.String && schema.TryGetProperty("maxLength", out var maxLength)
            && value.GetString()!.Length > maxLength.GetInt32())
            failures.Add($"{where}: {at} is longer than the contract's maxLength {maxLength.GetInt32()}");
        if (value.ValueKind != JsonValueKind.Object || !schema.TryGetProperty("properties", out var properties)) return;
        var required = schema.TryGetProperty("required", out var r) ? r.EnumerateArray().Select(x => x.GetString()!).ToHashSet() : [];
        var open = schema.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind == JsonValueKind.Object;
        foreach (var name in required)
            if (!value.TryGetProperty(name, out _)) failures.Add($"{where}: {at}.{name} is required by the contract but was not sent");
        foreach (var property in value.EnumerateObject())
        {
            if (!properties.TryGetProperty(property.Name, out var propertySchema))
            {
                if (!open) failures.Add($"{where}: {at}.{property.Name} was sent but is not in the contract");
                continue;
            }
            var neverNull = !Nullable(propertySchema) && !Nullable(Resolve(propertySchema));
            if (neverNull && !required.Contains(property.Name))
                failures.Add($"{where}: {at}.{property.Name} is sent and never null, but not required in the contract");
            Walk(propertySchema, property.Value, where, $"{at}.{property.Name}", failures);
        }
    }

    /// <summary>Checks every answer a test client receives.</summary>
    public sealed class Handler : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            var response = await base.SendAsync(request, ct);
            await response.Content.LoadIntoBufferAsync(ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            var failures = Check(request.Method.Method, request.RequestUri!.AbsolutePath, (int)response.StatusCode,
                response.Content.Headers.ContentType?.MediaType, body);
            Assert.True(failures.Count == 0, "The answer breaks the contract:\n" + string.Join("\n", failures) + "\n" + body);
            return response;
        }
    }
}
