using System.Net;
using CoordinationHub.Features.Conventions;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Auth;

namespace CoordinationHub.Tests.Features.Conventions;

/// <summary>An organisation taking part in conventions, and an HTTP client holding one of its keys.</summary>
public sealed record Party(OrganisationDto Organisation, HttpClient Client)
{
    public Guid Id => Organisation.Id;
}

/// <summary>Helpers shared by the convention and audit tests.</summary>
public abstract class ConventionApiTests(ApiFixture fx) : ApiTests(fx)
{
    /// <summary>A partner of its own, so that filters by party see only this test's conventions.</summary>
    protected async Task<Party> NewParty(string name = "Association partenaire")
    {
        var created = await Fx.Admin().PostJson("/v1/organisations", new { kind = "PARTNER", name, partnerCategory = "ASSOCIATION", siret = NewSiret() }).Ok(HttpStatusCode.Created);
        return await PartyOf(await created.Read<OrganisationDto>());
    }

    protected async Task<Party> PartyOf(OrganisationDto organisation) =>
        new(organisation, Fx.Client(await Fx.KeyFor(organisation.Id, Scopes.ConventionsRead, Scopes.ConventionsWrite)));

    protected static Dictionary<string, object?> Body(Party a, Party b, string start = "2026-01-01", string end = "2026-12-31", int noticeDays = 90, Guid[]? communes = null) => new()
    {
        ["type"] = "DELEGATION",
        ["object"] = "Instruction des demandes de RSA pour le compte du Département.",
        ["parties"] = new[] { new { organisationId = a.Id, role = "Délégant" }, new { organisationId = b.Id, role = "Délégataire" } },
        ["competences"] = new[] { "RSA_INSTRUCTION" },
        ["communeIds"] = communes ?? [],
        ["departementCodes"] = communes is null ? new[] { "2A" } : Array.Empty<string>(),
        ["startOn"] = start,
        ["endOn"] = end,
        ["noticeDays"] = noticeDays,
        ["allowsSubdelegation"] = false,
    };

    protected static async Task<ConventionDto> Create(Party creator, Dictionary<string, object?> body) =>
        await (await creator.Client.PostJson("/v1/conventions", body).Ok(HttpStatusCode.Created)).Read<ConventionDto>();

    protected static async Task<ConventionDto> Sign(Party party, Guid id, string signedOn = "2025-12-15") =>
        await (await party.Client.PostJson($"/v1/conventions/{id}/signatures", new { signerName = $"Signataire de {party.Organisation.Name}", signedOn }).Ok()).Read<ConventionDto>();

    protected static async Task<ConventionDto> CreateSigned(Party a, Party b, Dictionary<string, object?> body)
    {
        var convention = await Create(a, body);
        await Sign(a, convention.Id);
        return await Sign(b, convention.Id);
    }

    protected static async Task<ConventionDto> Get(Party reader, Guid id, string? asOf = null) =>
        await (await reader.Client.GetAsync($"/v1/conventions/{id}{(asOf is null ? "" : "?asOf=" + asOf)}").Ok()).Read<ConventionDto>();

    protected static async Task<string> ETagOf(Party reader, Guid id) =>
        (await reader.Client.GetAsync($"/v1/conventions/{id}").Ok()).Headers.ETag!.ToString();

    protected static Task<HttpResponseMessage> PostIfMatch(Party party, string url, object body, string? etag)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = System.Net.Http.Json.JsonContent.Create(body, options: ApiFixture.Json) };
        if (etag is not null) request.Headers.TryAddWithoutValidation("If-Match", etag);
        return party.Client.SendAsync(request);
    }
}
