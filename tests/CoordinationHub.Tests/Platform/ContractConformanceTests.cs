using System.Text.Json.Nodes;

namespace CoordinationHub.Tests.Platform;

/// <summary>The response validator itself: each kind of drift fails, naming the operation and the JSON path.</summary>
public sealed class ContractConformanceTests
{
    private static readonly JsonObject Organisation = JsonNode.Parse(File.ReadAllText(
        Path.Combine(ContractConformance.RepoRoot(), "openapi", "coordinationhub.v1.json")))!
        ["components"]!["schemas"]!["Organisation"]!["example"]!.AsObject();

    private static List<string> Get(JsonObject body, int status = 200, Func<string, string?>? header = null) =>
        ContractConformance.Check("GET", "/v1/organisations/0199a1b3-1a2b-7c3d-9e4f-5a6b7c8d9e0f", status, "application/json",
            body.ToJsonString(), header);

    private static JsonObject With(Action<JsonObject> change)
    {
        var body = Organisation.DeepClone().AsObject();
        change(body);
        return body;
    }

    [Fact]
    public void The_contract_s_own_example_conforms() => Assert.Empty(Get(Organisation));

    [Fact]
    public void A_status_the_operation_does_not_declare_fails() =>
        Assert.Contains(Get(Organisation, 418), f => f.Contains("GetOrganisation") && f.Contains("status 418 is not declared"));

    [Fact]
    public void A_property_the_contract_does_not_know_fails() =>
        Assert.Contains(Get(With(b => b["surprise"] = 1)), f => f.Contains("$.surprise is sent but the contract does not declare it"));

    [Fact]
    public void A_missing_required_property_fails() =>
        Assert.Contains(Get(With(b => b.Remove("name"))), f => f.Contains("GetOrganisation") && f.Contains("name"));

    [Fact]
    public void A_null_where_the_contract_does_not_say_nullable_fails() =>
        Assert.Contains(Get(With(b => b["name"] = null)), f => f.Contains("$.name"));

    [Fact]
    public void A_value_outside_the_enum_fails() =>
        Assert.Contains(Get(With(b => b["kind"] = "CASTLE")), f => f.Contains("$.kind"));

    [Fact]
    public void A_value_breaking_its_format_fails() =>
        Assert.Contains(Get(With(b => b["createdAt"] = "yesterday")), f => f.Contains("$.createdAt"));

    [Fact]
    public void A_required_header_that_is_missing_fails() =>
        Assert.Contains(Get(Organisation, header: _ => null), f => f.Contains("header") && f.Contains("RateLimit"));
}
