using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Dapper;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// Requests built from the contract's request examples and mutated (a member dropped, nulled, retyped, one past its
/// maxLength, Unicode edge cases, an unknown member, a body that is not an object), sent by the platform administrator.
/// Invariants: no 5xx; every answer valid against the contract (the suite's response validator: declared status,
/// problem documents for 4xx, schemas for 2xx); a refused request changes nothing (the rows of the main tables and of
/// the audit trail and the event outbox are counted before and after). Bounded and seeded in CI; a long run:
/// <c>COORDINATIONHUB_FUZZ_ITER=100000 COORDINATIONHUB_FUZZ_SEED=… tests/run.sh --filter FullyQualifiedName~ContractFuzz</c>.
/// </summary>
public abstract class ContractFuzzTests(ApiFixture fx) : ApiTests(fx)
{
    /// <summary>Requests in CI: a few thousand on SQLite, fewer on PostgreSQL.</summary>
    protected abstract long Iterations { get; }
    private const string DefaultSeed = "0N0XIzNsQ0O2";
    private static readonly string[] Tables =
        ["organisation", "convention", "delegation", "referral", "webhook_subscription", "audit_event", "outbox_event"];

    private sealed record Target(string Method, string Template, JsonObject Example, JsonObject Properties);

    private static List<Target> Targets()
    {
        var contract = JsonNode.Parse(File.ReadAllText(Path.Combine(ContractConformance.RepoRoot(), "openapi", "coordinationhub.v1.json")))!;
        var schemas = contract["components"]!["schemas"]!;
        var targets = new List<Target>();
        foreach (var (template, item) in contract["paths"]!.AsObject())
        foreach (var (method, operation) in item!.AsObject())
        {
            var schema = operation!["requestBody"]?["content"]?["application/json"]?["schema"];
            if (schema?["$ref"]?.GetValue<string>() is not { } reference) continue;
            var body = schemas[reference.Split('/')[^1]]!;
            if (body["example"] is JsonObject example && body["properties"] is JsonObject properties)
                targets.Add(new Target(method.ToUpperInvariant(), template, example, properties));
        }
        return targets;
    }

    [Fact]
    public async Task Mutated_requests_built_from_the_contract_never_answer_5xx_and_a_refused_one_changes_nothing()
    {
        var targets = Targets();
        Assert.True(targets.Count > 20, $"only {targets.Count} operations with a JSON body example");
        var iterations = long.TryParse(Environment.GetEnvironmentVariable("COORDINATIONHUB_FUZZ_ITER"), out var i) ? i : Iterations;
        var seed = Environment.GetEnvironmentVariable("COORDINATIONHUB_FUZZ_SEED") ?? DefaultSeed;
        Console.WriteLine($"contract fuzz ({Fx.Provider}): {iterations} requests over {targets.Count} operations, seed {seed}");
        var client = Fx.Admin();
        var counts = await Counts();
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var gen = Gen.Select(Gen.Int[0, targets.Count - 1], Gen.Int[0, 9], Gen.Int[0, 10_000], Gen.String[0, 40]);
        await gen.SampleAsync(async (t, kind, n, text) =>
        {
            var target = targets[t];
            var (url, body) = Mutate(target, kind, n, text);
            using var request = new HttpRequestMessage(new HttpMethod(target.Method), url)
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            request.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
            var what = $"{target.Method} {url} {(body.Length > 300 ? body[..300] + "…" : body)}";
            var response = await client.SendAsync(request); // the response validator checks it against the contract
            statuses.AddOrUpdate((int)response.StatusCode, 1, (_, c) => c + 1);
            Assert.True((int)response.StatusCode < 500, $"{what} → {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            var after = await Counts();
            if ((int)response.StatusCode >= 400)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.True(after == counts, $"{what} was refused with {(int)response.StatusCode} but changed the rows: {counts} → {after}");
            }
            counts = after;
        }, seed: seed, iter: iterations, threads: 1, print: v => $"operation {targets[v.Item1].Method} {targets[v.Item1].Template}, "
            + $"mutation {v.Item2}, n {v.Item3}, text '{v.Item4}'");
        Console.WriteLine("contract fuzz answers: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key} × {s.Value}")));
        Assert.Equal(iterations, statuses.Values.Sum());
    }

    private static (string Url, string Body) Mutate(Target target, int kind, int n, string text)
    {
        var url = System.Text.RegularExpressions.Regex.Replace(target.Template, @"\{[^}]+\}",
            _ => new Guid(n, 0x7000, unchecked((short)0x8000), [0, 0, 0, 0, 0, 0, 0, (byte)(n % 256)]).ToString());
        var body = target.Example.DeepClone().AsObject();
        var names = target.Properties.Select(p => p.Key).ToList();
        var name = names[n % names.Count];
        var maxLength = target.Properties[name]?["maxLength"]?.GetValue<int>() ?? 4000;
        string[] unicode = ["\u0000", "\ud83d\ude00 é ñ 中文", "\u202etxet", "\ud800", "e\u0301\u0301\u0301", "\uFEFF\u200B"];
        switch (kind)
        {
            case 0: body.Remove(name); break;
            case 1: body[name] = null; break;
            case 2: body[name] = n % 2 == 0 ? JsonValue.Create(n) : JsonValue.Create(1e308); break;
            case 3: body[name] = text; break;
            case 4: body[name] = new JsonArray(text, n); break;
            case 5: body[name] = new JsonObject { ["x"] = text }; break;
            case 6: body[name] = new string('x', Math.Min(maxLength + 1 + n % 3, 100_000)); break;
            case 7: body[name] = text + unicode[n % unicode.Length]; break;
            case 8: body["unknown" + n] = text; break;
            default:
                return (url, (n % 5) switch { 0 => "[]", 1 => "null", 2 => "\"" + text + "\"", 3 => "{\"a\":", _ => text });
        }
        return (url, body.ToJsonString());
    }

    private async Task<string> Counts()
    {
        await using var c = await Fx.Db.OpenAsync(CancellationToken.None);
        var counts = new List<long>();
        foreach (var table in Tables)
            counts.Add(await c.ExecuteScalarAsync<long>(Fx.Db.Command($"SELECT COUNT(*) FROM {table}", null, CancellationToken.None)));
        return string.Join("/", counts);
    }
}

[Collection(SqliteCollection.Name)]
public sealed class ContractFuzzTests_Sqlite(SqliteFixture f) : ContractFuzzTests(f) { protected override long Iterations => 2000; }

[Collection(PostgresCollection.Name)]
public sealed class ContractFuzzTests_Postgres(PostgresFixture f) : ContractFuzzTests(f) { protected override long Iterations => 400; }
