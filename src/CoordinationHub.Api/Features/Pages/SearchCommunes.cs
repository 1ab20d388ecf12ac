using System.Runtime.CompilerServices;
using System.Text;
using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Features.Directory;
using Mediator;
using static CoordinationHub.Features.Pages.PageLayout;

namespace CoordinationHub.Features.Pages;

/// <summary>Communes whose name contains the text, accents, case and punctuation ignored ("st-etienne" does not find Saint-Étienne; "saint etienne" does).</summary>
public sealed record SearchCommunesQuery(string Text) : IQuery<CommuneSearch>;

public sealed record CommuneHit(string Code, string Name, string DepartementCode, string? EpciName);

public sealed record CommuneSearch(string Text, int Total, IReadOnlyList<CommuneHit> Hits);

/// <summary>
/// Searches the communes of the competence map in memory: 35,000 names scanned in about a millisecond, no
/// query to the database. The names are normalised once per set of communes (a new snapshot of the map keeps the set
/// unless the directory's communes changed).
/// </summary>
public sealed class SearchCommunesHandler(CompetenceMapCache cache) : IQueryHandler<SearchCommunesQuery, CommuneSearch>
{
    public const int MaxHits = 50;

    private static readonly ConditionalWeakTable<System.Collections.Frozen.FrozenDictionary<string, CompetenceMapCache.Commune>, (string Name, CompetenceMapCache.Commune Commune)[]> Names = new();

    public async ValueTask<CommuneSearch> Handle(SearchCommunesQuery query, CancellationToken ct)
    {
        var map = await cache.GetAsync(0, ct);
        var text = SearchText.Normalize(query.Text.Length > 100 ? query.Text[..100] : query.Text);
        if (text.Length == 0) return new CommuneSearch(query.Text, 0, []);
        var names = Names.GetValue(map.CommunesByCode, communes => communes.Values.Where(c => c.IsActive)
            .Select(c => (SearchText.Normalize(c.Name), c)).ToArray());
        var found = new List<(int Rank, string Name, CompetenceMapCache.Commune Commune)>();
        foreach (var (name, commune) in names)
        {
            var at = name.IndexOf(text, StringComparison.Ordinal);
            if (at < 0 && commune.Code != query.Text.Trim().ToUpperInvariant()) continue;
            // The name itself first, then names that begin with the text, then a word of the name, then anywhere.
            var rank = at < 0 || name.Length == text.Length ? 0 : at == 0 ? 1 : name[at - 1] == ' ' ? 2 : 3;
            found.Add((rank, name, commune));
        }
        var hits = found.OrderBy(f => f.Rank).ThenBy(f => f.Name, StringComparer.Ordinal).ThenBy(f => f.Commune.DepartementCode, StringComparer.Ordinal)
            .Take(MaxHits)
            .Select(f => new CommuneHit(f.Commune.Code, f.Commune.Name, f.Commune.DepartementCode,
                f.Commune.EpciId is { } epci && map.Organisations.TryGetValue(epci, out var e) ? e.Name : null))
            .ToList();
        return new CommuneSearch(query.Text, found.Count, hits);
    }

    public static string Render(CommuneSearch? search)
    {
        var html = new StringBuilder();
        html.Append("""
            <h1>Qui fait quoi dans ma commune ?</h1>
            <p class="fr-text--lead">Pour chaque compétence de l’action sociale : l’organisme responsable, à quel titre, comment le joindre et le délai dans lequel il répond à une orientation.</p>
            """);
        html.Append(SearchForm("/communes", search?.Text));
        if (search is null) return html.ToString();
        if (search.Hits.Count == 0)
        {
            html.Append($"""<p role="status">Aucune commune ne porte un nom contenant « {H(search.Text)} ».</p>""");
            return html.ToString();
        }
        html.Append($"""<h2 role="status">{search.Total} commune{(search.Total > 1 ? "s" : "")} trouvée{(search.Total > 1 ? "s" : "")}""");
        if (search.Total > search.Hits.Count) html.Append($" ({search.Hits.Count} premières ; précisez le nom)");
        html.Append("</h2><ul>");
        foreach (var hit in search.Hits)
        {
            html.Append($"""<li><a class="fr-link" href="/communes/{hit.Code}">{H(hit.Name)}</a> — département {H(hit.DepartementCode)}, code INSEE {hit.Code}""");
            if (hit.EpciName is not null) html.Append($", {H(hit.EpciName)}");
            html.Append("</li>");
        }
        html.Append("</ul>");
        return html.ToString();
    }
}
