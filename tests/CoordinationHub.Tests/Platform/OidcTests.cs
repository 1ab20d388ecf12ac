using System.Net;
using System.Net.Http.Headers;
using CoordinationHub.Features.PersonalData;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Http;
using CoordinationHub.Tests.Features.Referrals;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.IdentityModel.Tokens;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// Tokens of two real issuers (Kestrel servers of the test, <see cref="TestIssuer"/>) beside API keys: "agents", a
/// ProConnect-like federation naming the organisation by SIRET and granting the organisation's scopes; "territory", naming
/// the organisation by id, with the token's scopes and a machine client of the département's IT.
/// </summary>
public abstract class OidcTests(ApiFixture fx) : ReferralTestBase(fx), IAsyncLifetime
{
    private readonly RsaSecurityKey agentsKey = TestIssuer.NewKey("agents-1");
    private readonly RsaSecurityKey territoryKey = TestIssuer.NewKey("territory-1");
    private TestIssuer agents = null!, territory = null!;
    private WebApplicationFactory<Program> host = null!;
    private Guid departement;

    public async Task InitializeAsync()
    {
        agents = await TestIssuer.StartAsync(agentsKey);
        territory = await TestIssuer.StartAsync(territoryKey);
        departement = (await Departement("03")).Id;
        host = Fx.CreateFactory(Fx.ConnectionString, startupTasks: false, settings: new Dictionary<string, string>
        {
            ["Auth:Issuers:0:Name"] = "agents", ["Auth:Issuers:0:Issuer"] = agents.Url,
            ["Auth:Issuers:0:Audiences:0"] = TestIssuer.Audience, ["Auth:Issuers:0:RequireHttpsMetadata"] = "false",
            ["Auth:Issuers:0:OrganisationClaim"] = "siret", ["Auth:Issuers:0:Scopes"] = "Organisation",
            ["Auth:Issuers:1:Name"] = "territory", ["Auth:Issuers:1:Issuer"] = territory.Url,
            ["Auth:Issuers:1:Audiences:0"] = TestIssuer.Audience, ["Auth:Issuers:1:RequireHttpsMetadata"] = "false",
            ["Auth:Issuers:1:OrganisationClaim"] = "organisation_id", ["Auth:Issuers:1:OrganisationClaimKind"] = "Id",
            ["Auth:Issuers:1:KeyRefreshMinimum"] = "00:00:00",
            ["Auth:Issuers:1:Clients:dept03-it"] = departement.ToString(),
        });
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        await agents.DisposeAsync();
        await territory.DisposeAsync();
    }

    private HttpClient Client(string credential)
    {
        var client = host.CreateDefaultClient(new Uri("http://localhost"), new ContractConformance.Handler());
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        return client;
    }

    private async Task SetAccess(Guid organisationId, bool requireAgent, params string[] scopes)
    {
        var version = await CurrentAccessVersion(organisationId);
        await Fx.Admin().PutJson($"/v1/organisations/{organisationId}/access",
            new { scopes, requireAuthenticatedAgent = requireAgent }, $"\"{version}\"").Ok();
    }

    private async Task<int> CurrentAccessVersion(Guid organisationId) =>
        (await (await Fx.Admin().GetAsync($"/v1/organisations/{organisationId}/access").Ok()).Json()).GetProperty("version").GetInt32();

    private Dictionary<string, object> DepartementAgent(string scope = "directory:read referrals:read referrals:write") => new()
    {
        ["sub"] = "territory-sub-9", ["organisation_id"] = departement.ToString(), ["email"] = "marc.durand@allier.fr",
        ["name"] = "Marc Durand", ["scope"] = scope,
    };

