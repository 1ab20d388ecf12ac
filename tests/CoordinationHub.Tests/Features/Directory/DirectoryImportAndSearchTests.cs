using System.IO.Compression;
using System.Net;
using System.Text.Json.Nodes;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Http;
using Dapper;
using Mediator;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Features.Directory;

public abstract class DirectoryImportAndSearchTests(ApiFixture fx) : ApiTests(fx)
{
    [Fact]
    public async Task The_first_start_loads_the_whole_2026_referential()
    {
        await using var c = await Fx.Db.OpenAsync(default);
        var counts = (await c.QueryAsync<(string Kind, long Count)>(
            "SELECT kind, COUNT(*) FROM organisation WHERE kind IN ('DEPARTEMENT', 'COMMUNE', 'EPCI') GROUP BY kind"))
            .ToDictionary(r => r.Kind, r => r.Count);
        Assert.Equal(34969, counts["COMMUNE"]);
        Assert.Equal(1255, counts["EPCI"]);
        Assert.Equal(109, counts["DEPARTEMENT"]);
        // Every commune of a département belongs to an EPCI, but four single-commune islands
        // (Bréhat, Sein, Ouessant, Yeu); overseas collectivities (975 and above) have none.
        var withoutEpci = (await c.QueryAsync<string>("SELECT code FROM organisation WHERE kind = 'COMMUNE' AND epci_id IS NULL AND departement_code < '975'")).Order();
        Assert.Equal(["22016", "29083", "29155", "85113"], withoutEpci);
    }

    [Fact]
    public async Task Importing_the_same_referential_again_changes_nothing_and_says_so()
    {
        var result = await Import(null);
        Assert.False(result.Changed, result.ToString());
        Assert.Equal(0, result.Created + result.Updated + result.Deactivated);
        Assert.Contains("already up to date", result.ToString());
    }

