using CoordinationHub.NSwagClient;
using CoordinationHub.Platform.Auth;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// The README's story with an NSwag C# client, generated from the committed contract at every build
/// (tests/CoordinationHub.NSwagClient), against the API on Kestrel on a loopback port.
/// </summary>
public abstract class NSwagClientTests(ApiFixture fx) : ApiTests(fx)
{
    private static CoordinationHubNSwagClient Client(LiveServer server, string key)
    {
        // Over Kestrel, every answer checked against the contract as the in-process clients' are.
        var http = new HttpClient(new ContractConformance.Handler { InnerHandler = new HttpClientHandler() }) { BaseAddress = new Uri(server.Url + "/") };
        http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return new CoordinationHubNSwagClient(http);
    }

    [Fact]
    public async Task An_integrator_runs_the_README_story_with_the_NSwag_client()
    {
        await using var server = LiveServer.Start(Fx);
        var admin = Client(server, Fx.AdminKey);
        var ct = CancellationToken.None;

        var corte = (await admin.SearchOrganisationsAsync(Kind.COMMUNE, null, null, "2B096", null, null, null, null, ct)).Items.Single();
        var departement = (await admin.SearchOrganisationsAsync(Kind.DEPARTEMENT, corte.DepartementCode, null, null, null, null, null, null, ct))
            .Items.Single();
        var ccas = await admin.RegisterOrganisationAsync(null, new OrganisationRegistration
        {
            Kind = OrganisationRegistrationKind.CCAS, Name = $"CCAS de {corte.Name}", CommuneId = corte.Id, Siret = NewSiret(),
        }, ct);
        Assert.Equal(corte.Id, ccas.CommuneId);

        string[] scopes = [Scopes.ConventionsRead, Scopes.ConventionsWrite, Scopes.DelegationsRead, Scopes.DelegationsWrite, Scopes.DirectoryRead];
        var dep = Client(server, await Fx.KeyFor(departement.Id, scopes));
        var ccasClient = Client(server, await Fx.KeyFor(ccas.Id, scopes));
        var convention = await dep.CreateConventionAsync(null, new ConventionDraft
        {
            Type = ConventionDraftType.DELEGATION, Object = $"Instruction de l'APA par le CCAS de {corte.Name}",
            Parties = [new() { OrganisationId = departement.Id, Role = "Délégant" }, new() { OrganisationId = ccas.Id, Role = "Délégataire" }],
            Competences = ["APA_INSTRUCTION"], CommuneIds = [corte.Id], StartOn = new DateOnly(2026, 1, 1), EndOn = new DateOnly(2028, 12, 31),
            NoticeDays = 90, AllowsSubdelegation = false,
        }, ct);
        foreach (var signer in new[] { dep, ccasClient })
            await signer.SignConventionAsync(convention.Id, null, new ConventionSigning { SignerName = "Le représentant légal", SignedOn = new DateOnly(2025, 12, 20) }, ct);

        var draft = new DelegationDraft
        {
            DelegatorId = departement.Id, DelegateId = ccas.Id, Competence = "APA_INSTRUCTION", ConventionId = convention.Id,
            CommuneIds = [corte.Id], StartOn = new DateOnly(2026, 2, 1), EndOn = new DateOnly(2027, 12, 31), ExternalRef = "NSWAG-APA-1",
        };
        var delegation = await dep.CreateDelegationAsync(null, draft, ct);
        var entry = await dep.GetCompetenceMapAsync("2B096", "APA_INSTRUCTION", new DateOnly(2026, 6, 1), null, ct);
        Assert.Equal(ccas.Id, entry.Responsible.Id);
        Assert.Contains(entry.Chain, step => step.DelegationId == delegation.Id);

        // A refused request arrives as the contract's problem document, typed.
        draft.StartOn = new DateOnly(2026, 6, 1);
        draft.ExternalRef = null;
        var refused = await Assert.ThrowsAsync<ApiException<ProblemDetails>>(() => dep.CreateDelegationAsync(null, draft, ct));
        Assert.Equal(409, refused.StatusCode);
        Assert.Equal("https://coordinationhub.fr/problems/delegations.overlap", refused.Result.Type);
    }
}

[Collection(SqliteCollection.Name)] public sealed class NSwagClientTests_Sqlite(SqliteFixture f) : NSwagClientTests(f);
[Collection(PostgresCollection.Name)] public sealed class NSwagClientTests_Postgres(PostgresFixture f) : NSwagClientTests(f);
