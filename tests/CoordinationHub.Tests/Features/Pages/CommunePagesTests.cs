using System.Net;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Tests.Features.Delegations;
using CoordinationHub.Tests.Platform;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace CoordinationHub.Tests.Features.Pages;

/// <summary>
/// « Qui fait quoi dans ma commune ? » in a real browser, on Kestrel, over the national referential: a person searches
/// a commune without its accents, opens its page, reads who is responsible, by which chain, how to reach them and
/// in how many days they answer, then looks at another date.
/// </summary>
public abstract class CommunePagesTests(ApiFixture fx, ITestOutputHelper output) : DelegationTestBase(fx)
{
    private static readonly DateOnly March2026 = new(2026, 3, 1), Feb2027 = new(2027, 2, 28);

    /// <summary>Seine-Maritime delegates RSA instruction in Étretat to the commune's CCAS, which published an e-mail and a phone.</summary>
    private async Task<string> EtretatWithDelegation()
    {
        var commune = await Commune("76254");
        var dep = await DepartementParty("76");
        var existing = await (await Fx.Admin().GetAsync("/v1/organisations?kind=CCAS&commune=76254").Ok()).Read<CoordinationHub.Platform.Http.PageResponse<CoordinationHub.Features.Directory.OrganisationDto>>();
        if (existing.Items.Count > 0) return existing.Items[0].Name; // the class ran already on this database
        var ccas = await (await Fx.Admin().PostJson("/v1/organisations", new
        {
            kind = "CCAS", name = "CCAS d'Étretat", communeId = commune.Id, siret = NewSiret(), email = "ccas@etretat.example", phone = "02 35 00 00 00",
        }).Ok(HttpStatusCode.Created)).Read<CoordinationHub.Features.Directory.OrganisationDto>();
        var party = new Party(ccas, await Fx.KeyFor(ccas.Id, Scopes.DirectoryRead, Scopes.ConventionsRead, Scopes.ConventionsWrite, Scopes.DelegationsRead, Scopes.DelegationsWrite));
        var territory = new { communeIds = new[] { commune.Id } };
        var convention = await SignedConvention([dep, party], ["RSA_INSTRUCTION"], territory, Jan2026, Dec2028);
        await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, party, "RSA_INSTRUCTION", convention, territory, March2026, Feb2027)).Ok(HttpStatusCode.Created);
        return ccas.Name;
    }

    private static ILocator Competence(IPage page, string label) => page.Locator("section.chub-card", new() { Has = page.GetByRole(AriaRole.Heading, new() { Name = label, Exact = true }) });

    [Fact]
    public async Task A_person_finds_the_commune_without_accents_and_reads_who_answers_by_which_chain_how_to_reach_them_and_the_deadline()
    {
        var ccas = await EtretatWithDelegation();
        await using var server = LiveServer.Start(Fx);
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.PageAsync();

        await page.GotoAsync(server.Url + "/communes");
        await page.GetByLabel("Nom de la commune").FillAsync("ETRETAT");
        await page.GetByRole(AriaRole.Button, new() { Name = "Rechercher" }).ClickAsync();
        Assert.Contains("/communes?q=ETRETAT", page.Url);
        Assert.Equal("", string.Join("\n", await Browser.AccessibilityViolations(page)));
        await Browser.Screenshot(page, Fx, "qui-fait-quoi-recherche");

        await page.GetByRole(AriaRole.Link, new() { Name = "Étretat", Exact = true }).ClickAsync();
        Assert.EndsWith("/communes/76254", page.Url); // the commune's permanent address
        Assert.Equal("Qui fait quoi à Étretat", await page.GetByRole(AriaRole.Heading, new() { Level = 1 }).InnerTextAsync());

        // Today (the suite's clock: 25 November 2026) the delegation holds: the CCAS, by delegation of the département.
        var rsa = Competence(page, "Instruction des demandes de RSA");
        var text = await rsa.InnerTextAsync();
        Assert.Contains($"Responsable\n{ccas} (centre communal d’action sociale)", text);
        Assert.Contains("Par la loi : Seine-Maritime (CASF L262-15 ; L262-16)", text);
        Assert.Contains($"Par délégation à {ccas}, du 1er mars 2026 au 28 février 2027, convention ", text);
        Assert.Contains("« Délégation de l'instruction »", text);
        Assert.Contains("ccas@etretat.example", text);
        Assert.Contains("02 35 00 00 00", text);
        Assert.Contains("10 jours (demande normale)", text);
        // A competence nobody delegated: the holder by law, and no contact invented for it.
        var apa = await Competence(page, "Instruction des demandes d'APA").InnerTextAsync();
        Assert.Contains("Responsable\nSeine-Maritime (département)", apa);
        Assert.Contains("Aucun contact publié", apa);
        Assert.DoesNotContain("délégation", apa);
        Assert.Equal("", string.Join("\n", await Browser.AccessibilityViolations(page)));
        await Browser.Screenshot(page, Fx, "qui-fait-quoi-commune");

        // Before the delegation began, the département answered.
        await page.GetByLabel("Responsables à la date du").FillAsync("2026-01-15");
        await page.GetByRole(AriaRole.Button, new() { Name = "Afficher à cette date" }).ClickAsync();
        Assert.EndsWith("/communes/76254?date=2026-01-15", page.Url);
        text = await Competence(page, "Instruction des demandes de RSA").InnerTextAsync();
        Assert.Contains("Responsable\nSeine-Maritime (département)", text);
        Assert.DoesNotContain(ccas, text);
        Assert.Contains("Responsables le 15 janvier 2026", await page.Locator("main").InnerTextAsync());
    }

    [Fact]
    public async Task The_pages_fit_320_pixels_weigh_at_most_300_KB_and_are_built_in_at_most_200_ms_on_the_national_referential()
    {
        await EtretatWithDelegation();
        await using var server = LiveServer.Start(Fx);
        await using var browser = await Browser.LaunchAsync();
        foreach (var path in new[] { "/communes", "/communes?q=saint", "/communes/76254", "/communes/75056?date=2026-06-01" })
            output.WriteLine(await browser.CheckWidthWeightAndTime(server.Url, path));
    }

    [Fact]
    public async Task An_unknown_commune_or_a_wrong_date_is_a_French_page_with_its_status_not_a_problem_document()
    {
        await using var server = LiveServer.Start(Fx);
        using var client = new HttpClient();
        foreach (var (path, status, says) in new[]
        {
            ("/communes/99999", HttpStatusCode.NotFound, "Page introuvable"), ("/communes/abc", HttpStatusCode.NotFound, "Page introuvable"),
            ("/communes/76254?date=31-12-2026", HttpStatusCode.BadRequest, "Date invalide"),
            ("/communes?q=" + Uri.EscapeDataString("<script>alert(1)</script>"), HttpStatusCode.OK, "&lt;script&gt;alert(1)&lt;/script&gt;"),
        })
        {
            var response = await client.GetAsync(server.Url + path);
            Assert.Equal(status, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains(says, await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task A_deployment_that_is_not_a_State_service_shows_no_bloc_marque()
    {
        await using var factory = Fx.CreateFactory(Fx.ConnectionString, settings: new Dictionary<string, string> { ["Pages:StateBranding"] = "false" });
        var html = await (await factory.CreateClient().GetAsync("/communes")).Content.ReadAsStringAsync();
        Assert.Contains("CoordinationHub", html);
        Assert.DoesNotContain("République", html);
        Assert.Contains("République", await (await Fx.Client().GetAsync("/communes")).Content.ReadAsStringAsync());
    }
}

[Collection(SqliteCollection.Name)] public sealed class CommunePagesTests_Sqlite(SqliteFixture f, ITestOutputHelper o) : CommunePagesTests(f, o);
[Collection(PostgresCollection.Name)] public sealed class CommunePagesTests_Postgres(PostgresFixture f, ITestOutputHelper o) : CommunePagesTests(f, o);
