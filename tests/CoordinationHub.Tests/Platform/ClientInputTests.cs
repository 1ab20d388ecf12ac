using System.Net;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Auth;

namespace CoordinationHub.Tests.Platform;

/// <summary>What a client may send that the binder or the transport used to refuse in .NET's words, or without a body.</summary>
public abstract class ClientInputTests(ApiFixture fx) : ApiTests(fx)
{
    private async Task<HttpClient> ReferralReader()
    {
        var nord = await Departement("59");
        return Fx.Client(await Fx.KeyFor(nord.Id, Scopes.ReferralsRead));
    }

    [Theory]
    [InlineData("received")]
    [InlineData("Sent")]
    [InlineData("RECEIVED")]
    public async Task Enum_query_values_are_read_whatever_their_case(string box)
    {
        var client = await ReferralReader();
        await client.GetAsync($"/v1/referrals/counts?box={box}").Ok();
    }

    [Theory]
    [InlineData("OTHER")]
    [InlineData("1")]
    public async Task An_unknown_enum_query_value_is_a_400_naming_the_parameter_and_its_values(string box)
    {
        var client = await ReferralReader();
        var response = await client.GetAsync($"/v1/referrals/counts?box={box}");
        var body = await response.Content.ReadAsStringAsync();
        var problem = await response.Problem(HttpStatusCode.BadRequest, "validation");
        var message = problem.GetProperty("errors").GetProperty("box")[0].GetString()!;
        Assert.Contains("SENT", message);
        Assert.Contains("RECEIVED", message);
        Assert.DoesNotContain("Nullable", body);
        Assert.DoesNotContain("ReferralBox", body);
    }

    [Theory]
    [InlineData("limit=abc", "limit", "an integer")]
    [InlineData("active=maybe", "active", "true or false")]
    public async Task A_query_value_of_the_wrong_type_names_the_parameter_and_no_NET_type(string query, string name, string expected)
    {
        var response = await Fx.Admin().GetAsync($"/v1/organisations?{query}");
        var body = await response.Content.ReadAsStringAsync();
        var problem = await response.Problem(HttpStatusCode.BadRequest, "validation");
        Assert.Contains(expected, problem.GetProperty("errors").GetProperty(name)[0].GetString());
        Assert.DoesNotContain("Nullable", body);
        Assert.DoesNotContain("Int32", body);
        Assert.DoesNotContain("Boolean", body);
    }

    [Fact]
    public async Task An_organisation_kind_in_lower_case_filters_as_in_upper_case()
    {
        var lower = await (await Fx.Admin().GetAsync("/v1/organisations?kind=departement&departement=59").Ok()).Json();
        Assert.Equal("DEPARTEMENT", lower.GetProperty("items")[0].GetProperty("kind").GetString());
    }
}

[Collection(SqliteCollection.Name)] public sealed class ClientInputTests_Sqlite(SqliteFixture f) : ClientInputTests(f);
[Collection(PostgresCollection.Name)] public sealed class ClientInputTests_Postgres(PostgresFixture f) : ClientInputTests(f);
