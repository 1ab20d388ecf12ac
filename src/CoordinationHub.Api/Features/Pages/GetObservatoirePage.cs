using System.Globalization;
using System.Text;
using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Features.Indicators;
using Mediator;
using static CoordinationHub.Features.Pages.PageLayout;

namespace CoordinationHub.Features.Pages;

/// <summary>The Observatoire of a commune, an EPCI or a département: the public (suppressed) indicators, as charts and tables.</summary>
public sealed record GetObservatoirePageQuery(TerritoryLevel Level, string Code) : IQuery<ObservatoirePage>;

/// <summary><see cref="Coverage"/> is the département's: the territory's own, or the one a commune or EPCI lies in.</summary>
public sealed record ObservatoirePage(
    NeedIndicators Needs, AnswerIndicators Answers, DelegationCoverage? Coverage, IReadOnlyDictionary<string, string> Labels, (string Siren, string Name)? Epci);

/// <summary>Sends the indicator queries (Features/Indicators): the page computes nothing itself.</summary>
public sealed class GetObservatoirePageHandler(ISender sender, CompetenceMapCache cache) : IQueryHandler<GetObservatoirePageQuery, ObservatoirePage>
{
    public async ValueTask<ObservatoirePage> Handle(GetObservatoirePageQuery query, CancellationToken ct)
    {
        var map = await cache.GetAsync(0, ct);
        var needs = await sender.Send(new GetNeedIndicatorsQuery(query.Level, query.Code), ct);
        var answers = await sender.Send(new GetAnswerIndicatorsQuery(query.Level, query.Code, needs.From, needs.To), ct);
        var departement = query.Level switch
        {
            TerritoryLevel.DEPARTEMENT => query.Code,
            TerritoryLevel.COMMUNE => map.CommunesByCode.GetValueOrDefault(query.Code.ToUpperInvariant())?.DepartementCode,
            _ => null, // an EPCI may straddle départements: its communes' pages link to theirs
        };
        var coverage = departement is null ? null : await sender.Send(new GetDelegationCoverageQuery(departement), ct);
        var epci = query.Level == TerritoryLevel.COMMUNE && map.CommunesByCode.GetValueOrDefault(query.Code.ToUpperInvariant())?.EpciId is { } id
            && map.Organisations.TryGetValue(id, out var e) && e.Code is not null ? (e.Code, e.Name) : ((string, string)?)null;
        return new ObservatoirePage(needs, answers, coverage, map.Catalogue.ToDictionary(c => c.Code, c => c.Label), epci);
    }
}

public static class ObservatoireView
{
    private static readonly string[] MonthsShort = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."];

    /// <summary>The public CSV of an indicator (the open-data endpoint of Features/Indicators).</summary>
    public static string CsvUrl(string indicator, IndicatorTerritory territory) =>
        $"/v1/indicators/{indicator}?level={territory.Level}&code={U(territory.Code)}&format=csv";

    public static string Path(TerritoryLevel level, string code) => level switch
    {
        TerritoryLevel.COMMUNE => $"/observatoire/communes/{U(code)}",
        TerritoryLevel.EPCI => $"/observatoire/epci/{U(code)}",
        _ => $"/observatoire/departements/{U(code)}",
    };

