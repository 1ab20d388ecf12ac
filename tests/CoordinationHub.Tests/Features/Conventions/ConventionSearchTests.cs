using CoordinationHub.Features.Conventions;
using CoordinationHub.Platform.Http;

namespace CoordinationHub.Tests.Features.Conventions;

public abstract class ConventionSearchTests(ApiFixture fx) : ConventionApiTests(fx)
{
    private static async Task<List<Guid>> Search(Party reader, string query) =>
        (await (await reader.Client.GetAsync($"/v1/conventions?{query}").Ok()).Read<PageResponse<ConventionDto>>()).Items.Select(c => c.Id).ToList();

    [Fact]
    public async Task Filters_combine_on_party_departement_competence_commune_and_status_on_a_date()
    {
        var (a, b) = (await NewParty(), await NewParty());
        var lille = await Commune("59350");
        var arras = await Commune("62041");
        var rsa = await CreateSigned(a, b, Body(a, b, "2026-01-01", "2026-12-31", communes: [lille.Id]));
        var fslBody = Body(a, b, "2027-01-01", "2027-12-31", communes: [arras.Id]);
        fslBody["competences"] = new[] { "FSL" };
        var fsl = await CreateSigned(a, b, fslBody);

        Assert.Equal([rsa.Id, fsl.Id], await Search(a, $"party={a.Id}&statusOn=2026-06-01"));
        Assert.Equal([rsa.Id], await Search(a, $"party={a.Id}&departement=59"));
        Assert.Equal([fsl.Id], await Search(a, $"party={a.Id}&departement=62"));
        Assert.Equal([fsl.Id], await Search(a, $"party={a.Id}&competence=FSL&statusOn=2027-06-01"));
        Assert.Equal([rsa.Id], await Search(a, $"party={a.Id}&commune=59350&statusOn=2026-06-01"));
        Assert.Empty(await Search(a, $"party={a.Id}&commune=59350&competence=FSL"));
        Assert.Equal([rsa.Id], await Search(a, $"party={a.Id}&status=IN_FORCE&statusOn=2026-06-01"));
        Assert.Equal([fsl.Id], await Search(a, $"party={a.Id}&status=SIGNED&statusOn=2026-06-01"));
        Assert.Equal([rsa.Id, fsl.Id], await Search(a, $"party={a.Id}&status=EXPIRED&statusOn=2028-01-01"));
        Assert.Equal([rsa.Id, fsl.Id], await Search(a, $"party={a.Id}&partyKind=PARTNER"));
        Assert.Empty(await Search(a, $"party={a.Id}&partyKind=DEPARTEMENT"));
    }

    [Fact]
    public async Task Pages_follow_the_cursor_without_gaps_or_repeats()
    {
        var (a, b) = (await NewParty(), await NewParty());
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++) ids.Add((await Create(a, Body(a, b, communes: [(await Commune("59350")).Id]))).Id);

        var seen = new List<Guid>();
        string? next = $"/v1/conventions?party={a.Id}&status=DRAFT&limit=2";
        while (next is not null)
        {
            var page = await (await a.Client.GetAsync(next).Ok()).Read<PageResponse<ConventionDto>>();
            Assert.True(page.Items.Count <= 2);
            seen.AddRange(page.Items.Select(c => c.Id));
            next = page.Next;
        }
        Assert.Equal(ids, seen);
        await (await a.Client.GetAsync("/v1/conventions?cursor=garbage")).Problem(System.Net.HttpStatusCode.BadRequest, "invalid-cursor");
    }
}

[Collection(SqliteCollection.Name)] public sealed class ConventionSearchTests_Sqlite(SqliteFixture f) : ConventionSearchTests(f);
[Collection(PostgresCollection.Name)] public sealed class ConventionSearchTests_Postgres(PostgresFixture f) : ConventionSearchTests(f);
