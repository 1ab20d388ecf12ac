using System.Diagnostics;
using CoordinationHub.Platform.Auth;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// The README's story in TypeScript: a client generated from the committed contract by openapi-typescript,
/// used through openapi-fetch, type-checked by tsc --strict and run under Node against a live server.
/// </summary>
public abstract class TypeScriptClientTests(ApiFixture fx) : ApiTests(fx)
{
    private static readonly string Root = ContractConformance.RepoRoot();
    private static readonly string Project = Path.Combine(Root, "tests", "CoordinationHub.TsClient");
    private static readonly Lazy<Task> Compiled = new(() => Task.Run(Compile));

    private static void Compile()
    {
        var generator = Path.Combine(Root, "node_modules", "openapi-typescript", "bin", "cli.js");
        Assert.True(File.Exists(generator), $"{generator} is missing: run `npm ci` at the repository root (tests/run.sh does).");
        var (code, output) = ContractRulesTests.Node(Root, generator, "openapi/coordinationhub.v1.json",
            "-o", "tests/CoordinationHub.TsClient/generated/coordinationhub.ts");
        Assert.True(code == 0, "openapi-typescript failed:\n" + output);
        (code, output) = ContractRulesTests.Node(Root, Path.Combine(Root, "node_modules", "typescript", "bin", "tsc"),
            "-p", "tests/CoordinationHub.TsClient/tsconfig.json");
        Assert.True(code == 0, "tsc --strict refuses the story against the generated types:\n" + output);
    }

    [Fact]
    public async Task An_integrator_runs_the_README_story_with_the_strict_TypeScript_client()
    {
        await Compiled.Value;
        await using var server = LiveServer.Start(Fx);
        var start = new ProcessStartInfo("node") { WorkingDirectory = Project };
        start.ArgumentList.Add("dist/story.js");
        start.Environment["API_URL"] = server.Url;
        start.Environment["ADMIN_KEY"] = Fx.AdminKey;
        start.Environment["COMMUNE"] = "2A247"; // Porto-Vecchio: no other test registers its CCAS
        start.Environment["SIRET"] = NewSiret();
        string[] scopes = [Scopes.ConventionsRead, Scopes.ConventionsWrite, Scopes.DelegationsRead, Scopes.DelegationsWrite, Scopes.DirectoryRead];
        var (code, output) = await LiveServer.RunClient(start, id => Fx.KeyFor(id, scopes), TimeSpan.FromSeconds(90));
        Assert.True(code == 0 && output.Contains("STORY OK"), $"The TypeScript story failed (exit {code}):\n{output}");
    }
}

[Collection(SqliteCollection.Name)] public sealed class TypeScriptClientTests_Sqlite(SqliteFixture f) : TypeScriptClientTests(f);
[Collection(PostgresCollection.Name)] public sealed class TypeScriptClientTests_Postgres(PostgresFixture f) : TypeScriptClientTests(f);
