using System.Security.Cryptography;
using CoordinationHub.Client;
using CoordinationHub.Client.Models;
using CoordinationHub.Platform.Auth;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// What an integrator does: generate a client from the committed contract (Kiota, in
/// tests/CoordinationHub.Client) and drive the real API with it, errors included.
/// </summary>
public abstract class GeneratedClientTests(ApiFixture fx) : ApiTests(fx)
{
    private CoordinationHubClient Client(string key)
    {
        var http = Fx.Client(key);
        return new CoordinationHubClient(new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: http)
        {
            BaseUrl = http.BaseAddress!.ToString().TrimEnd('/'),
        });
    }

    private static string RepoFile(string relative, [System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "..", relative));

    [Fact]
    public void The_generated_client_was_made_from_the_committed_contract()
    {
        var contract = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(RepoFile("openapi/coordinationhub.v1.json"))));
        var recorded = File.ReadAllText(RepoFile("tests/CoordinationHub.Client/contract.sha256")).Trim();
        Assert.True(contract == recorded, "The contract changed since the client was generated. Regenerate it with:\n  tests/CoordinationHub.Client/generate.sh");
    }

    [Fact]
    public async Task An_integrator_registers_a_CCAS_signs_a_convention_delegates_and_reads_the_map_with_the_generated_client()
    {
        var admin = Client(Fx.AdminKey);
        var bastia = (await admin.V1.Organisations.GetAsync(r => { r.QueryParameters.Commune = "2B033"; r.QueryParameters.Kind = CoordinationHub.Client.V1.Organisations.GetKindQueryParameterType.COMMUNE; }))!.Items!.Single();
        Assert.Equal("Bastia", bastia.Name);
        var ccas = await RegisterCcas("2B033");
        var departement = await Departement("2B");
        var scopes = new[] { Scopes.ConventionsRead, Scopes.ConventionsWrite, Scopes.DelegationsRead, Scopes.DelegationsWrite, Scopes.DirectoryRead };
        var dep = Client(await Fx.KeyFor(departement.Id, scopes));
        var ccasClient = Client(await Fx.KeyFor(ccas.Id, scopes));

        var convention = await dep.V1.Conventions.PostAsync(new ConventionDraft
        {
            Type = ConventionDraft_type.DELEGATION, Object = "Instruction de l'APA par le CCAS de Bastia",
            Parties = [new ConventionPartyDraft { OrganisationId = departement.Id, Role = "Délégant" }, new ConventionPartyDraft { OrganisationId = ccas.Id, Role = "Délégataire" }],
            Competences = ["APA_INSTRUCTION"], CommuneIds = [bastia.Id], StartOn = new Date(2026, 1, 1), EndOn = new Date(2028, 12, 31),
            NoticeDays = 90, AllowsSubdelegation = false,
        });
        foreach (var signer in new[] { dep, ccasClient })
            await signer.V1.Conventions[convention!.Id!.Value].Signatures.PostAsync(new ConventionSigning { SignerName = "Le représentant légal", SignedOn = new Date(2025, 12, 20) });

        var delegation = await dep.V1.Delegations.PostAsync(new DelegationDraft
        {
            DelegatorId = departement.Id, DelegateId = ccas.Id, Competence = "APA_INSTRUCTION", ConventionId = convention!.Id,
            CommuneIds = [bastia.Id], StartOn = new Date(2026, 2, 1), EndOn = new Date(2027, 12, 31), ExternalRef = "CD2B-APA-7",
        });
        var map = await dep.V1.CompetenceMap.GetAsync(r => { r.QueryParameters.Commune = "2B033"; r.QueryParameters.Competence = "APA_INSTRUCTION"; r.QueryParameters.Date = new Date(2026, 6, 1); });
        Assert.Equal(ccas.Id, map!.Responsible!.Id);
        Assert.Equal(delegation!.Id, map.Chain![1].DelegationId);

        // Errors arrive as the contract's ProblemDetails, with their type.
        var refused = await Assert.ThrowsAsync<ProblemDetails>(() => dep.V1.Delegations.PostAsync(new DelegationDraft
        {
            DelegatorId = departement.Id, DelegateId = ccas.Id, Competence = "APA_INSTRUCTION", ConventionId = convention.Id,
            CommuneIds = [bastia.Id], StartOn = new Date(2026, 6, 1), EndOn = new Date(2026, 12, 31),
        }));
        Assert.Equal(409, refused.Status);
        Assert.Equal("https://coordinationhub.fr/problems/delegations.overlap", refused.Type);
    }

    [Fact]
    public async Task An_integrator_drives_a_referral_from_routing_to_completion_with_the_generated_client()
    {
        var ccas = await RegisterCcas("28085"); // Chartres
        var departement = await Departement("28");
        var scopes = new[] { Scopes.ReferralsRead, Scopes.ReferralsWrite };
        var sender = Client(await Fx.KeyFor(ccas.Id, scopes));
        var receiverKey = await Fx.KeyFor(departement.Id, scopes);
        var receiver = Client(receiverKey);
        var agent = new Agent { Reference = "agent-1", DisplayName = "Mme Agent" };

        var route = await sender.V1.Referrals.Routing.GetAsync(r => { r.QueryParameters.Commune = "28085"; r.QueryParameters.Need = "INCOME"; });
        Assert.Equal(departement.Id, route!.Receiver!.Id);

        var referral = await sender.V1.Referrals.PostAsync(new ReferralDraft
        {
            Need = "INCOME", Urgency = ReferralDraft_urgency.URGENT, Agent = agent,
            Person = new Person { FamilyName = "Client-" + Guid.NewGuid().ToString("N")[..6], GivenNames = "Paul", BirthDate = new Date(1970, 1, 2), CommuneInsee = "28085" },
            LegalBasis = new LegalBasis { Statutory = LegalBasis_statutory.RSA_ORIENTATION },
        });
        Assert.Equal(departement.Id, referral!.Receiver!.Id);

        async Task<string> ETag() => (await Fx.Client(receiverKey).GetAsync($"/v1/referrals/{referral.Id}")).Headers.ETag!.Tag;
        var item = receiver.V1.Referrals[referral.Id!.Value];
        var tag = await ETag();
        var accepted = await item.Acceptance.PostAsync(new ReferralAcceptance { Agent = agent }, r => r.Headers.Add("If-Match", tag));
        Assert.Equal(Referral_status.ACCEPTED, accepted!.Status);
        tag = await ETag();
        await item.Start.PostAsync(new ReferralStart { Agent = agent }, r => r.Headers.Add("If-Match", tag));
        await item.Messages.PostAsync(new ReferralMessageDraft { Agent = agent, Body = "Premier rendez-vous fait." });
        tag = await ETag();
        var done = await item.Completion.PostAsync(new ReferralCompletion { Agent = agent, Outcome = ReferralCompletion_outcome.SUPPORT_STARTED },
            r => r.Headers.Add("If-Match", tag));
        Assert.Equal(Referral_status.COMPLETED, done!.Status);
        var thread = await sender.V1.Referrals[referral.Id!.Value].Messages.GetAsync();
        Assert.Equal(4, thread!.Count);

        // An illegal transition arrives as the contract's ProblemDetails.
        tag = await ETag();
        var refused = await Assert.ThrowsAsync<ProblemDetails>(() => item.Start.PostAsync(new ReferralStart { Agent = agent }, r => r.Headers.Add("If-Match", tag)));
        Assert.Equal(409, refused.Status);
        Assert.Equal("https://coordinationhub.fr/problems/referrals.illegal-transition", refused.Type);
    }
}

[Collection(SqliteCollection.Name)] public sealed class GeneratedClientTests_Sqlite(SqliteFixture f) : GeneratedClientTests(f);
[Collection(PostgresCollection.Name)] public sealed class GeneratedClientTests_Postgres(PostgresFixture f) : GeneratedClientTests(f);
