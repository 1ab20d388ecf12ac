using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using CoordinationHub.Features.Indicators;
using CoordinationHub.Platform.Errors;
using Mediator;
using Microsoft.AspNetCore.Mvc;

namespace CoordinationHub.Features.Pages;

/// <summary>
/// The pages for people (French, server-rendered, public). Not operations of the partner API: excluded from the contract.
/// </summary>
public static partial class PageEndpoints
{
    public static void MapPages(this IEndpointRouteBuilder app)
    {
        app.MapDsfrAssets();
        var pages = app.MapGroup("").AllowAnonymous().ExcludeFromDescription();

        pages.MapGet("/communes", async ([FromQuery] string? q, ISender sender, IConfiguration configuration, CancellationToken ct) =>
        {
            var started = Stopwatch.GetTimestamp();
            var search = string.IsNullOrWhiteSpace(q) ? null : await sender.Send(new SearchCommunesQuery(q), ct);
            var title = search is null ? "Qui fait quoi dans ma commune ?" : $"Recherche « {q} »";
            return PageLayout.Html(PageLayout.Page(title, SearchCommunesHandler.Render(search), Branding(configuration)), started);
        });

        pages.MapGet("/communes/{insee}", async (string insee, [FromQuery] string? date, ISender sender, IConfiguration configuration,
            TimeProvider clock, CancellationToken ct) =>
        {
            var started = Stopwatch.GetTimestamp();
            var branding = Branding(configuration);
            if (!Insee().IsMatch(insee)) return NotFound(started, branding, insee);
            var on = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
            if (!string.IsNullOrEmpty(date) && !DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out on))
                return PageLayout.Html(PageLayout.Page("Date invalide", PageLayout.ErrorBody("Date invalide",
                    $"« {date} » n’est pas une date (jour/mois/année)."), branding), started, 400);
            try
            {
                var page = await sender.Send(new GetCommunePageQuery(insee, on), ct);
                return PageLayout.Html(PageLayout.Page($"Qui fait quoi à {page.Name}", CommunePageView.Render(page), branding), started);
            }
            catch (NotFoundException)
            {
                return NotFound(started, branding, insee);
            }
        });
        MapObservatoire(pages);
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<CompetenceMap.CompetenceMapCache.Snapshot, (string Code, string Name)[]> Departements = new();

    private static void MapObservatoire(RouteGroupBuilder pages)
    {
        pages.MapGet("/observatoire", async ([FromQuery] string? q, ISender sender, CompetenceMap.CompetenceMapCache cache, IConfiguration configuration,
            CancellationToken ct) =>
        {
            var started = Stopwatch.GetTimestamp();
            var search = string.IsNullOrWhiteSpace(q) ? null : await sender.Send(new SearchCommunesQuery(q), ct);
            var map = await cache.GetAsync(0, ct);
            // Read once per snapshot of the map: its organisations are the whole directory (35,000 communes).
            var departements = Departements.GetValue(map, m => m.Organisations.Values.Where(o => o.Kind == "DEPARTEMENT" && o.Code is not null)
                .Select(o => (o.Code!, o.Name)).OrderBy(d => d.Item1, StringComparer.Ordinal).ToArray());
            return PageLayout.Html(PageLayout.Page("Observatoire des besoins sociaux", ObservatoireView.Home(search, departements), Branding(configuration)), started);
        });
        foreach (var (segment, level) in new[] { ("communes", TerritoryLevel.COMMUNE), ("epci", TerritoryLevel.EPCI), ("departements", TerritoryLevel.DEPARTEMENT) })
            pages.MapGet($"/observatoire/{segment}/{{code}}", async (string code, ISender sender, IConfiguration configuration, CancellationToken ct) =>
            {
                var started = Stopwatch.GetTimestamp();
                var branding = Branding(configuration);
                if (code.Length > 9) return NotFound(started, branding, code);
                try
                {
                    var page = await sender.Send(new GetObservatoirePageQuery(level, code), ct);
                    return PageLayout.Html(PageLayout.Page($"Observatoire : {page.Needs.Territory.Name}", ObservatoireView.Render(page), branding), started);
                }
                catch (Exception e) when (e is ProblemException or FluentValidation.ValidationException)
                {
                    return NotFound(started, branding, code);
                }
            });
    }

    public static bool Branding(IConfiguration configuration) => configuration.GetValue("Pages:StateBranding", true);

    public static IResult NotFound(long started, bool branding, string what) =>
        PageLayout.Html(PageLayout.Page("Page introuvable", PageLayout.ErrorBody("Page introuvable",
            $"Aucune commune, intercommunalité ou département ne porte le code « {what} »."), branding), started, 404);

    [GeneratedRegex("^(\\d{5}|2[AB]\\d{3})$", RegexOptions.IgnoreCase)]
    public static partial Regex Insee();
}
