using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using CoordinationHub.Platform.Auth;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// Generated from the contract: every operation that declares security answers 401 without a key and with a revoked
/// one, and 403 to a key holding every scope but the one the operation declares (<c>x-scope</c>). Path parameters are
/// filled from their schemas; bodies are not read before the caller is known, so none is needed.
/// </summary>
public abstract class AuthorizationMatrixTests(ApiFixture fx) : ApiTests(fx)
{
    private sealed record Operation(string Method, string Path, string Id, string? Scope);

    private static List<Operation> Operations()
    {
        var contract = JsonNode.Parse(File.ReadAllText(Path.Combine(ContractConformance.RepoRoot(), "openapi", "coordinationhub.v1.json")))!;
        var operations = new List<Operation>();
        foreach (var (template, item) in contract["paths"]!.AsObject())
        foreach (var (method, definition) in item!.AsObject())
        {
            if (definition!["security"] is not JsonArray { Count: > 0 }) continue;
            var path = template;
            foreach (var parameter in definition["parameters"]?.AsArray() ?? [])
                if (parameter!["in"]!.GetValue<string>() == "path")
                    path = path.Replace("{" + parameter["name"]!.GetValue<string>() + "}",
                        parameter["schema"]?["format"]?.GetValue<string>() == "uuid" ? Guid.CreateVersion7().ToString() : "59");
            operations.Add(new Operation(method.ToUpperInvariant(), path, definition["operationId"]!.GetValue<string>(),
                definition["x-scope"]?.GetValue<string>()));
        }
        return operations;
    }

    private static HttpRequestMessage Request(Operation operation) => new(new HttpMethod(operation.Method), operation.Path)
    {
        Content = operation.Method is "POST" or "PUT" or "PATCH" ? new StringContent("{}", Encoding.UTF8, "application/json") : null,
    };

    [Fact]
    public async Task Every_operation_refuses_no_key_a_revoked_key_and_a_key_without_its_scope()
    {
        var operations = Operations();
        Assert.True(operations.Count > 50, $"only {operations.Count} secured operations read from the contract");
        var nord = await Departement("59");
        var store = Fx.Services.GetRequiredService<ApiKeyStore>();
        var (revokedId, revokedKey) = await store.CreateAsync(nord.Id, "matrix-revoked", Scopes.All, platformAdmin: false, CancellationToken.None);
        await store.RevokeAsync(revokedId, CancellationToken.None);
        var failures = new List<string>();
        var withoutScope = new Dictionary<string, HttpClient>();
        foreach (var operation in operations)
        {
            var where = $"{operation.Id} ({operation.Method} {operation.Path})";
            var anonymous = await Fx.Client().SendAsync(Request(operation));
            if (anonymous.StatusCode != HttpStatusCode.Unauthorized) failures.Add($"{where}: no key → {(int)anonymous.StatusCode}, not 401");
            var revoked = await Fx.Client(revokedKey).SendAsync(Request(operation));
            if (revoked.StatusCode != HttpStatusCode.Unauthorized) failures.Add($"{where}: revoked key → {(int)revoked.StatusCode}, not 401");
            if (operation.Scope is not { } scope) continue;
            if (!withoutScope.TryGetValue(scope, out var client))
                withoutScope[scope] = client = Fx.Client(await Fx.KeyFor(nord.Id, [.. Scopes.All.Where(s => s != scope && s != Scopes.PlatformAdmin)]));
            var refused = await client.SendAsync(Request(operation));
            if (refused.StatusCode != HttpStatusCode.Forbidden) failures.Add($"{where}: a key without {scope} → {(int)refused.StatusCode}, not 403");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}

[Collection(SqliteCollection.Name)] public sealed class AuthorizationMatrixTests_Sqlite(SqliteFixture f) : AuthorizationMatrixTests(f);
[Collection(PostgresCollection.Name)] public sealed class AuthorizationMatrixTests_Postgres(PostgresFixture f) : AuthorizationMatrixTests(f);