    [Fact]
    public async Task A_newer_vintage_marks_a_merged_commune_inactive_with_its_successor_and_renames_others()
    {
        // Build the "next vintage": 01002 merged into 01001, 01004 renamed.
        var root = JsonNode.Parse(await ReadBundledAsync())!;
        var communes = root["communes"]!.AsArray();
        var merged = communes.First(n => (string)n!["code"]! == "01002")!;
        communes.Remove(merged);
        communes.First(n => (string)n!["code"]! == "01001")!["formerCodes"]!.AsArray().Add("01002");
        communes.First(n => (string)n!["code"]! == "01004")!["name"] = "Ambérieu-en-Bugey-Nouvelle";
        root["source"] = "test-next-vintage";
        var file = Path.Combine(Path.GetTempPath(), $"referential-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, root.ToJsonString());
        try
        {
            var result = await Import(file);
            Assert.Equal(0, result.Created);
            Assert.Equal(1, result.Deactivated);
            Assert.Equal(1, result.Updated);

            var old = await Commune("01002");
            var successor = await Commune("01001");
            Assert.False(old.IsActive);
            Assert.Equal(successor.Id, old.SuccessorId);
            Assert.Equal("Ambérieu-en-Bugey-Nouvelle", (await Commune("01004")).Name);
            var active = await (await Fx.Admin().GetAsync("/v1/organisations?commune=01002&active=true").Ok()).Read<PageResponse<OrganisationDto>>();
            Assert.Empty(active.Items);
        }
        finally
        {
            File.Delete(file);
            var back = await Import(null); // the bundled vintage again: everything as it was
            Assert.Equal(2, back.Updated);
        }
        Assert.True((await Commune("01002")).IsActive);
        Assert.Null((await Commune("01002")).SuccessorId);
    }

    [Theory]
    [InlineData("saint etienne", "42218")]
    [InlineData("SAINT-ÉTIENNE", "42218")]
    [InlineData("Saint Etienne", "42218")]
    [InlineData("l abergement clemenciat", "01001")]
    public async Task Name_search_ignores_accents_case_and_punctuation(string q, string expectedCode)
    {
        var page = await (await Fx.Admin().GetAsync($"/v1/organisations?kind=COMMUNE&q={Uri.EscapeDataString(q)}&limit=500").Ok()).Read<PageResponse<OrganisationDto>>();
        Assert.Contains(page.Items, o => o.Code == expectedCode);
        Assert.All(page.Items, o => Assert.Contains(SearchText.Normalize(q), SearchText.Normalize(o.Name)));
    }

    [Fact]
    public async Task Filters_by_departement_epci_and_commune_combine()
    {
        var lille = await Commune("59350");
        var mel = await (await Fx.Admin().GetAsync($"/v1/organisations/{lille.EpciId}").Ok()).Read<OrganisationDto>();
        Assert.Equal(OrganisationKind.EPCI, mel.Kind);
        Assert.Equal("59", mel.DepartementCode);

        var members = await All($"/v1/organisations?kind=COMMUNE&epci={mel.Code}");
        Assert.Contains(members, o => o.Code == "59350");
        Assert.All(members, o => Assert.Equal(mel.Id, o.EpciId));

        var ccas = await RegisterCcas("59350");
        var inCommune = await All("/v1/organisations?commune=59350");
        Assert.Equal(new[] { OrganisationKind.CCAS, OrganisationKind.COMMUNE }.Order(), inCommune.Select(o => o.Kind).Order());
        Assert.Contains(await All($"/v1/organisations?kind=CCAS&epci={mel.Code}"), o => o.Id == ccas.Id);
        Assert.Contains(await All("/v1/organisations?kind=CCAS&departement=59"), o => o.Id == ccas.Id);
    }

    [Fact]
    public async Task Paging_through_a_departement_returns_every_commune_once_in_a_stable_order()
    {
        var territory = await (await Fx.Admin().GetAsync("/v1/departements/2a/territory").Ok()).Read<DepartementTerritory>();
        Assert.Equal("Corse-du-Sud", territory.Departement.Name);
        Assert.InRange(territory.Communes.Count, 100, 140);
        Assert.NotEmpty(territory.Epci);

        var seen = new List<OrganisationDto>();
        string? next = "/v1/organisations?kind=COMMUNE&departement=2A&limit=37";
        var pages = 0;
        while (next is not null)
        {
            var page = await (await Fx.Admin().GetAsync(next).Ok()).Read<PageResponse<OrganisationDto>>();
            Assert.True(page.Items.Count <= 37);
            seen.AddRange(page.Items);
            next = page.Next;
            pages++;
        }
        Assert.Equal(territory.Communes.Select(c => c.Id).Order(), seen.Select(o => o.Id).Order());
        Assert.Equal(seen.Count, seen.Select(o => o.Id).Distinct().Count());
        Assert.Equal((territory.Communes.Count + 36) / 37, pages);
        var keys = seen.Select(o => SearchText.Normalize(o.Name)).ToList();
        Assert.Equal(keys.Order(StringComparer.Ordinal), keys);
    }

    [Fact]
    public async Task A_departement_that_does_not_exist_is_404()
    {
        await (await Fx.Admin().GetAsync("/v1/departements/00/territory")).Problem(HttpStatusCode.NotFound, "not-found");
        await (await Fx.Admin().GetAsync($"/v1/organisations/{Guid.CreateVersion7()}")).Problem(HttpStatusCode.NotFound, "not-found");
    }

    private async Task<List<OrganisationDto>> All(string url)
    {
        var all = new List<OrganisationDto>();
        string? next = url;
        while (next is not null)
        {
            var page = await (await Fx.Admin().GetAsync(next).Ok()).Read<PageResponse<OrganisationDto>>();
            all.AddRange(page.Items);
            next = page.Next;
        }
        return all;
    }

    private async Task<ImportReferentialResult> Import(string? file)
    {
        await using var scope = Fx.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ISender>().Send(new ImportReferentialCommand(file));
    }

    private static async Task<string> ReadBundledAsync()
    {
        await using var raw = typeof(ImportReferentialHandler).Assembly.GetManifestResourceStream(ImportReferentialHandler.BundledResource)!;
        await using var gz = new GZipStream(raw, CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        return await reader.ReadToEndAsync();
    }
}

[Collection(SqliteCollection.Name)] public sealed class DirectoryImportAndSearchTests_Sqlite(SqliteFixture f) : DirectoryImportAndSearchTests(f);
[Collection(PostgresCollection.Name)] public sealed class DirectoryImportAndSearchTests_Postgres(PostgresFixture f) : DirectoryImportAndSearchTests(f);
