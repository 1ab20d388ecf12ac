using System.Globalization;
using System.Text;
using static CoordinationHub.Features.Pages.PageLayout;

namespace CoordinationHub.Features.Pages;

/// <summary>A bar of a chart: a value, or a figure kept secret (drawn as a dashed outline, never as 0).</summary>
public sealed record Bar(string Label, double? Value, bool Suppressed);

/// <summary>
/// Bar charts drawn on the server as SVG: no script, readable by screen readers through their title and
/// description (role="img"), and always next to the table that holds the same figures.
/// </summary>
public static class SvgCharts
{
    private static string N(double x) => x.ToString("0.#", CultureInfo.InvariantCulture);

    /// <summary>Vertical bars over time (one per period).</summary>
    public static string Columns(string id, string title, string description, IReadOnlyList<Bar> bars)
    {
        const int width = 640, height = 220, left = 40, bottom = 40, top = 10;
        var max = Math.Max(1, bars.Where(b => b.Value is not null).Select(b => b.Value!.Value).DefaultIfEmpty(0).Max());
        var step = (width - left) / (double)Math.Max(1, bars.Count);
        var svg = Open(id, title, description, width, height);
        svg.Append($"""<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}"/>""");
        svg.Append($"""<text x="{left - 4}" y="{top + 10}" text-anchor="end">{N(max)}</text><text x="{left - 4}" y="{height - bottom}" text-anchor="end">0</text>""");
        for (var i = 0; i < bars.Count; i++)
        {
            var bar = bars[i];
            var x = left + i * step + step * 0.15;
            var w = step * 0.7;
            var plot = height - bottom - top;
            if (bar.Suppressed || bar.Value is null)
                svg.Append($"""<rect class="secret" x="{N(x)}" y="{top + plot / 2}" width="{N(w)}" height="{plot / 2}"/>""");
            else
            {
                var h = bar.Value.Value / max * plot;
                svg.Append($"""<rect class="bar" x="{N(x)}" y="{N(height - bottom - h)}" width="{N(w)}" height="{N(h)}"/>""");
            }
            svg.Append($"""<text x="{N(x + w / 2)}" y="{height - bottom + 16}" text-anchor="middle">{H(bar.Label)}</text>""");
        }
        return svg.Append("</svg>").ToString();
    }

    /// <summary>Horizontal bars (one per competence), with the value written at the end of each.</summary>
    public static string Rows(string id, string title, string description, IReadOnlyList<Bar> bars, string unit)
    {
        const int width = 640, left = 250, row = 26;
        var height = Math.Max(1, bars.Count) * row + 10;
        var max = Math.Max(1e-9, bars.Where(b => b.Value is not null).Select(b => b.Value!.Value).DefaultIfEmpty(0).Max());
        var svg = Open(id, title, description, width, height);
        for (var i = 0; i < bars.Count; i++)
        {
            var bar = bars[i];
            var y = 5 + i * row;
            var label = bar.Label.Length > 38 ? bar.Label[..37] + "…" : bar.Label;
            svg.Append($"""<text x="{left - 6}" y="{y + 16}" text-anchor="end">{H(label)}</text>""");
            if (bar.Suppressed || bar.Value is null)
                svg.Append($"""<rect class="secret" x="{left}" y="{y + 4}" width="60" height="16"/><text x="{left + 66}" y="{y + 16}">secret statistique</text>""");
            else
            {
                var w = bar.Value.Value / max * (width - left - 70);
                svg.Append($"""<rect class="bar" x="{left}" y="{y + 4}" width="{N(w)}" height="16"/><text x="{N(left + w + 6)}" y="{y + 16}">{N(bar.Value.Value)}{H(unit)}</text>""");
            }
        }
        return svg.Append("</svg>").ToString();
    }

    private static StringBuilder Open(string id, string title, string description, int width, int height) =>
        new StringBuilder().Append($"""<svg class="chub-chart" role="img" aria-labelledby="{id}-t {id}-d" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg"><title id="{id}-t">{H(title)}</title><desc id="{id}-d">{H(description)}</desc>""");
}