    private static string Period(string column) =>
        DateOnly.TryParseExact(column + "-01", "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)
            ? $"{MonthsShort[d.Month - 1]} {d.Year % 100:00}" : column;

    private static string Count(IndicatorCell cell) => cell.Suppressed || cell.Value is null
        ? """<em class="chub-secret">secret statistique</em>""" : cell.Value.Value.ToString("N0", CultureInfo.InvariantCulture).Replace(",", " ");

    private static string Measure(IndicatorMeasure m, Func<double, string> format) => m.Suppressed || m.Value is null
        ? """<em class="chub-secret">secret statistique</em>""" : format(m.Value.Value);

    private static string Percent(double share) => (share * 100).ToString("0.#", CultureInfo.InvariantCulture) + " %";
    private static string Number(double x) => x.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Label(ObservatoirePage page, string code) => code == "TOTAL" ? "Toutes compétences" : page.Labels.GetValueOrDefault(code, code);

    private static void Table(StringBuilder html, string caption, string[] headers, IEnumerable<string[]> rows)
    {
        // The container scrolls sideways on a narrow screen: focusable, so that a keyboard can scroll it too.
        html.Append($"""<div class="fr-table"><div class="fr-table__wrapper"><div class="fr-table__container" tabindex="0" role="region" aria-label="{H(caption)}"><div class="fr-table__content"><table><caption>{H(caption)}</caption><thead><tr>""");
        foreach (var h in headers) html.Append($"<th scope=\"col\">{H(h)}</th>");
        html.Append("</tr></thead><tbody>");
        foreach (var row in rows)
        {
            html.Append($"<tr><th scope=\"row\">{row[0]}</th>");
            foreach (var cell in row.Skip(1)) html.Append($"<td>{cell}</td>");
            html.Append("</tr>");
        }
        html.Append("</tbody></table></div></div></div></div>");
    }

    private static void Csv(StringBuilder html, string url, string what) =>
        html.Append($"""<p><a class="fr-link" href="{H(url)}">Télécharger {H(what)} (CSV)</a></p>""");

    public static string Render(ObservatoirePage page)
    {
        var needs = page.Needs;
        var territory = needs.Territory;
        var html = new StringBuilder();
        var kind = territory.Level switch { TerritoryLevel.COMMUNE => "Commune", TerritoryLevel.EPCI => "Intercommunalité", _ => "Département" };
        html.Append($"""
            <nav class="fr-breadcrumb" aria-label="vous êtes ici :"><ol class="fr-breadcrumb__list">
            <li><a class="fr-breadcrumb__link" href="/observatoire">Observatoire</a></li>
            <li><a class="fr-breadcrumb__link" aria-current="page">{H(territory.Name)}</a></li></ol></nav>
            <h1>Observatoire : {H(territory.Name)}</h1>
            <p>{kind} {H(territory.Code)}{(territory.Population is { } p ? $", {p.ToString("N0", CultureInfo.InvariantCulture).Replace(",", " ")} habitants" : "")}.
            Orientations envoyées du {Date(needs.From)} au {Date(needs.To)}.</p>
            """);
        if (territory.Level == TerritoryLevel.COMMUNE)
            html.Append($"""<p><a class="fr-link" href="/communes/{U(territory.Code)}">Qui fait quoi à {H(territory.Name)}</a></p>""");
        if (page.Epci is { } epci)
            html.Append($"""<p><a class="fr-link" href="{Path(TerritoryLevel.EPCI, epci.Siren)}">Observatoire de l’intercommunalité : {H(epci.Name)}</a></p>""");
        if (needs.Secrecy.Applied)
            html.Append($"""<div class="fr-callout"><p class="fr-callout__text">Secret statistique : aucun chiffre inférieur à {needs.Secrecy.Threshold} orientations n’est publié, ni aucun chiffre qui permettrait de le retrouver à partir des totaux. Ces cases portent la mention « secret statistique » ; elles ne valent pas zéro.</p></div>""");

        // Needs over time: the chart draws the monthly totals, the table gives them and each competence's.
        html.Append("""<h2 class="fr-mt-4w">Besoins orientés au fil du temps</h2>""");
        var table = needs.Table;
        var bars = table.Columns.Select((c, i) => new Bar(Period(c), table.ColumnTotals[i].Value, table.ColumnTotals[i].Suppressed)).ToList();
        html.Append(SvgCharts.Columns("besoins", $"Orientations par mois, {territory.Name}",
            "Nombre d’orientations envoyées chaque mois ; une barre en pointillés est un mois couvert par le secret statistique. Les chiffres sont dans le tableau qui suit.", bars));
        Table(html, "Orientations par mois", ["Mois", "Orientations"],
            table.Columns.Select((c, i) => new[] { H(Period(c)), Count(table.ColumnTotals[i]) }).Append(["Total", Count(table.GrandTotal)]));
        Table(html, "Orientations par compétence", ["Compétence", "Orientations", "Pour 1 000 habitants"],
            table.Rows.Select(r => new[] { H(Label(page, r.Key)), Count(r.Total), r.Total.RatePer1000 is { } rate && !r.Total.Suppressed ? Number(rate) : "—" }));
        Csv(html, CsvUrl("needs", territory), "les orientations par compétence et par mois");

        // Answer times.
        var answers = page.Answers;
        html.Append("""<h2 class="fr-mt-4w">Délais et réponses</h2>""");
        html.Append(SvgCharts.Rows("delais", $"Délai médian de première réponse par compétence, {territory.Name}",
            "Heures entre l’envoi d’une orientation et la première réponse de l’organisme, en médiane ; « secret statistique » quand trop peu d’orientations. Les chiffres sont dans le tableau qui suit.",
            answers.Competences.Select(c => new Bar(Label(page, c.Competence), c.FirstResponseMedianHours.Value, c.FirstResponseMedianHours.Suppressed)).ToList(), " h"));
        Table(html, "Réponses par compétence", ["Compétence", "Reçues", "1re réponse, médiane (h)", "1re réponse, 9e décile (h)", "Issue, médiane (j)", "Dans le délai", "En retard aujourd’hui", "Transférées", "Réorientées", "Closes sans issue"],
            answers.Competences.Append(answers.Total).Select(c => new[]
            {
                H(Label(page, c.Competence)), Count(c.Received), Measure(c.FirstResponseMedianHours, Number), Measure(c.FirstResponseP90Hours, Number),
                Measure(c.OutcomeMedianDays, Number), Measure(c.AnsweredInTimeShare, Percent), Measure(c.OverdueNowShare, Percent),
                Measure(c.TransferredShare, Percent), Measure(c.ReorientedShare, Percent), Measure(c.ClosedWithoutOutcomeShare, Percent),
            }));
        Csv(html, CsvUrl("answers", territory), "les délais et réponses");
        foreach (var (t, caption) in new[] { (answers.Outcomes, "Issues des orientations"), (answers.DeclineReasons, "Motifs de refus") })
            Table(html, caption, [t.RowDimension == "competence" ? "Compétence" : "Issue", .. t.Columns, "Total"],
                t.Rows.Select(r => new[] { H(page.Labels.GetValueOrDefault(r.Key, r.Label)) }.Concat(r.Cells.Select(Count)).Append(Count(r.Total)).ToArray()));

        // Coverage of delegations.
        html.Append("""<h2 class="fr-mt-4w">Couverture des délégations</h2>""");
        if (page.Coverage is not { } coverage)
            html.Append("<p>La couverture des délégations se lit par département : voir la page de chacune des communes de l’intercommunalité.</p>");
        else
        {
            html.Append($"""<p>Dans le département {H(coverage.Departement.Name)}, le {Date(coverage.On)} : part des communes et des habitants dont l’organisme responsable est un délégataire plutôt que le titulaire désigné par la loi.</p>""");
            html.Append(SvgCharts.Rows("couverture", $"Part de la population couverte par une délégation, {coverage.Departement.Name}",
                "Pourcentage des habitants du département dont l’organisme responsable est un délégataire, par compétence. Les chiffres sont dans le tableau qui suit.",
                coverage.Competences.Select(c => new Bar(Label(page, c.Competence), c.PopulationShare is { } s ? Math.Round(s * 100, 1) : null, false)).ToList(), " %"));
            Table(html, "Couverture des délégations par compétence", ["Compétence", "Communes", "Communes déléguées", "Part des communes", "Part des habitants"],
                coverage.Competences.Select(c => new[]
                {
                    H(Label(page, c.Competence)), c.Communes.ToString(CultureInfo.InvariantCulture), c.DelegatedCommunes.ToString(CultureInfo.InvariantCulture),
                    c.CommunesShare is { } a ? Percent(a) : "—", c.PopulationShare is { } b ? Percent(b) : "—",
                }));
            Csv(html, $"/v1/indicators/delegation-coverage?departement={U(coverage.Departement.Code)}&format=csv", "la couverture des délégations");
            if (coverage.ExpiringConventions.Count > 0)
                Table(html, "Conventions qui prennent fin dans les 90 jours", ["Convention", "Fin", "Compétences"],
                    coverage.ExpiringConventions.Select(c => new[] { H(c.Reference), Date(c.EndOn), H(string.Join(", ", c.Competences.Select(x => Label(page, x)))) }));
            if (territory.Level != TerritoryLevel.DEPARTEMENT)
                html.Append($"""<p><a class="fr-link" href="{Path(TerritoryLevel.DEPARTEMENT, coverage.Departement.Code)}">Observatoire du département {H(coverage.Departement.Name)}</a></p>""");
        }
        return html.ToString();
    }

    /// <summary>The Observatoire's front page: a commune by name, or a département from the list.</summary>
    public static string Home(CommuneSearch? search, IEnumerable<(string Code, string Name)> departements)
    {
        var html = new StringBuilder();
        html.Append("""
            <h1>Observatoire des besoins sociaux</h1>
            <p class="fr-text--lead">Les besoins orientés d’un territoire, les délais de réponse et la couverture des délégations, tirés de la coordination elle-même, sous secret statistique.</p>
            """);
        html.Append(SearchForm("/observatoire", search?.Text));
        if (search is not null)
        {
            html.Append(search.Hits.Count == 0 ? $"""<p role="status">Aucune commune ne porte un nom contenant « {H(search.Text)} ».</p>""" : "<ul>");
            foreach (var hit in search.Hits)
                html.Append($"""<li><a class="fr-link" href="{Path(TerritoryLevel.COMMUNE, hit.Code)}">{H(hit.Name)}</a> — département {H(hit.DepartementCode)}</li>""");
            if (search.Hits.Count > 0) html.Append("</ul>");
        }
        html.Append("<h2>Départements</h2><ul>");
        foreach (var (code, name) in departements)
            html.Append($"""<li><a class="fr-link" href="{Path(TerritoryLevel.DEPARTEMENT, code)}">{H(code)} — {H(name)}</a></li>""");
        return html.Append("</ul>").ToString();
    }
}
