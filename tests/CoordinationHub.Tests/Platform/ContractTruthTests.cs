using System.Text.Json.Nodes;
using CoordinationHub.Features.PersonalData;

namespace CoordinationHub.Tests.Platform;

/// <summary>What the contract says of parameters and chain steps is what the server does.</summary>
[Collection(SqliteCollection.Name)]
public sealed class ContractTruthTests(SqliteFixture fx)
{
    private static readonly JsonNode Contract = JsonNode.Parse(File.ReadAllText(
        Path.Combine(ContractConformance.RepoRoot(), "openapi", "coordinationhub.v1.json")))!;

    private static JsonNode Parameter(string path, string name) =>
        Contract["paths"]![path]!["get"]!["parameters"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == name)!;

    [Theory]
    [InlineData("commune")]
    [InlineData("need")]
    public async Task Routing_parameters_the_server_requires_are_required_in_the_contract(string name)
    {
        Assert.True(Parameter("/v1/referrals/routing", name)["required"]?.GetValue<bool>() == true, $"{name} is not required in the contract");
        var query = name == "commune" ? "need=INCOME" : "commune=59350";
        var nord = (await (await fx.Admin().GetAsync("/v1/organisations?kind=DEPARTEMENT&departement=59").Ok()).Json())
            .GetProperty("items")[0].GetProperty("id").GetGuid();
        var client = fx.Client(await fx.KeyFor(nord, CoordinationHub.Platform.Auth.Scopes.ReferralsRead));
        await (await client.GetAsync($"/v1/referrals/routing?{query}")).Problem(System.Net.HttpStatusCode.BadRequest, "validation");
    }

    [Fact]
    public void X_Purpose_declares_the_length_the_server_enforces() =>
        Assert.Equal(AccessContext.PurposeMax, Parameter("/v1/referrals/{id}", "X-Purpose")["schema"]!["maxLength"]!.GetValue<int>());

    [Fact]
    public async Task The_holder_by_law_in_a_chain_carries_the_legal_basis_of_the_catalogue()
    {
        var entry = await (await fx.Admin().GetAsync("/v1/competence-map?commune=59350&competence=RSA_INSTRUCTION").Ok()).Json();
        var law = entry.GetProperty("chain")[0];
        Assert.Equal("LAW", law.GetProperty("via").GetString());
        Assert.Contains("L262", law.GetProperty("legalBasis").GetString());
    }
}
