using System.Text.RegularExpressions;
using CoordinationHub.Platform.OpenApi;

namespace CoordinationHub.Tests.Platform;

/// <summary>The contract lists every problem type a handler can throw, with its status (x-problem-types).</summary>
public sealed class ProblemTypeTests
{
    private static readonly Dictionary<string, int> Statuses = new() { ["BadRequest"] = 400, ["Conflict"] = 409, ["Rule"] = 422 };

    [Fact]
    public void Every_problem_code_a_handler_throws_is_listed_in_the_contract_with_its_status()
    {
        var listed = ContractProblems.Types.ToHashSet();
        var missing = new List<string>();
        var source = Path.Combine(ContractConformance.RepoRoot(), "src");
        foreach (var file in Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories))
        {
            var text = File.ReadAllText(file);
            foreach (Match m in Regex.Matches(text, @"\b(BadRequest|Conflict|Rule)Exception\(\s*""([^""]+)"""))
                if (!listed.Contains((m.Groups[2].Value, Statuses[m.Groups[1].Value])))
                    missing.Add($"{Path.GetFileName(file)}: {m.Groups[2].Value} ({Statuses[m.Groups[1].Value]})");
            foreach (Match m in Regex.Matches(text, @"ProblemException\((\d+), ""([^""]+)"""))
                if (!listed.Contains((m.Groups[2].Value, int.Parse(m.Groups[1].Value))))
                    missing.Add($"{Path.GetFileName(file)}: {m.Groups[2].Value} ({m.Groups[1].Value})");
        }
        Assert.True(missing.Count == 0, "Problem codes missing from ContractProblems.Types:\n" + string.Join("\n", missing));
    }

    [Fact]
    public void The_validator_refuses_a_problem_type_the_contract_does_not_list()
    {
        var failures = ContractConformance.Check("GET", "/v1/organisations", 400, "application/problem+json",
            """{"type":"https://coordinationhub.fr/problems/made-up","title":"t","status":400,"detail":"d","traceId":"x"}""");
        Assert.Contains(failures, f => f.Contains("made-up") && f.Contains("x-problem-types"));
    }
}

/// <summary>The events: one catalogue for the code (the change log refuses an unlisted type) and the contract.</summary>
public sealed class EventCatalogueTests
{
    [Fact]
    public void Every_event_type_named_in_the_code_is_in_the_catalogue_and_the_contract()
    {
        var contract = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(
            Path.Combine(ContractConformance.RepoRoot(), "openapi", "coordinationhub.v1.json")))!;
        var listed = contract["x-webhooks"]!.AsObject().Select(w => w.Key).ToHashSet();
        var enumerated = contract["components"]!["schemas"]!["Event"]!["properties"]!["type"]!["enum"]!.AsArray()
            .Select(v => v!.GetValue<string>()).ToHashSet();
        Assert.Equal(listed, enumerated);
        var named = new HashSet<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(ContractConformance.RepoRoot(), "src"), "*.cs", SearchOption.AllDirectories))
        foreach (Match m in Regex.Matches(File.ReadAllText(file), @"""((convention|referral|import)\.[a-z-]+)"""))
            named.Add(m.Groups[1].Value);
        foreach (var change in Enum.GetNames<CoordinationHub.Features.Delegations.DelegationChange>())
            named.Add("delegation." + change.ToLowerInvariant().Replace('_', '-'));
        Assert.Empty(named.Except(listed));
        Assert.All(named, n => Assert.True(CoordinationHub.Platform.Data.EventCatalogue.Contains(n), n));
    }
}
