using System.Net;
using System.Net.Http.Json;
using CoordinationHub.Features.Directory;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Tests.Features.Delegations;

namespace CoordinationHub.Tests.Features.Referrals;

/// <summary>Organisations with referral keys, drafts and actions, all through the API.</summary>
public abstract class ReferralTestBase(ApiFixture fx) : DelegationTestBase(fx)
{
    private static readonly string[] Scopes_ =
    [
        Scopes.DirectoryRead, Scopes.ConventionsRead, Scopes.ConventionsWrite, Scopes.DelegationsRead, Scopes.DelegationsWrite,
        Scopes.ReferralsRead, Scopes.ReferralsWrite,
    ];

    protected async Task<Party> Dep(string code)
    {
        var dep = await Departement(code);
        return new Party(dep, await Fx.KeyFor(dep.Id, Scopes_));
    }

    protected async Task<Party> Ccas(string communeCode)
    {
        var ccas = await RegisterCcas(communeCode);
        return new Party(ccas, await Fx.KeyFor(ccas.Id, Scopes_));
    }

    protected async Task<Party> Partner(string name, string departement)
    {
        var partner = await (await Fx.Admin().PostJson("/v1/organisations", new
            {
                kind = "PARTNER", name, partnerCategory = "ASSOCIATION", departementCode = departement, siret = NewSiret(),
            })
            .Ok(HttpStatusCode.Created)).Read<OrganisationDto>();
        return new Party(partner, await Fx.KeyFor(partner.Id, Scopes_));
    }

    /// <summary>A person no other test uses (the duplicate guard keys on name and birth date).</summary>
    protected static Dictionary<string, object?> Person(string commune, string? family = null) => new()
    {
        ["familyName"] = family ?? "Martin-" + Guid.NewGuid().ToString("N")[..8], ["givenNames"] = "Jeanne Marie",
        ["birthDate"] = "1958-04-12", ["communeInsee"] = commune, ["address"] = "3 rue des Lilas",
        ["contact"] = new { channel = "PHONE", value = "06 12 34 56 78" }, ["allocataireNumber"] = "1234567",
    };

    protected static readonly object Agent = new { reference = "agent-42", displayName = "Mme Agent" };

    protected static Dictionary<string, object?> Draft(string need, Dictionary<string, object?> person, Guid? receiverId = null,
        object? consent = null, string urgency = "NORMAL", string? statutory = "SHARED_SOCIAL_SECRECY") => new()
    {
        ["receiverId"] = receiverId, ["need"] = need, ["urgency"] = urgency, ["person"] = person,
        ["context"] = "Rencontrée à l'accueil du CCAS ; factures impayées.", ["agent"] = Agent,
        ["legalBasis"] = consent is null ? new { statutory } : new { consent },
    };

    protected static object Consent(string need, Guid? receiverId = null, string? expiresOn = null) => new
    {
        purpose = "Instruction de la demande", scope = new { need, receiverId }, method = "WRITTEN",
        givenAt = "2026-11-20T10:00:00Z", collectedBy = Agent, expiresOn,
    };

    protected async Task<(ReferralDto Referral, string ETag)> Send(Party sender, object draft)
    {
        var response = await sender.Client(Fx).PostJson("/v1/referrals", draft).Ok(HttpStatusCode.Created);
        return (await response.Read<ReferralDto>(), response.Headers.ETag!.Tag);
    }

    protected async Task<(ReferralDto Referral, string ETag)> Get(Party party, Guid id)
    {
        var response = await party.Client(Fx).GetAsync($"/v1/referrals/{id}").Ok();
        return (await response.Read<ReferralDto>(), response.Headers.ETag!.Tag);
    }

    protected Task<HttpResponseMessage> Post(Party party, Guid id, string action, object? body, string? etag, string? idempotencyKey = null) =>
        PostTo(party, $"/v1/referrals/{id}/{action}", body, etag, idempotencyKey);

    protected Task<HttpResponseMessage> PostTo(Party party, string url, object? body, string? etag, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = JsonContent.Create(body ?? new { }, options: ApiFixture.Json),
        };
        if (etag is not null) request.Headers.TryAddWithoutValidation("If-Match", etag);
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        return party.Client(Fx).SendAsync(request);
    }

    /// <summary>Reads the referral for its ETag, then acts; asserts 200 and returns the new state.</summary>
    protected async Task<(ReferralDto Referral, string ETag)> Act(Party party, Guid id, string action, object? body = null,
        HttpStatusCode expected = HttpStatusCode.OK)
    {
        var (_, etag) = await Get(party, id);
        var response = await Post(party, id, action, body, etag).Ok(expected);
        return (await response.Read<ReferralDto>(), response.Headers.ETag!.Tag);
    }

    protected async Task<OrganisationDto> AnotherCommune(string departement, string notCode)
    {
        var page = await (await Fx.Admin().GetAsync($"/v1/organisations?kind=COMMUNE&departement={departement}&limit=5").Ok())
            .Read<CoordinationHub.Platform.Http.PageResponse<OrganisationDto>>();
        return page.Items.First(o => o.Code != notCode);
    }
}
