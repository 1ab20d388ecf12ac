using CoordinationHub.Tests.Features.Referrals;
using CoordinationHub.Tests.Platform;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace CoordinationHub.Tests.Features.Pages;

/// <summary>
/// The Observatoire in a real browser: what a visitor sees of a commune's referrals is the public, suppressed
/// indicators: a small count is « secret statistique », never its value and never 0; each chart has its table and CSV.
/// </summary>
public abstract class ObservatoirePagesTests(ApiFixture fx, ITestOutputHelper output) : ReferralTestBase(fx)
{
    private const string Fecamp = "76259";

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ApiFixture, Task> Sent = new();

    /// <summary>Fécamp's CCAS sends 12 RSA referrals and 3 FSL referrals to the département, for people of Fécamp (once per database).</summary>
    private Task Referrals()
    {
        lock (Sent) return Sent.GetValue(Fx, _ => Send());
        async Task Send()
        {
            var ccas = await Ccas(Fecamp);
            for (var i = 0; i < 12; i++) await this.Send(ccas, Draft("RSA_INSTRUCTION", Person(Fecamp)));
            for (var i = 0; i < 3; i++) await this.Send(ccas, Draft("FSL", Person(Fecamp)));
        }
    }

    private static async Task<string> Row(IPage page, string caption, string label) =>
        await page.Locator("table", new() { Has = page.Locator("caption", new() { HasTextString = caption }) })
            .Locator("tr", new() { Has = page.GetByRole(AriaRole.Rowheader, new() { Name = label, Exact = true }) }).InnerTextAsync();

    [Fact]
    public async Task A_visitor_sees_charts_with_their_tables_and_CSV_and_a_count_below_the_threshold_only_as_secret_statistique()
    {
        await Referrals();
        await using var server = LiveServer.Start(Fx);
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.PageAsync();

        await page.GotoAsync(server.Url + "/observatoire");
        await page.GetByLabel("Nom de la commune").FillAsync("fecamp");
        await page.GetByRole(AriaRole.Button, new() { Name = "Rechercher" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Fécamp", Exact = true }).ClickAsync();
        Assert.EndsWith($"/observatoire/communes/{Fecamp}", page.Url);
        Assert.Equal("Observatoire : Fécamp", await page.GetByRole(AriaRole.Heading, new() { Level = 1 }).InnerTextAsync());

        // 3 FSL referrals: below 11, so the cell says so, and shows neither 3 nor 0.
        var fsl = await Row(page, "Orientations par compétence", "Fonds de solidarité pour le logement");
        Assert.Contains("secret statistique", fsl);
        Assert.DoesNotContain("3", fsl.Replace("secret statistique", ""));
        Assert.DoesNotMatch(@"\t0(\t|$)", fsl);
        // Every chart is an image with a title and a description, and a table follows it.
        var charts = page.Locator("svg[role=img]");
        Assert.True(await charts.CountAsync() >= 2);
        for (var i = 0; i < await charts.CountAsync(); i++)
        {
            Assert.False(string.IsNullOrWhiteSpace(await charts.Nth(i).Locator("title").TextContentAsync()));
            Assert.False(string.IsNullOrWhiteSpace(await charts.Nth(i).Locator("desc").TextContentAsync()));
        }
        Assert.True(await page.Locator("table").CountAsync() >= await charts.CountAsync());
        // The CSV links answer CSV, without a key.
        var links = page.GetByRole(AriaRole.Link, new() { NameRegex = new System.Text.RegularExpressions.Regex("\\(CSV\\)$") });
        Assert.True(await links.CountAsync() >= 2);
        using var http = new HttpClient();
        for (var i = 0; i < await links.CountAsync(); i++)
        {
            var csv = await http.GetAsync(server.Url + await links.Nth(i).GetAttributeAsync("href"));
            Assert.Equal(System.Net.HttpStatusCode.OK, csv.StatusCode);
            Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        }
        Assert.Equal("", string.Join("\n", await Browser.AccessibilityViolations(page)));
        await Browser.Screenshot(page, Fx, "observatoire-commune");

        await page.GotoAsync(server.Url + "/observatoire/departements/76");
        Assert.Contains("Couverture des délégations", await page.Locator("main").InnerTextAsync());
        Assert.Equal("", string.Join("\n", await Browser.AccessibilityViolations(page)));
        await Browser.Screenshot(page, Fx, "observatoire-departement");
    }

    [Fact]
    public async Task The_Observatoire_fits_320_pixels_weighs_at_most_300_KB_and_is_built_in_at_most_200_ms()
    {
        await Referrals();
        var epci = await (await Fx.Admin().GetAsync($"/v1/organisations/{(await Commune(Fecamp)).EpciId}").Ok()).Read<CoordinationHub.Features.Directory.OrganisationDto>();
        await using var server = LiveServer.Start(Fx);
        await using var browser = await Browser.LaunchAsync();
        foreach (var path in new[] { "/observatoire", $"/observatoire/communes/{Fecamp}", "/observatoire/departements/76", $"/observatoire/epci/{epci.Code}" })
            output.WriteLine(await browser.CheckWidthWeightAndTime(server.Url, path));
        using var client = new HttpClient();
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await client.GetAsync(server.Url + "/observatoire/communes/99999")).StatusCode);
    }
}

[Collection(SqliteCollection.Name)] public sealed class ObservatoirePagesTests_Sqlite(SqliteFixture f, ITestOutputHelper o) : ObservatoirePagesTests(f, o);
[Collection(PostgresCollection.Name)] public sealed class ObservatoirePagesTests_Postgres(PostgresFixture f, ITestOutputHelper o) : ObservatoirePagesTests(f, o);
