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
