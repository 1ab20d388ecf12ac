using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// Every answer the suite receives is validated against the committed contract (JsonSchema.Net, JSON Schema
/// 2020-12): the status is one the operation declares, with a declared media type; every header the contract
/// marks <c>required</c> is present and valid; the body is valid against the schema, read strictly:
/// <list type="bullet">
/// <item>objects are closed (<c>additionalProperties: false</c> unless the contract types the extra members), so a
/// property the contract does not know fails;</item>
/// <item>a property the server sends must be listed in <c>required</c> (nullable if it may be null): the README
/// promises that a listed property is always sent, so a sent one that is not listed is a contract that says
/// less than the server;</item>
/// <item>enums, formats (uuid, date, date-time, email, uri), lengths, ranges and list sizes.</item>
/// </list>
/// Installed in every test client (<see cref="ApiFixture.Client"/>): a drift fails the test that met it, with
/// the operation and the JSON path.
/// </summary>
public static class ContractConformance
{
    private const string BaseUri = "https://coordinationhub.test/contract";
    /// <summary>The headers of the API's own (not the transport's): each one sent must be declared.</summary>
    private static readonly string[] SentHeaders = ["ETag", "Location", "Map-Generation", "Retry-After", "RateLimit", "RateLimit-Policy", "Idempotent-Replayed"];
    private static readonly HashSet<string> CheckedFormats = ["uuid", "date", "date-time", "email", "uri"];

    private static readonly Lazy<JsonNode> Contract = new(() => JsonNode.Parse(File.ReadAllText(
        Path.Combine(RepoRoot(), "openapi", "coordinationhub.v1.json")))!);

    /// <summary>Operations, the most literal path first (/v1/referrals/counts before /v1/referrals/{id}).</summary>
    private static readonly Lazy<List<Operation>> Operations = new(() =>
    [
        .. (from path in Contract.Value["paths"]!.AsObject()
            from op in path.Value!.AsObject()
            select new Operation(op.Key.ToUpperInvariant(), path.Key,
                new Regex("^" + Regex.Replace(Regex.Escape(path.Key).Replace(@"\{", "{"), @"\{[^}]+}", "[^/]+") + "$"),
                op.Value!.AsObject()))
           .OrderBy(o => o.Template.Count(c => c == '{')),
    ]);

    private sealed record Operation(string Method, string Template, Regex Path, JsonObject Definition)
    {
        public string Id => Definition["operationId"]?.GetValue<string>() ?? $"{Method} {Template}";
    }

    private static readonly Lazy<HashSet<(string, int)>> ProblemTypes = new(() =>
    [
        .. Contract.Value["components"]!["schemas"]!["ProblemDetails"]!["x-problem-types"]!.AsArray()
            .Select(t => (t!["type"]!.GetValue<string>(), t["status"]!.GetValue<int>())),
    ]);

    private static readonly Lazy<(BuildOptions Options, Dictionary<string, string> Names)> Schemas = new(BuildSchemas);
    private static readonly ConcurrentDictionary<string, JsonSchema> Compiled = new();
    private static readonly Lock Registry = new();

