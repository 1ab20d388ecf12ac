using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Http;

namespace CoordinationHub.Tests;

/// <summary>Base of every HTTP test class; each class has one subclass per provider.</summary>
public abstract class ApiTests(ApiFixture fx)
{
    protected ApiFixture Fx { get; } = fx;

    protected async Task<OrganisationDto> Referential(OrganisationKind kind, string code)
    {
        var filter = kind switch
        {
            OrganisationKind.COMMUNE => $"commune={code}",
            OrganisationKind.EPCI => $"epci={code}",
            _ => $"departement={code}",
        };
        var page = await (await Fx.Admin().GetAsync($"/v1/organisations?kind={kind}&{filter}").Ok()).Read<PageResponse<OrganisationDto>>();
        return page.Items.Single(o => o.Code == code);
    }

    protected Task<OrganisationDto> Commune(string code) => Referential(OrganisationKind.COMMUNE, code);
    protected Task<OrganisationDto> Epci(string siren) => Referential(OrganisationKind.EPCI, siren);
    protected Task<OrganisationDto> Departement(string code) => Referential(OrganisationKind.DEPARTEMENT, code);

    private static readonly HashSet<string> IssuedSirets = [];

    /// <summary>
    /// A valid SIRET (Luhn digit computed) no other test uses. Its SIREN starts with 3–9, the range of
    /// private bodies: public ones (communes, EPCI: 2…) hold SIRENs of the directory it must not meet.
    /// </summary>
    protected static string NewSiret()
    {
        while (true)
        {
            var digits = Random.Shared.NextInt64(3_000_000_000_000, 9_999_999_999_999).ToString();
            for (var check = 0; check < 10; check++)
                if (Identifiers.IsSiret(digits + check))
                    lock (IssuedSirets)
                        if (IssuedSirets.Add(digits[..9])) return digits + check;
        }
    }

    /// <summary>The CCAS of a commune, registered by the administrator.</summary>
    protected async Task<OrganisationDto> RegisterCcas(string communeCode, string? siret = null)
    {
        var commune = await Commune(communeCode);
        var response = await Fx.Admin().PostJson("/v1/organisations", new
        {
            kind = "CCAS", name = $"CCAS de {commune.Name}", communeId = commune.Id, siret = siret ?? NewSiret(),
        });
        if (response.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            var page = await (await Fx.Admin().GetAsync($"/v1/organisations?kind=CCAS&commune={communeCode}").Ok()).Read<PageResponse<OrganisationDto>>();
            return page.Items.Single();
        }
        return await (await Task.FromResult(response).Ok(System.Net.HttpStatusCode.Created)).Read<OrganisationDto>();
    }
}
