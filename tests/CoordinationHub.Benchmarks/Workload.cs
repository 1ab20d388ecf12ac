using System.Text.Json.Nodes;

namespace CoordinationHub.Benchmarks;

public sealed record Commune(Guid Id, string Code, string Name, string DepartementCode, int Population, Guid? EpciId = null);

public sealed record Competence(string Code, string HolderKind, bool IsLegal);

/// <summary>What the measured requests are drawn from: every current commune, and the competence catalogue.</summary>
public sealed record Workload(IReadOnlyList<Commune> Communes, IReadOnlyList<Competence> Catalogue)
{
    public static async Task<Workload> FetchAsync(ApiClient api, string adminKey, bool withCatalogue, CancellationToken ct)
    {
        var communes = (await api.GetAllPagesAsync("/v1/organisations?kind=COMMUNE&active=true&limit=500", adminKey, ct))
            .Select(c => new Commune(
                c["id"]!.GetValue<Guid>(), c["code"]!.GetValue<string>(), c["name"]!.GetValue<string>(),
                c["departementCode"]!.GetValue<string>(), c["population"]?.GetValue<int>() ?? 0, c["epciId"]?.GetValue<Guid>()))
            .ToList();
        var catalogue = withCatalogue
            ? (await api.GetAsync("/v1/competences", adminKey, ct)).AsArray()
                .Select(c => new Competence(c!["code"]!.GetValue<string>(), c["holderKind"]!.GetValue<string>(), c["isLegal"]!.GetValue<bool>()))
                .ToList()
            : [];
        return new Workload(communes, catalogue);
    }

    public IReadOnlyList<Competence> Legal => Catalogue.Where(c => c.IsLegal).ToList();

    /// <summary>Single-commune lookups: a random current commune, legal competence and day of 2025–2030.</summary>
    public Uri[] Lookups(Uri baseAddress, int count, int seed)
    {
        var random = new Random(seed);
        var legal = Legal;
        var first = new DateOnly(2025, 1, 1);
        var days = new DateOnly(2030, 12, 31).DayNumber - first.DayNumber + 1;
        return Enumerable.Range(0, count).Select(_ =>
        {
            var commune = Communes[random.Next(Communes.Count)];
            var competence = legal[random.Next(legal.Count)];
            var date = first.AddDays(random.Next(days));
            return new Uri(baseAddress, $"/v1/competence-map?commune={commune.Code}&competence={competence.Code}&date={date:yyyy-MM-dd}");
        }).ToArray();
    }

    /// <summary>The baseline: one organisation row by primary key, for random organisations.</summary>
    public Uri[] BaselineReads(Uri baseAddress, int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => new Uri(baseAddress, $"/bench/baseline/{Communes[random.Next(Communes.Count)].Id}")).ToArray();
    }
}