    public static string RepoRoot([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", ".."));

    /// <summary>The operation of the contract a request reaches, or null (health, swagger: not in the contract).</summary>
    public static string? OperationId(string method, string path) =>
        Operations.Value.FirstOrDefault(o => o.Method == method && o.Path.IsMatch(path))?.Id;

    /// <summary>The breaches of the contract in one answer (empty when it conforms or is not an API answer).</summary>
    public static List<string> Check(string method, string path, int status, string? mediaType, string body,
        Func<string, string?>? header = null)
    {
        var failures = new List<string>();
        var operation = Operations.Value.FirstOrDefault(o => o.Method == method && o.Path.IsMatch(path));
        if (operation is null) return failures;
        var where = $"{operation.Id} ({method} {path}) → {status}";
        if (operation.Definition["responses"]?[status.ToString()] is not JsonObject response)
        {
            failures.Add($"{where}: status {status} is not declared for the operation");
            return failures;
        }
        if (header is not null)
            foreach (var (headerName, declared) in response["headers"]?.AsObject() ?? [])
            {
                var definition = Resolve(declared!);
                var value = header(headerName);
                if (value is null)
                {
                    if (definition["required"]?.GetValue<bool>() == true)
                        failures.Add($"{where}: header {headerName} is declared required but was not sent");
                    continue;
                }
                if (definition["schema"]?["type"]?.GetValue<string>() == "integer" && !long.TryParse(value, out _))
                    failures.Add($"{where}: header {headerName} is '{value}', not the integer the contract declares");
            }
        if (header is not null)
            foreach (var sent in SentHeaders)
                if (header(sent) is not null && response["headers"]?[sent] is null)
                    failures.Add($"{where}: header {sent} is sent but the contract does not declare it for {status}");
        if (body.Length == 0 || mediaType is null) return failures;
        if (response["content"]?[mediaType] is null)
        {
            failures.Add($"{where}: {mediaType} is not declared for {status}");
            return failures;
        }
        if (mediaType is not ("application/json" or "application/problem+json")) return failures;
        var key = $"{operation.Method} {operation.Template} {status} {mediaType}";
        var (options, names) = Schemas.Value;
        if (!names.TryGetValue(key, out var name)) return failures;
        JsonSchema schema;
        // The registry JsonSchema.Net builds into is a plain dictionary: one compile at a time (the two databases' test
        // collections run in parallel; a race there once failed a test with "concurrent update" on a Dictionary).
        lock (Registry) schema = Compiled.GetOrAdd(name, n => JsonSchema.FromText($$"""{"$ref":"{{BaseUri}}#/$defs/{{n}}"}""", options));
        JsonElement instance;
        try { instance = JsonDocument.Parse(body).RootElement; }
        catch (JsonException e)
        {
            failures.Add($"{where}: the body is not JSON ({e.Message})");
            return failures;
        }
        if (mediaType == "application/problem+json" && instance.ValueKind == JsonValueKind.Object
            && instance.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            && !ProblemTypes.Value.Contains((type.GetString()!, status)))
            failures.Add($"{where}: the problem type {type.GetString()} with status {status} is not listed in the contract's x-problem-types");
        EvaluationResults results;
        lock (Registry) results = schema.Evaluate(instance, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        if (results.IsValid) return failures;
        // The innermost failures: an invalid node none of whose descendants failed.
        var details = results.Details ?? [];
        var invalid = details.Where(d => !d.IsValid).Select(d => (Detail: d, Path: d.EvaluationPath.ToString())).ToList();
        var paths = details.Select(d => d.EvaluationPath.ToString()).ToHashSet();
        foreach (var (detail, evaluationPath) in invalid)
        {
            if (invalid.Any(o => o.Path.StartsWith(evaluationPath + "/", StringComparison.Ordinal))) continue;
            var at = "$" + detail.InstanceLocation.ToString().Replace('/', '.');
            if (evaluationPath.EndsWith("/additionalProperties", StringComparison.Ordinal))
                failures.Add($"{where}: {at} is sent but the contract does not declare it");
            else if (paths.Contains(evaluationPath + "/not"))
                failures.Add($"{where}: {at} is sent, so the contract must list it in `required` (and say nullable if it may be null)");
            else if (detail.Errors is { Count: > 0 } errors)
                failures.AddRange(errors.Select(e => $"{where}: {at}: {e.Value} [{e.Key} at {evaluationPath}]"));
            else
                failures.Add($"{where}: {at} does not match the contract's schema at {evaluationPath}");
        }
        if (failures.Count == 0) failures.Add($"{where}: the body is not valid against the contract");
        return failures;
    }

    private static JsonObject Resolve(JsonNode node)
    {
        while (node["$ref"]?.GetValue<string>() is { } reference)
        {
            var parts = reference.TrimStart('#', '/').Split('/');
            node = parts.Aggregate((JsonNode)Contract.Value, (n, p) => n[p]!);
        }
        return node.AsObject();
    }

    /// <summary>
    /// One JSON Schema 2020-12 document: the contract's component schemas and every response body schema as
    /// <c>$defs</c>, translated from OpenAPI 3.0 (nullable, boolean exclusive bounds) and made strict.
    /// </summary>
    private static (BuildOptions, Dictionary<string, string>) BuildSchemas()
    {
        var components = Contract.Value["components"]!["schemas"]!.AsObject();
        // A schema also read in requests keeps its optional members: there `required` says what must be sent.
        var requests = new HashSet<string>();
        foreach (var operation in Operations.Value)
        {
            References(operation.Definition["requestBody"], components, requests);
            References(operation.Definition["parameters"], components, requests);
        }
        var defs = new JsonObject();
        foreach (var (name, schema) in components)
            // The problem document's extension members belong to some problem types only: they stay optional.
            defs[name] = Strict(schema!.DeepClone(), sentMeansRequired: !requests.Contains(name) && name != "ProblemDetails");
        var names = new Dictionary<string, string>();
        foreach (var operation in Operations.Value)
        foreach (var (status, response) in operation.Definition["responses"]!.AsObject())
        foreach (var (media, content) in Resolve(response!)["content"]?.AsObject() ?? [])
            if (content?["schema"] is { } schema)
            {
                var name = "response-" + names.Count;
                names[$"{operation.Method} {operation.Template} {status} {media}"] = name;
                defs[name] = Strict(schema.DeepClone(), sentMeansRequired: true);
            }
        var document = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["$id"] = BaseUri,
            ["$defs"] = defs,
        };
        var options = new BuildOptions { SchemaRegistry = new SchemaRegistry() };
        var built = JsonSchema.FromText(document.ToJsonString(), options, new Uri(BaseUri));
        try { options.SchemaRegistry.Register(built); } catch (Exception e) when (e is ArgumentException or InvalidOperationException) { }
        return (options, names);
    }

    private static void References(JsonNode? node, JsonObject components, HashSet<string> found)
    {
        switch (node)
        {
            case JsonObject o:
                if (o["$ref"]?.GetValue<string>() is { } reference && reference.StartsWith("#/components/schemas/", StringComparison.Ordinal)
                    && found.Add(reference.Split('/')[^1]))
                    References(components[reference.Split('/')[^1]], components, found);
                foreach (var (_, value) in o) References(value, components, found);
                break;
            case JsonArray a:
                foreach (var value in a) References(value, components, found);
                break;
        }
    }

    private static JsonNode Strict(JsonNode node, bool sentMeansRequired)
    {
        if (node is not JsonObject o) return node;
        foreach (var annotation in o.Select(p => p.Key).Where(k => k is "example" or "examples" or "description" or "title" || k.StartsWith("x-")).ToList())
            o.Remove(annotation);
        if (o["$ref"]?.GetValue<string>() is { } reference)
            o["$ref"] = reference.Replace("#/components/schemas/", "#/$defs/");
        if (o["format"]?.GetValue<string>() is { } format && !CheckedFormats.Contains(format)) o.Remove("format");
        foreach (var (bound, limit) in new[] { ("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum") })
            if (o[bound] is JsonValue flag && flag.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
            {
                o.Remove(bound);
                if (flag.GetValue<bool>() && o[limit] is { } value)
                {
                    o.Remove(limit);
                    o[bound] = value;
                }
            }
        var required = o["required"]?.AsArray().Select(r => r!.GetValue<string>()).ToHashSet() ?? [];
        if (o["properties"] is JsonObject properties)
        {
            foreach (var name in properties.Select(p => p.Key).ToList())
                if (required.Contains(name) || !sentMeansRequired) Strict(properties[name]!, sentMeansRequired);
                // Sent but not required: the contract says less than the server does.
                else properties[name] = new JsonObject { ["not"] = new JsonObject() };
            if (o["additionalProperties"] is null or JsonObject { Count: 0 } || o["additionalProperties"]!.GetValueKind() == JsonValueKind.True)
                o["additionalProperties"] = false;
        }
        if (o["additionalProperties"] is JsonObject additional && additional.Count > 0) Strict(additional, sentMeansRequired);
        if (o["items"] is { } items) Strict(items, sentMeansRequired);
        foreach (var combinator in new[] { "allOf", "anyOf", "oneOf" })
            if (o[combinator] is JsonArray parts)
                foreach (var part in parts) Strict(part!, sentMeansRequired);
        if (o["nullable"] is { } nullable)
        {
            o.Remove("nullable");
            if (nullable.GetValue<bool>())
            {
                if (o["type"] is JsonValue type && o["allOf"] is null)
                    o["type"] = new JsonArray(type.GetValue<string>(), "null");
                else
                {
                    // allOf/$ref wrapped to be nullable: null, or the wrapped schema.
                    o.Remove("type");
                    var inner = new JsonObject();
                    foreach (var p in o.Select(p => p.Key).ToList())
                    {
                        var v = o[p];
                        o.Remove(p);
                        inner[p] = v;
                    }
                    o["anyOf"] = new JsonArray(new JsonObject { ["type"] = "null" }, inner);
                }
            }
        }
        return o;
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
                response.Content.Headers.ContentType?.MediaType, body, name => Header(response, name));
            Assert.True(failures.Count == 0, "The answer breaks the contract:\n" + string.Join("\n", failures) + "\n" + Cut(body));
            return response;
        }

        private static string? Header(HttpResponseMessage response, string name) =>
            response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
                ? string.Join(", ", values)
                : null;

        private static string Cut(string body) => body.Length > 2000 ? body[..2000] + "…" : body;
    }
}
