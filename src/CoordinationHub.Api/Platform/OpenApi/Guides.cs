namespace CoordinationHub.Platform.OpenApi;

/// <summary>
/// The guides of <c>openapi/guides/</c>, embedded at build and served as Markdown beside Swagger UI: partners read the
/// contract and its guides together (the contract's description links here). Public, read-only, outside the contract.
/// </summary>
public static class Guides
{
    private const string Prefix = "guides/";
    private const string Markdown = "text/markdown; charset=utf-8";

    /// <summary>Each guide by file name (<c>pushing-delegations.md</c>), as committed.</summary>
    public static readonly IReadOnlyDictionary<string, string> All = Load();

    public static void MapGuides(this WebApplication app)
    {
        app.MapGet("/guides", () => TypedResults.Text(Index(), Markdown)).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/guides/{name}", (string name) =>
                All.TryGetValue(name.EndsWith(".md", StringComparison.Ordinal) ? name : name + ".md", out var text)
                    ? Results.Text(text, Markdown)
                    : Results.NotFound())
            .AllowAnonymous().ExcludeFromDescription();
    }

    private static string Index() =>
        "# CoordinationHub guides\n\nThe contract: [/openapi/v1.json](/openapi/v1.json), browsable at [/swagger](/swagger).\n\n"
        + string.Concat(All.Keys.Order(StringComparer.Ordinal).Select(name => $"- [{Title(All[name])}](/guides/{name})\n"));

    private static string Title(string text) =>
        text.Split('\n').FirstOrDefault(l => l.StartsWith("# ", StringComparison.Ordinal))?[2..].Trim() ?? "";

    private static Dictionary<string, string> Load()
    {
        var assembly = typeof(Guides).Assembly;
        var guides = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!);
            guides[resource[Prefix.Length..]] = reader.ReadToEnd();
        }
        return guides;
    }
}
