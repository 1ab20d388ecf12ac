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
}

[Collection(SqliteCollection.Name)] public sealed class GeneratedClientTests_Sqlite(SqliteFixture f) : GeneratedClientTests(f);
[Collection(PostgresCollection.Name)] public sealed class GeneratedClientTests_Postgres(PostgresFixture f) : GeneratedClientTests(f);
