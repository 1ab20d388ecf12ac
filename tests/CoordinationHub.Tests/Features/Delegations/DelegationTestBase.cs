using System.Net;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Auth;

namespace CoordinationHub.Tests.Features.Delegations;

/// <summary>Organisations with keys, and conventions signed by every party, all through the API.</summary>
public abstract class DelegationTestBase(ApiFixture fx) : ApiTests(fx)
{
    protected sealed record Party(OrganisationDto Organisation, string Key)
    {
        public Guid Id => Organisation.Id;
        public HttpClient Client(ApiFixture fx) => fx.Client(Key);
    }

    private static readonly string[] AllScopes =
        [Scopes.DirectoryRead, Scopes.ConventionsRead, Scopes.ConventionsWrite, Scopes.DelegationsRead, Scopes.DelegationsWrite];

    protected async Task<Party> DepartementParty(string code) => new(await Departement(code), await Fx.KeyFor((await Departement(code)).Id, AllScopes));

    protected async Task<Party> CcasParty(string communeCode)
    {
        var ccas = await RegisterCcas(communeCode);
        return new Party(ccas, await Fx.KeyFor(ccas.Id, AllScopes));
    }

    protected async Task<Party> PartnerParty(string name, string departement)
    {
        var partner = await (await Fx.Admin().PostJson("/v1/organisations", new { kind = "PARTNER", name, partnerCategory = "ASSOCIATION", departementCode = departement, siret = NewSiret() })
            .Ok(HttpStatusCode.Created)).Read<OrganisationDto>();
        return new Party(partner, await Fx.KeyFor(partner.Id, AllScopes));
    }

    /// <summary>A convention between the parties, signed by each of them.</summary>
    protected async Task<Guid> SignedConvention(Party[] parties, string[] competences, object territory, DateOnly startOn, DateOnly endOn, bool allowsSubdelegation = false, bool sign = true)
    {
        var t = System.Text.Json.JsonSerializer.SerializeToElement(territory, ApiFixture.Json);
        var body = new Dictionary<string, object?>
        {
            ["type"] = "DELEGATION", ["object"] = "Délégation de l'instruction", ["competences"] = competences,
            ["parties"] = parties.Select((p, i) => new { organisationId = p.Id, role = i == 0 ? "Délégant" : "Délégataire" }).ToArray(),
            ["startOn"] = startOn, ["endOn"] = endOn, ["noticeDays"] = 90, ["allowsSubdelegation"] = allowsSubdelegation,
        };
        foreach (var property in t.EnumerateObject()) body[property.Name] = property.Value;
        var created = await (await parties[0].Client(Fx).PostJson("/v1/conventions", body).Ok(HttpStatusCode.Created)).Json();
        var id = created.GetProperty("id").GetGuid();
        if (sign)
            foreach (var party in parties)
                await party.Client(Fx).PostJson($"/v1/conventions/{id}/signatures", new { signerName = $"Signataire {party.Organisation.Name}", signedOn = startOn.AddDays(-10) }).Ok();
        return id;
    }

    protected static object Delegation(Party from, Party to, string competence, Guid conventionId, object territory, DateOnly startOn, DateOnly endOn, string? externalRef = null)
    {
        var body = new Dictionary<string, object?>
        {
            ["delegatorId"] = from.Id, ["delegateId"] = to.Id, ["competence"] = competence, ["conventionId"] = conventionId,
            ["startOn"] = startOn, ["endOn"] = endOn, ["externalRef"] = externalRef,
        };
        foreach (var property in System.Text.Json.JsonSerializer.SerializeToElement(territory, ApiFixture.Json).EnumerateObject()) body[property.Name] = property.Value;
        return body;
    }

    protected async Task<System.Text.Json.JsonElement> Map(string commune, string competence, DateOnly date) =>
        await (await Fx.Admin().GetAsync($"/v1/competence-map?commune={commune}&competence={competence}&date={date:yyyy-MM-dd}").Ok()).Json();

    protected static readonly DateOnly Jan2026 = new(2026, 1, 1);
    protected static readonly DateOnly Dec2028 = new(2028, 12, 31);
}
