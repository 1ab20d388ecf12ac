using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// The breaking-change guard. "Before the change" is every released contract, committed under
/// openapi/released/ (one file per version, never edited): it holds on a fresh clone without git history.
/// Releasing a version = copying the contract there under its version (see openapi/CHANGELOG.md).
/// </summary>
public sealed class BreakingChangeTests
{
    private static readonly string Root = ContractConformance.RepoRoot();
    private static JsonNode Current() => JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "openapi", "coordinationhub.v1.json")))!;
    private static IEnumerable<string> Released() =>
        Directory.GetFiles(Path.Combine(Root, "openapi", "released"), "coordinationhub.v1.*.json").Order();

    [Fact]
    public void The_contract_breaks_no_released_version_of_v1()
    {
        var released = Released().ToList();
        Assert.NotEmpty(released);
        var current = Current();
        var failures = released.SelectMany(file => ContractCompatibility.BreakingChanges(JsonNode.Parse(File.ReadAllText(file))!, current)
            .Select(change => $"{Path.GetFileName(file)} → now: {change}")).ToList();
        Assert.True(failures.Count == 0, "Breaking changes within /v1 (a client of a released contract would fail):\n" + string.Join("\n", failures));
    }

    [Fact]
    public void Every_contract_change_has_its_version_and_its_CHANGELOG_entry()
    {
        var current = Current();
        var version = current["info"]!["version"]!.GetValue<string>();
        var changelog = File.ReadAllText(Path.Combine(Root, "openapi", "CHANGELOG.md"));
        Assert.True(Regex.IsMatch(changelog, $@"^## {Regex.Escape(version)}\b", RegexOptions.Multiline),
            $"openapi/CHANGELOG.md has no '## {version}' entry for the contract's version");
        foreach (var file in Released())
        {
            var released = JsonNode.Parse(File.ReadAllText(file))!;
            if (released["info"]!["version"]!.GetValue<string>() == version)
                Assert.True(JsonNode.DeepEquals(released, current),
                    $"The contract changed since {Path.GetFileName(file)} was released under version {version}: raise info.version " +
                    "(ContractDocument.Version) and say what changed in openapi/CHANGELOG.md.");
        }
    }

    [Fact]
    public void The_guard_reports_a_removed_field_a_retype_a_new_required_request_field_and_a_removed_operation()
    {
        var before = Current();
        var after = before.DeepClone();
        var schemas = after["components"]!["schemas"]!;
        schemas["Organisation"]!["properties"]!.AsObject().Remove("siret");
        schemas["Delegation"]!["properties"]!["versionNo"]!["type"] = "string";
        schemas["OrganisationRegistration"]!["required"]!.AsArray().Add("email");
        after["paths"]!["/v1/competences"]!.AsObject().Remove("get");
        // A rename alone is not a change: move a schema and point its users at the new name.
        schemas["CompetenceMapEntryRenamed"] = schemas["CompetenceMapEntry"]!.DeepClone();
        schemas.AsObject().Remove("CompetenceMapEntry");
        var text = after.ToJsonString().Replace("#/components/schemas/CompetenceMapEntry\"", "#/components/schemas/CompetenceMapEntryRenamed\"");

        var changes = ContractCompatibility.BreakingChanges(before, JsonNode.Parse(text)!);
        Assert.Contains(changes, c => c.Contains("GET /v1/organisations/{id} 200: siret removed"));
        Assert.Contains(changes, c => c.Contains(".versionNo: retyped"));
        Assert.Contains(changes, c => c.Contains("POST /v1/organisations request: email is newly required"));
        Assert.Contains(changes, c => c.Contains("GET /v1/competences: operation removed"));
        Assert.DoesNotContain(changes, c => c.Contains("competence-map"));
        Assert.Empty(ContractCompatibility.BreakingChanges(before, Current()));
    }
}
