using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;

namespace CoordinationHub.Features.Pages;

/// <summary>
/// The frame of every page: DSFR header and footer, skip links, French. Plain HTML built in C#, no JavaScript:
/// the pages are two forms and some text, which a template engine would not make shorter.
/// </summary>
public static class PageLayout
{
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);

    /// <summary>Text as HTML: encoded, accents kept as they are.</summary>
    public static string H(string? text) => text is null ? "" : Encoder.Encode(text);

    /// <summary>Text as a URL's query value.</summary>
    public static string U(string text) => Uri.EscapeDataString(text);

    private static readonly string[] Months =
        ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"];

    /// <summary>"5 décembre 2026" (the host runs with invariant globalization: no French culture to ask).</summary>
    public static string Date(DateOnly d) => $"{(d.Day == 1 ? "1er" : d.Day.ToString())} {Months[d.Month - 1]} {d.Year}";

    /// <summary>
    /// The whole page. <paramref name="stateBranding"/> shows the "République Française" bloc-marque of the DSFR header:
    /// the design system's terms of use reserve it to the State's services (configuration <c>Pages:StateBranding</c>).
    /// </summary>
    public static string Page(string title, string body, bool stateBranding)
    {
        var brand = stateBranding ? """<div class="fr-header__brand-top"><div class="fr-header__logo"><p class="fr-logo">République<br>Française</p></div></div>""" : "";
        var footerBrand = stateBranding ? """<div class="fr-footer__brand"><p class="fr-logo">République<br>Française</p></div>""" : "";
        return $$"""
            <!DOCTYPE html>
            <html lang="fr">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{H(title)}} — CoordinationHub</title>
            <link rel="stylesheet" href="{{DsfrAssets.Bundle}}">
            </head>
            <body>
            <div class="fr-skiplinks"><nav class="fr-container" aria-label="Accès rapide"><ul class="fr-skiplinks__list">
            <li><a class="fr-link" href="#contenu">Contenu</a></li><li><a class="fr-link" href="#pied">Pied de page</a></li>
            </ul></nav></div>
            <header class="fr-header"><div class="fr-header__body"><div class="fr-container"><div class="fr-header__body-row">
            <div class="fr-header__brand">{{brand}}
            <div class="fr-header__service"><a href="/communes"><p class="fr-header__service-title">CoordinationHub</p></a>
            <p class="fr-header__service-tagline">Qui fait quoi dans l’action sociale, commune par commune</p></div>
            </div></div></div></div>
            <nav class="fr-container fr-py-1w" aria-label="Menu principal"><ul class="fr-btns-group fr-btns-group--inline fr-btns-group--sm">
            <li><a class="fr-btn fr-btn--tertiary" href="/communes">Qui fait quoi ?</a></li>
            <li><a class="fr-btn fr-btn--tertiary" href="/observatoire">Observatoire</a></li>
            </ul></nav>
            </header>
            <main id="contenu" class="fr-container fr-py-4w" tabindex="-1">
            {{body}}
            </main>
            <footer class="fr-footer" id="pied"><div class="fr-container">
            <div class="fr-footer__body">{{footerBrand}}<div class="fr-footer__content">
            <p class="fr-footer__content-desc">Les organismes responsables, les délégations et leurs conventions sont ceux que les départements, communes et CCAS ont enregistrés dans CoordinationHub. Les indicateurs respectent le secret statistique.</p>
            </div></div>
            <div class="fr-footer__bottom"><ul class="fr-footer__bottom-list">
            <li class="fr-footer__bottom-item"><a class="fr-footer__bottom-link" href="/openapi/v1.json">API (OpenAPI)</a></li>
            <li class="fr-footer__bottom-item"><span class="fr-footer__bottom-link">Accessibilité : non conforme (pas d’audit RGAA ; tests automatisés WCAG 2.1 AA)</span></li>
            </ul>
            <div class="fr-footer__bottom-copy"><p>Système de design de l’État (DSFR {{DsfrAssets.Version}}), licence etalab-2.0.</p></div>
            </div></div></footer>
            </body>
            </html>
            """;
    }

    /// <summary>An HTML answer, with the server's time to build it (Server-Timing).</summary>
    public static IResult Html(string html, long startedAt, int status = 200) =>
        new HtmlResult(html, status, System.Diagnostics.Stopwatch.GetElapsedTime(startedAt));

    private sealed class HtmlResult(string html, int status, TimeSpan elapsed) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            http.Response.StatusCode = status;
            http.Response.ContentType = "text/html; charset=utf-8";
            http.Response.Headers["Server-Timing"] = $"app;dur={elapsed.TotalMilliseconds:F1}";
            http.Response.Headers.CacheControl = "public, max-age=60";
            http.Response.Headers.Vary = "Accept-Encoding";
            var bytes = Encoding.UTF8.GetBytes(html);
            if (!http.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
                return http.Response.Body.WriteAsync(bytes).AsTask();
            http.Response.Headers.ContentEncoding = "gzip";
            using var output = new MemoryStream();
            using (var gzip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Fastest)) gzip.Write(bytes);
            return http.Response.Body.WriteAsync(output.ToArray()).AsTask();
        }
    }

    /// <summary>The commune search bar (a GET form: the results have an address).</summary>
    public static string SearchForm(string action, string? text) => $"""
        <form method="get" action="{action}" role="search" class="fr-mb-4w"><div class="fr-search-bar fr-search-bar--lg">
        <label class="fr-label" for="q">Nom de la commune</label>
        <input class="fr-input" type="search" id="q" name="q" autocomplete="off" value="{H(text)}">
        <button class="fr-btn" type="submit">Rechercher</button></div></form>
        """;

    public static string ErrorBody(string title, string detail) =>
        $"""<h1>{H(title)}</h1><p>{H(detail)}</p><p><a class="fr-link" href="/communes">Chercher une commune</a></p>""";
}
