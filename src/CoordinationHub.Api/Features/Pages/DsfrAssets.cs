using System.Collections.Frozen;
using System.IO.Compression;
using System.Reflection;
using System.Text;

namespace CoordinationHub.Features.Pages;

/// <summary>
/// The parts of the State's design system (@gouvfr/dsfr, vendored by Dsfr/vendor.sh) the pages use, embedded in the
/// assembly and served under <see cref="Root"/>: no CDN, nothing to install beside the app. The version is in the
/// path, so a browser keeps them for a year. <see cref="Bundle"/> is the core and the components used, in one file,
/// gzipped once: the full dsfr.min.css weighs 728 KB, this 40 KB on the wire.
/// </summary>
public static class DsfrAssets
{
    public const string Version = "1.15.3";
    public const string Root = "/dsfr/" + Version;
    public const string Bundle = Root + "/css/pages.css";

    private static readonly string[] Components =
        ["skiplink", "logo", "header", "footer", "link", "button", "form", "input", "search", "breadcrumb", "table", "callout", "notice", "badge"];

    private sealed record Asset(byte[] Bytes, byte[]? Gzipped, string ContentType);

    private static readonly Lazy<FrozenDictionary<string, Asset>> Assets = new(Load);

    private static FrozenDictionary<string, Asset> Load()
    {
        var assembly = typeof(DsfrAssets).Assembly;
        var files = assembly.GetManifestResourceNames().Where(n => n.StartsWith("dsfr/", StringComparison.Ordinal))
            .ToDictionary(n => n["dsfr/".Length..], n => Read(assembly, n));
        // The bundle sits one folder down, as core/core.min.css (its fonts are at ../fonts/); the components sit two
        // (component/x/x.min.css): their icon paths move up one.
        var bundle = new StringBuilder(Encoding.UTF8.GetString(files["core/core.min.css"]));
        foreach (var c in Components)
            bundle.Append('\n').Append(Encoding.UTF8.GetString(files[$"component/{c}/{c}.min.css"]).Replace("../../icons/", "../icons/", StringComparison.Ordinal));
        bundle.Append('\n').Append(PagesCss);
        files["css/pages.css"] = Encoding.UTF8.GetBytes(bundle.ToString());
        return files.ToFrozenDictionary(f => f.Key, f => Make(f.Key, f.Value));
    }

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static Asset Make(string path, byte[] bytes)
    {
        var type = Path.GetExtension(path) switch
        {
            ".css" => "text/css; charset=utf-8",
            ".svg" => "image/svg+xml",
            ".woff2" => "font/woff2",
            _ => "text/plain; charset=utf-8",
        };
        byte[]? gzipped = null;
        if (type.StartsWith("text/", StringComparison.Ordinal) || path.EndsWith(".svg", StringComparison.Ordinal))
        {
            using var output = new MemoryStream();
            using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize)) gzip.Write(bytes);
            gzipped = output.ToArray();
        }
        return new Asset(bytes, gzipped, type);
    }

    public static void MapDsfrAssets(this IEndpointRouteBuilder app) =>
        app.MapGet(Root + "/{**path}", (string path, HttpContext http) =>
            {
                if (!Assets.Value.TryGetValue(path, out var asset)) return Results.NotFound();
                http.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
                http.Response.Headers.Vary = "Accept-Encoding";
                if (asset.Gzipped is not null && http.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
                {
                    http.Response.Headers.ContentEncoding = "gzip";
                    return Results.Bytes(asset.Gzipped, asset.ContentType);
                }
                return Results.Bytes(asset.Bytes, asset.ContentType);
            })
            .AllowAnonymous().ExcludeFromDescription();

    /// <summary>What the pages add to the design system: the charts' colours and the table cells marked secret.</summary>
    private const string PagesCss = """
        .chub-chart{width:100%;height:auto;max-width:40rem}
        .chub-chart text{font-size:12px;fill:var(--text-default-grey)}
        .chub-chart .bar{fill:var(--background-action-high-blue-france)}
        .chub-chart .bar-alt{fill:var(--background-action-high-red-marianne)}
        .chub-chart .axis{stroke:var(--border-default-grey)}
        .chub-chart .secret{fill:none;stroke:var(--border-default-grey);stroke-dasharray:3 2}
        .chub-chain{margin:0;padding-left:1.25rem}
        .chub-card{border:1px solid var(--border-default-grey);padding:1rem 1rem .25rem;margin-bottom:1.5rem}
        .chub-card dl{margin:0}.chub-card dt{font-weight:700}.chub-card dd{margin:0 0 .75rem}
        .chub-secret{font-style:normal;color:var(--text-mention-grey)}
        """;
}