    [Fact]
    public async Task Bad_tokens_are_refused_with_a_401_problem_saying_why_and_never_a_500()
    {
        await SetAccess(departement, false, Scopes.DirectoryRead);
        var now = DateTime.UtcNow;
        var claims = DepartementAgent();
        var cases = new (string Case, string Token, string[] Says)[]
        {
            ("expired", territory.Token(territoryKey, claims, now.AddMinutes(-20), now.AddMinutes(-10)), ["expired"]),
            ("not yet valid", territory.Token(territoryKey, claims, now.AddMinutes(10), now.AddMinutes(20)), ["not valid before"]),
            ("wrong audience", territory.Token(territoryKey, claims, audience: "another-api"), ["audience"]),
            ("wrong issuer", territory.Token(territoryKey, claims, issuer: "https://issuer.example"), ["issuer"]),
            ("unknown key id", territory.Token(TestIssuer.NewKey("rogue"), claims), ["key id"]),
            ("alg none", territory.Unsigned(claims), ["signature", "algorithm"]),
            ("HS256 confusion", territory.HmacWithPublicKey(territoryKey, claims), ["signature", "algorithm", "key id"]),
            ("not a token", "eyJhbGciOi.not-a.token", ["well-formed"]),
        };
        foreach (var (name, token, says) in cases)
        {
            var response = await Client(token).GetAsync("/v1/organisations?limit=1");
            var problem = await response.Problem(HttpStatusCode.Unauthorized, "unauthenticated");
            var detail = problem.GetProperty("detail").GetString()!;
            Assert.True(says.Any(s => detail.Contains(s, StringComparison.OrdinalIgnoreCase)),
                $"A token with {name} was refused, but the problem says '{detail}', not why ({string.Join(" / ", says)}).");
        }
        // The same claims, rightly signed, pass: the refusals above are the defects, not the claims.
        await Client(territory.Token(territoryKey, claims)).GetAsync("/v1/organisations?limit=1").Ok();
    }

