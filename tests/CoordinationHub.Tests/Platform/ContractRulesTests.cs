using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using CoordinationHub.Platform.OpenApi;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Platform;

/// <summary>The rules of the contract: public names, limits that are the validators', and the OWASP lint.</summary>
[Collection(SqliteCollection.Name)]
public sealed class ContractRulesTests(SqliteFixture fx)
{
    private static readonly JsonElement Contract = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(ContractConformance.RepoRoot(), "openapi", "coordinationhub.v1.json"))).RootElement;
    private static JsonElement Schemas => Contract.GetProperty("components").GetProperty("schemas");

    [Fact]
    public void No_schema_is_published_under_an_internal_name()
    {
        var internalNames = Schemas.EnumerateObject().Select(s => s.Name)
            .Where(n => new[] { "Command", "Query", "Dto", "Request" }.Any(suffix => n.EndsWith(suffix, StringComparison.Ordinal)))
            .ToList();
        Assert.True(internalNames.Count == 0, "Give these types a [ContractName]: " + string.Join(", ", internalNames));
    }

    [Fact]
    public void No_response_schema_forbids_fields_added_later()
    {
        var closed = Schemas.EnumerateObject()
            .Where(s => s.Value.TryGetProperty("additionalProperties", out var a) && a.ValueKind == JsonValueKind.False)
            .Select(s => s.Name).ToList();
        Assert.True(closed.Count == 0, "additionalProperties: false on " + string.Join(", ", closed));
    }

    [Fact]
    public void Every_limit_a_validator_sets_is_in_the_contract_with_the_same_number()
    {
        var limits = fx.Services.GetRequiredService<ContractLimits>();
        Assert.True(limits.All.Count > 30, $"only {limits.All.Count} validated properties found; the validator scan is broken");
        var missing = new List<string>();
        foreach (var ((type, property), limit) in limits.All)
        {
            var name = char.ToLowerInvariant(property[0]) + property[1..];
            var schemas = SchemasOf(type, name).ToList();
            var declarable = limit.MaxLength ?? limit.MaxItems ?? limit.Items?.MaxLength ?? (object?)limit.Pattern ?? limit.Maximum;
            if (schemas.Count == 0 && declarable is not null)
            {
                missing.Add($"{type.Name}.{property}: the validator bounds it but no schema or parameter of the contract has it");
                continue;
            }
            foreach (var (where, schema) in schemas)
            {
                void Expect(string keyword, object? expected, JsonElement s)
                {
                    if (expected is null) return;
                    var text = expected is decimal d ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : expected.ToString();
                    var actual = s.TryGetProperty(keyword, out var v) ? (v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText()) : null;
                    if (actual != text) missing.Add($"{where}: {keyword} is {actual ?? "absent"}, the validator says {text}");
                }
                Expect("maxLength", limit.MaxLength, schema);
                Expect("pattern", limit.Pattern, schema);
                Expect("maxItems", limit.MaxItems, schema);
                Expect(limit.ExclusiveMinimum ? "exclusiveMinimum" : "minimum", limit.ExclusiveMinimum ? null : limit.Minimum, schema);
                Expect("maximum", limit.Maximum, schema);
                if (limit.Items is { } items && schema.TryGetProperty("items", out var itemSchema))
                {
                    Expect("maxLength", items.MaxLength, itemSchema);
                    Expect("pattern", items.Pattern, itemSchema);
                }
            }
        }
        Assert.True(missing.Count == 0, string.Join("\n", missing));
    }

    /// <summary>Where a validated property appears: as a schema property (by public name) or as a parameter.</summary>
    private static IEnumerable<(string Where, JsonElement Schema)> SchemasOf(Type type, string property)
    {
        var types = type.IsInterface
            ? typeof(ContractLimits).Assembly.GetTypes().Where(t => t.IsClass && type.IsAssignableFrom(t))
            : [type];
        foreach (var t in types)
            if (Schemas.TryGetProperty(ContractNameAttribute.SchemaId(t), out var schema)
                && schema.GetProperty("properties").TryGetProperty(property, out var p))
                yield return ($"{ContractNameAttribute.SchemaId(t)}.{property}", p);
        var operationIds = ContractOperationsAttribute.Of(type);
        foreach (var path in Contract.GetProperty("paths").EnumerateObject())
        foreach (var op in path.Value.EnumerateObject())
            if (op.Value.GetProperty("operationId").GetString() is { } operationId && operationIds.Contains(operationId)
                && op.Value.TryGetProperty("parameters", out var parameters))
                foreach (var parameter in parameters.EnumerateArray())
                    if (string.Equals(parameter.GetProperty("name").GetString(), property, StringComparison.OrdinalIgnoreCase))
                        yield return ($"{operationId} parameter {property}", parameter.GetProperty("schema"));
    }

    /// <summary>
    /// The other direction, through HTTP: each bound the contract declares on a request body is refused (400 naming
    /// the field) one step beyond it. A bound the server does not enforce fails here.
    /// </summary>
    [Fact]
    public async Task The_server_refuses_a_request_one_step_beyond_each_bound_the_contract_declares()
    {
        var failures = new List<string>();
        var checkedBounds = 0;
        foreach (var path in Contract.GetProperty("paths").EnumerateObject())
        foreach (var op in path.Value.EnumerateObject())
        {
            if (!op.Value.TryGetProperty("requestBody", out var body)) continue;
            var media = body.GetProperty("content").GetProperty("application/json");
            var schema = Resolve(media.GetProperty("schema"));
            // A bulk body (an array of records) refuses each record in its report, with 422: PushTests check those.
            if (schema.TryGetProperty("type", out var kind) && kind.GetString() == "array") continue;
            var example = JsonNode.Parse(schema.GetProperty("example").GetRawText())!.AsObject();
            var url = System.Text.RegularExpressions.Regex.Replace(path.Name, @"\{[^}]+\}", Guid.NewGuid().ToString());
            foreach (var (field, value) in Beyond(schema, example))
            {
                var sent = JsonNode.Parse(example.ToJsonString())!.AsObject();
                Set(sent, field, value);
                var request = new HttpRequestMessage(new HttpMethod(op.Name.ToUpperInvariant()), url)
                {
                    Content = new StringContent(sent.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
                };
                request.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
                var response = await fx.Admin().SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                checkedBounds++;
                var key = field.Replace(".", "").Replace("[0]", "").ToLowerInvariant();
                if (response.StatusCode != HttpStatusCode.BadRequest
                    || !JsonDocument.Parse(text).RootElement.GetProperty("errors").EnumerateObject()
                        .Any(e => e.Name.Replace(".", "").Replace("[0]", "").ToLowerInvariant().EndsWith(key.Split('.')[^1], StringComparison.Ordinal)))
                    failures.Add($"{op.Name.ToUpperInvariant()} {path.Name} with {field} beyond its bound: {(int)response.StatusCode} {text}");
            }
        }
        Assert.True(checkedBounds > 20, $"only {checkedBounds} bounds checked");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static IEnumerable<(string Field, JsonNode Value)> Beyond(JsonElement schema, JsonObject example, string prefix = "")
    {
        foreach (var property in schema.GetProperty("properties").EnumerateObject())
        {
            var field = prefix + property.Name;
            var s = Resolve(property.Value);
            if (s.TryGetProperty("maxLength", out var max) && max.GetInt32() <= 5000 && !s.TryGetProperty("format", out _))
                yield return (field, JsonValue.Create(new string('7', max.GetInt32() + 1)));
            if (s.TryGetProperty("pattern", out var pattern))
                yield return (field, JsonValue.Create(pattern.GetString() == CoordinationHub.Platform.Http.FreeText.Pattern ? "a\u0001b" : "~"));
            if (s.TryGetProperty("maximum", out var maximum) && maximum.GetDecimal() < int.MaxValue)
                yield return (field, JsonValue.Create(maximum.GetDecimal() + (s.TryGetProperty("exclusiveMaximum", out _) ? 0 : 1)));
            if (s.TryGetProperty("minimum", out var minimum) && minimum.GetDecimal() > int.MinValue)
                yield return (field, JsonValue.Create(minimum.GetDecimal() - 1));
            if (s.TryGetProperty("maxItems", out var maxItems) && maxItems.GetInt32() <= 200 && example[property.Name] is JsonArray { Count: > 0 } items)
                yield return (field, new JsonArray([.. Enumerable.Range(0, maxItems.GetInt32() + 1).Select(_ => items[0]!.DeepClone())]));
            if (s.TryGetProperty("items", out var itemSchema) && example[property.Name] is JsonArray { Count: > 0 } list)
            {
                var item = Resolve(itemSchema);
                if (item.TryGetProperty("properties", out _) && list[0] is JsonObject first)
                    foreach (var (f, v) in Beyond(item, first, field + "[0]."))
                        yield return (f, v);
                else if (item.TryGetProperty("maxLength", out var itemMax) && itemMax.GetInt32() <= 5000 && !item.TryGetProperty("format", out _))
                    yield return (field + "[0]", JsonValue.Create(new string('7', itemMax.GetInt32() + 1)));
            }
            if (s.TryGetProperty("properties", out _) && example[property.Name] is JsonObject nested)
                foreach (var (f, v) in Beyond(s, nested, field + "."))
                    yield return (f, v);
        }
    }

    private static void Set(JsonObject target, string field, JsonNode value)
    {
        var parts = field.Split('.');
        JsonNode node = target;
        foreach (var part in parts[..^1])
            node = part.EndsWith("[0]") ? node[part[..^3]]![0]! : node[part]!;
        var last = parts[^1];
        if (last.EndsWith("[0]")) node[last[..^3]]![0] = value;
        else node[last] = value;
    }

    private static JsonElement Resolve(JsonElement schema)
    {
        while (schema.TryGetProperty("$ref", out var reference))
            schema = Schemas.GetProperty(reference.GetString()!.Split('/')[^1]);
        return schema.TryGetProperty("allOf", out var all) && all.GetArrayLength() == 1 ? Resolve(all[0]) : schema;
    }

    /// <summary>Spectral with the OWASP ruleset (.spectral.yaml, packages installed by tests/run.sh with npm ci).</summary>
    [Fact]
    public void The_contract_passes_the_OWASP_lint_with_no_error_and_no_warning()
    {
        var root = ContractConformance.RepoRoot();
        var spectral = Path.Combine(root, "node_modules", "@stoplight", "spectral-cli", "dist", "index.js");
        Assert.True(File.Exists(spectral), $"{spectral} is missing: run `npm ci` at the repository root (tests/run.sh does).");
        var (code, output) = Node(root, spectral, "lint", "-r", ".spectral.yaml", "-f", "json", "-q", "-F", "hint",
            "openapi/coordinationhub.v1.json");
        var results = output.TrimStart().StartsWith('[') ? JsonDocument.Parse(output).RootElement.EnumerateArray().ToList() : [];
        var lines = results.Select(r => $"{r.GetProperty("code")}: {string.Join(".", r.GetProperty("path").EnumerateArray())} {r.GetProperty("message")}");
        Assert.True(code == 0 && results.Count == 0, $"spectral exited {code}:\n{string.Join("\n", lines)}\n{(results.Count == 0 ? output : "")}");
    }

    public static (int Code, string Output) Node(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
