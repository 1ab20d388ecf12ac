using System.Diagnostics;
using System.Text.RegularExpressions;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// The commands of the README and of the guides (<c>openapi/guides/*.md</c>) are run as written, so none goes stale:
/// every fenced block marked <c>sh</c> or <c>bash</c> is run, the blocks of one file in order in one bash session
/// (<c>set -euo pipefail</c>: the first failing command fails the test), from the repository root, against a real API
/// on Kestrel over a fresh database (a newcomer's), its webhook dispatcher on. A block that cannot run here is preceded
/// by <c>&lt;!-- not run: the reason --&gt;</c>. The session gets <c>API</c> and <c>ADMIN_KEY</c>; the README's CLI
/// calls (<c>dotnet run --project src/CoordinationHub.Api -- verb…</c>) run the same program, already built, over the
/// same database.
/// </summary>
public abstract class GuideCommandTests
{
    protected abstract ApiFixture NewDatabase();

    [Fact]
    public async Task Every_command_of_the_README_and_the_guides_runs_against_a_fresh_API()
    {
        var fresh = NewDatabase();
        await fresh.InitializeAsync();
        var shims = Directory.CreateTempSubdirectory("coordinationhub-guides-");
        try
        {
            await using var server = LiveServer.Start(fresh, new Dictionary<string, string> { ["Webhooks:Dispatch"] = "true" });
            WriteDotnetShim(shims.FullName);

            var failures = new List<string>();
            foreach (var file in GuideBlocks.Files())
            {
                var blocks = GuideBlocks.Extract(file).Where(b => b.Runs).ToList();
                if (blocks.Count == 0) continue;
                var (code, output) = await RunAsync(file, blocks, server.Url, fresh, shims.FullName);
                if (code != 0) failures.Add($"{Path.GetRelativePath(GuideBlocks.Root, file)} failed (exit {code}):\n{output}");
            }
            Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        }
        finally
        {
            shims.Delete(recursive: true);
            await fresh.DisposeAsync();
        }
    }

    private static async Task<(int Code, string Output)> RunAsync(
        string file, List<GuideBlocks.Block> blocks, string url, ApiFixture fresh, string shims)
    {
        var script = Path.Combine(shims, Path.GetFileNameWithoutExtension(file) + ".sh");
        await File.WriteAllTextAsync(script, "set -euo pipefail\n" + string.Join("\n", blocks.Select(b =>
            $"# {Path.GetFileName(file)}, line {b.Line}\n{b.Text}")));
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = GuideBlocks.Root, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.ArgumentList.Add(script);
        start.Environment["API"] = url;
        start.Environment["ADMIN_KEY"] = fresh.AdminKey;
        start.Environment["PATH"] = shims + ":" + Environment.GetEnvironmentVariable("PATH");
        // What the CLI verbs read: the same database and key ring as the server.
        start.Environment["ConnectionStrings__CoordinationHub"] = fresh.ConnectionString;
        start.Environment["Database__Provider"] = fresh.Provider.ToString();
        start.Environment["PersonalData__KeyRingPath"] = fresh.KeyRingPath;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, "(timed out after 3 minutes)\n" + await stdout + await stderr);
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>
    /// <c>dotnet</c> first on the session's PATH: <c>dotnet run --project src/CoordinationHub.Api -- …</c> runs the API's
    /// assembly beside the tests (the same program, without a second build); anything else goes to the real dotnet.
    /// </summary>
    private static void WriteDotnetShim(string directory)
    {
        var real = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(d => Path.Combine(d, "dotnet")).FirstOrDefault(File.Exists) ?? "dotnet";
        var api = typeof(Program).Assembly.Location;
        var shim = Path.Combine(directory, "dotnet");
        File.WriteAllText(shim, $"""
            #!/bin/sh
            if [ "$1 $2 $3 $4" = "run --project src/CoordinationHub.Api --" ]; then shift 4; exec "{real}" "{api}" "$@"; fi
            exec "{real}" "$@"

            """);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(shim, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}

[Collection(SqliteCollection.Name)]
public sealed class GuideCommandTests_Sqlite : GuideCommandTests { protected override ApiFixture NewDatabase() => new SqliteFixture(); }

[Collection(PostgresCollection.Name)]
public sealed class GuideCommandTests_Postgres : GuideCommandTests { protected override ApiFixture NewDatabase() => new PostgresFixture(); }

/// <summary>The fenced blocks of the README and the guides, and whether each is run.</summary>
public static partial class GuideBlocks
{
    public static readonly string Root = ContractConformance.RepoRoot();

    /// <param name="Runs">A <c>sh</c> or <c>bash</c> block not preceded by a <c>not run</c> line.</param>
    /// <param name="Reason">Why it is not run (from the line above it), else null.</param>
    public sealed record Block(int Line, string Language, string Text, bool Runs, string? Reason);

    public static IEnumerable<string> Files() =>
        [Path.Combine(Root, "README.md"), .. Directory.GetFiles(Path.Combine(Root, "openapi", "guides"), "*.md").Order(StringComparer.Ordinal)];

    public static List<Block> Extract(string file)
    {
        var lines = File.ReadAllLines(file);
        var blocks = new List<Block>();
        for (var i = 0; i < lines.Length; i++)
        {
            var open = Fence().Match(lines[i]);
            if (!open.Success) continue;
            var indent = open.Groups[1].Value.Length;
            var language = open.Groups[2].Value;
            var body = new List<string>();
            var first = i + 1;
            for (i++; i < lines.Length && !lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal); i++)
                body.Add(lines[i].Length >= indent && lines[i][..indent].Trim().Length == 0 ? lines[i][indent..] : lines[i]);
            var above = first - 2;
            while (above >= 0 && lines[above].Trim().Length == 0) above--;
            var notRun = above >= 0 ? NotRun().Match(lines[above].Trim()) : Match.Empty;
            var shell = language is "sh" or "bash";
            blocks.Add(new Block(first, language, string.Join("\n", body), shell && !notRun.Success,
                notRun.Success ? notRun.Groups[1].Value.Trim() : null));
        }
        return blocks;
    }

    [GeneratedRegex(@"^(\s*)```(\w*)\s*$")]
    private static partial Regex Fence();

    [GeneratedRegex(@"^<!--\s*not run:(.*)-->$")]
    private static partial Regex NotRun();
}