    [Fact]
    public async Task A_token_signed_with_a_rolled_over_key_is_accepted_at_its_first_use()
    {
        await SetAccess(departement, false, Scopes.DirectoryRead);
        await Client(territory.Token(territoryKey, DepartementAgent())).GetAsync("/v1/organisations?limit=1").Ok();
        var fetches = territory.JwksFetches;

        var next = TestIssuer.NewKey("territory-2");
        territory.Publish(next); // the old key is withdrawn, the new one published
        await Client(territory.Token(next, DepartementAgent())).GetAsync("/v1/organisations?limit=1").Ok();
        Assert.True(territory.JwksFetches > fetches, "the new key id made the API fetch the issuer's keys again");
        await (await Client(territory.Token(territoryKey, DepartementAgent())).GetAsync("/v1/organisations?limit=1"))
            .Problem(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task A_machine_client_acts_for_its_mapped_organisation_with_its_scopes_among_the_organisations_grants()
    {
        await SetAccess(departement, false, Scopes.DirectoryRead, Scopes.ReferralsRead);
        var token = territory.Token(territoryKey, new Dictionary<string, object>
        {
            ["sub"] = "dept03-it", ["client_id"] = "dept03-it", ["scope"] = "directory:read referrals:write",
        });
        await Client(token).GetAsync("/v1/organisations?limit=1").Ok();
        // referrals:write is in the token but not among the organisation's grants; referrals:read the other way round.
        await (await Client(token).GetAsync("/v1/referrals/received?limit=1")).Problem(HttpStatusCode.Forbidden, "insufficient-scope");
        var unmapped = territory.Token(territoryKey, new Dictionary<string, object> { ["sub"] = "x", ["client_id"] = "someone-else" });
        var problem = await (await Client(unmapped).GetAsync("/v1/organisations?limit=1")).Problem(HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Contains("not mapped", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_ccas_software_vendors_story_runs_with_agent_tokens_and_the_access_log_shows_authenticated_agents()
    {
        // The commune's CCAS (another test may have registered it): the federation names it by its SIRET.
        var ccas = await RegisterCcas("03190");
        var siret = ccas.Siret!;
        var referralScopes = new[] { Scopes.DirectoryRead, Scopes.ReferralsRead, Scopes.ReferralsWrite };
        await SetAccess(ccas.Id, false, referralScopes);
        // The département demands authenticated agents for reading the person's data.
        await SetAccess(departement, true, referralScopes);
        var claire = Client(agents.Token(agentsKey, new Dictionary<string, object>
        {
            ["sub"] = "pc-5f1e", ["siret"] = siret, ["email"] = "claire.dupont@ccas-moulins.fr", ["given_name"] = "Claire",
            ["usual_name"] = "Dupont", ["scope"] = "openid email",
        }));
        var marc = Client(territory.Token(territoryKey, DepartementAgent()));

        // The vendor names the agent as its own software knows her; the token says who she is.
        var draft = Draft("INCOME", Person("03190"));
        draft["agent"] = new { reference = "CLAIRE.DUPONT@ccas-moulins.fr", displayName = "claire (poste 3)" };
        var sent = await (await claire.PostJson("/v1/referrals", draft).Ok(HttpStatusCode.Created)).Read<ReferralDto>();
        Assert.Equal(new AgentInput("claire.dupont@ccas-moulins.fr", "Claire Dupont"), sent.SenderAgent);

        // The département's API key may no longer read the person: its organisation wants an authenticated agent.
        var depKey = await Fx.KeyFor(departement, referralScopes);
        await (await Fx.Client(depKey).GetAsync($"/v1/referrals/{sent.Id}")).Problem(HttpStatusCode.Forbidden, "auth.agent-required");
        var read = await marc.GetAsync($"/v1/referrals/{sent.Id}").Ok();
        var etag = read.Headers.ETag!.Tag;

        // A declared agent that is not the token's is refused, in a body or in X-Agent.
        var other = new { reference = "someone.else@allier.fr", displayName = "Quelqu'un" };
        var refused = new HttpRequestMessage(HttpMethod.Post, $"/v1/referrals/{sent.Id}/acceptance")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { agent = other }),
        };
        refused.Headers.TryAddWithoutValidation("If-Match", etag);
        await (await marc.SendAsync(refused)).Problem(HttpStatusCode.UnprocessableEntity, "auth.agent-mismatch");
        var spoofed = new HttpRequestMessage(HttpMethod.Get, $"/v1/referrals/{sent.Id}");
        spoofed.Headers.Add(AccessContext.AgentHeader, "someone.else@allier.fr");
        await (await marc.SendAsync(spoofed)).Problem(HttpStatusCode.UnprocessableEntity, "auth.agent-mismatch");

        var me = new { reference = "territory-sub-9", displayName = "M. Durand" };
        var accept = new HttpRequestMessage(HttpMethod.Post, $"/v1/referrals/{sent.Id}/acceptance")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { agent = me, assignedAgent = me }),
        };
        accept.Headers.TryAddWithoutValidation("If-Match", etag);
        var accepted = await (await marc.SendAsync(accept).Ok()).Read<ReferralDto>();
        Assert.Equal(new AgentInput("marc.durand@allier.fr", "Marc Durand"), accepted.AssignedAgent);
        var message = await (await marc.PostJson($"/v1/referrals/{sent.Id}/messages", new { agent = me, body = "Rendez-vous le 2 décembre." })
            .Ok(HttpStatusCode.Created)).Read<ThreadMessage>();
        Assert.Equal(new AgentInput("marc.durand@allier.fr", "Marc Durand"), message.AuthorAgent);

        var log = await (await marc.GetAsync($"/v1/referrals/{sent.Id}/access-log?limit=100").Ok()).Read<PageResponse<AccessEntry>>();
        Assert.NotEmpty(log.Items);
        Assert.All(log.Items, e => Assert.True(e.AgentProof?.StartsWith("authenticated by ", StringComparison.Ordinal) == true,
            $"the access log shows {e.Operation} by '{e.AgentReference}' as '{e.AgentProof}', not authenticated"));
        Assert.Contains(log.Items, e => e is { AgentReference: "claire.dupont@ccas-moulins.fr", AgentProof: "authenticated by agents" });
        Assert.Contains(log.Items, e => e is { AgentReference: "marc.durand@allier.fr", AgentProof: "authenticated by territory" });
        await SetAccess(departement, false, referralScopes);
    }
}

[Collection(SqliteCollection.Name)]
public sealed class OidcTests_Sqlite(SqliteFixture f) : OidcTests(f);

[Collection(PostgresCollection.Name)]
public sealed class OidcTests_Postgres(PostgresFixture f) : OidcTests(f);
