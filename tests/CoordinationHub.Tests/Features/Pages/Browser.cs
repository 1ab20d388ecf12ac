using System.Diagnostics;
using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace CoordinationHub.Tests.Features.Pages;

/// <summary>
/// Debian's Chromium driven by Playwright (no browser can be downloaded here: tests/run.sh installs the
/// `chromium` package), and what the browser tests measure on a page: accessibility, width, weight, server time.
/// </summary>
public sealed class Browser : IAsyncDisposable
{
    public const string Chromium = "/usr/bin/chromium";

    private readonly IPlaywright playwright;
    public IBrowser Instance { get; }

    private Browser(IPlaywright playwright, IBrowser browser) => (this.playwright, Instance) = (playwright, browser);

    public static async Task<Browser> LaunchAsync()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: apt-get install -y chromium (tests/run.sh does)");
        var playwright = await Playwright.CreateAsync();
        // Root (CI) needs --no-sandbox.
        var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox", "--disable-gpu"] });
        return new Browser(playwright, browser);
    }

    /// <summary>
    /// What every page must hold to: no sideways scroll at 320 px; ≤ 300 KB on a first visit, all from this server;
    /// built in ≤ 200 ms (<see cref="Times"/>). Answers the figures, for the test's output.
    /// </summary>
    public async Task<string> CheckWidthWeightAndTime(string server, string path)
    {
        var narrow = await PageAsync(width: 320, height: 640);
        await narrow.GotoAsync(server + path);
        Assert.True(await Overflow(narrow) <= 0, $"{path} scrolls sideways at 320 px by {await Overflow(narrow)} px");
        var (bytes, serverMs, urls) = await Weigh(await PageAsync(), server + path);
        Assert.True(bytes <= 300 * 1024, $"{path} weighs {bytes} bytes: {string.Join(", ", urls)}");
        Assert.DoesNotContain(urls, u => !u.StartsWith(server, StringComparison.Ordinal)); // nothing from a CDN
        var (times, lastByte) = await Times(server + path);
        Assert.True(times[0] <= 200, $"{path} took at best {times[0]} ms on the server");
        return $"{path}: {bytes / 1024.0:F1} KB over {urls.Count} responses; Server-Timing {serverMs:F1} ms on the browser's visit, then "
            + $"{string.Join(" / ", times.Select(t => t.ToString("F1")))} ms; last byte {string.Join(" / ", lastByte.Select(t => t.ToString("F1")))} ms";
    }

    /// <summary>A fresh page (empty cache): what a first visit loads.</summary>
    public async Task<IPage> PageAsync(int width = 1280, int height = 900)
    {
        var context = await Instance.NewContextAsync(new() { ViewportSize = new() { Width = width, Height = height }, Locale = "fr-FR" });
        return await context.NewPageAsync();
    }

    /// <summary>axe-core at WCAG 2.1 AA (the RGAA's basis): the violations, listed.</summary>
    public static async Task<string[]> AccessibilityViolations(IPage page)
    {
        var result = await page.RunAxe(new AxeRunOptions { RunOnly = new RunOnlyOptions { Type = "tag", Values = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
        return result.Violations.Select(v => $"{v.Id}: {v.Help} ({string.Join(", ", v.Nodes.Take(3).Select(n => n.Target?.ToString()))})").ToArray();
    }

    /// <summary>The page's width beyond the viewport (0: no horizontal scroll).</summary>
    public static Task<int> Overflow(IPage page) =>
        page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth");

    /// <summary>Bytes the network carried for one visit (headers and bodies, as sent: compressed), with the document's Server-Timing.</summary>
    public static async Task<(long Bytes, double ServerMs, IReadOnlyList<string> Urls)> Weigh(IPage page, string url)
    {
        var responses = new List<IResponse>();
        page.Response += (_, r) => responses.Add(r);
        var document = await page.GotoAsync(url, new() { WaitUntil = WaitUntilState.NetworkIdle });
        Assert.Equal(200, document!.Status);
        long bytes = 0;
        foreach (var r in responses)
        {
            Assert.True(r.Ok, $"{r.Url}: {r.Status}");
            var sizes = await r.Request.SizesAsync();
            bytes += sizes.ResponseBodySize + sizes.ResponseHeadersSize;
        }
        return (bytes, ServerMs((await document.AllHeadersAsync())["server-timing"]), responses.Select(r => r.Url).ToList());
    }

    /// <summary>
    /// Three more requests for the page: its Server-Timing (time to build it) and the time to its last byte seen from the
    /// client (loopback), each sorted. The suite runs both databases' tests and the browsers at once on shared cores: the
    /// bound is checked loosely, on the best of three, and every figure is printed.
    /// </summary>
    public static async Task<(double[] ServerMs, double[] LastByteMs)> Times(string url)
    {
        using var client = new HttpClient();
        var (server, lastByte) = (new double[3], new double[3]);
        for (var i = 0; i < 3; i++)
        {
            var started = Stopwatch.GetTimestamp();
            var response = (await client.GetAsync(url)).EnsureSuccessStatusCode();
            await response.Content.ReadAsByteArrayAsync();
            lastByte[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            server[i] = ServerMs(response.Headers.GetValues("Server-Timing").Single());
        }
        Array.Sort(server);
        Array.Sort(lastByte);
        return (server, lastByte);
    }

    private static double ServerMs(string timing) =>
        double.Parse(timing[(timing.IndexOf("dur=", StringComparison.Ordinal) + 4)..], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Screenshots from the SQLite run: into TestResults/screenshots/, or into the README's docs/screenshots/
    /// when COORDINATIONHUB_SCREENSHOTS=docs (so an ordinary run leaves the tracked images alone).</summary>
    public static async Task Screenshot(IPage page, ApiFixture fx, string name)
    {
        if (fx.Provider != CoordinationHub.Platform.Data.DatabaseProvider.Sqlite) return;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CoordinationHub.sln"))) dir = dir.Parent;
        if (dir is null) return;
        var folder = Environment.GetEnvironmentVariable("COORDINATIONHUB_SCREENSHOTS") == "docs"
            ? Path.Combine(dir.FullName, "docs", "screenshots")
            : Path.Combine(dir.FullName, "TestResults", "screenshots");
        System.IO.Directory.CreateDirectory(folder);
        // The top 1,800 px of the page at 1,280 px wide: the header and the first blocks.
        await page.ScreenshotAsync(new() { Path = Path.Combine(folder, name + ".png"), FullPage = true, Clip = new() { X = 0, Y = 0, Width = 1280, Height = 1800 } });
    }

    public async ValueTask DisposeAsync()
    {
        await Instance.DisposeAsync();
        playwright.Dispose();
    }
}
