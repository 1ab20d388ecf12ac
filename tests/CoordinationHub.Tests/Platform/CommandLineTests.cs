using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Platform;

/// <summary>The CLI verbs, run as a real process on the fixture's database.</summary>
public abstract class CommandLineTests(ApiFixture fx) : ApiTests(fx)
{
    private async Task<(int Exit, string[] Lines, string Error)> Run(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.ArgumentList.Add($"--Database:Provider={Fx.Provider}");
        start.ArgumentList.Add($"--ConnectionStrings:CoordinationHub={Fx.ConnectionString}");
        start.ArgumentList.Add("--Logging:LogLevel:Default=Warning");
        start.ArgumentList.Add($"--PersonalData:KeyRingPath={Fx.KeyRingPath}");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        return (process.ExitCode, (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), await error);
    }

    [Fact]
    public async Task Apikeys_create_prints_a_working_key_on_its_last_line_and_revoke_stops_it()
    {
        var (exit, lines, error) = await Run("apikeys", "create", "--organisation", "59350", "--scopes", "directory:read");
        Assert.True(exit == 0, error);
        var key = lines[^1];
        Assert.StartsWith("chk_", key);
        Assert.Contains("Lille", lines[^2]);
        await Fx.Client(key).GetAsync("/v1/organisations?limit=1").Ok();
        await (await Fx.Client(key).PostJson("/v1/organisations", new { kind = "PARTNER", name = "x", partnerCategory = "OTHER" })).Problem(HttpStatusCode.Forbidden);

        var listed = await Run("apikeys", "list");
        var row = listed.Lines.Single(l => l.Contains(key[..12]));
        Assert.DoesNotContain(key, string.Join('\n', listed.Lines));
        var id = row.Split(' ')[0];
        Assert.Equal(0, (await Run("apikeys", "revoke", id)).Exit);
    }

    [Fact]
    public async Task Apikeys_create_refuses_unknown_scopes_and_organisations_without_creating_anything()
    {
        var (exit, _, error) = await Run("apikeys", "create", "--organisation", "59350", "--scopes", "everything");
        Assert.Equal(2, exit);
        Assert.Contains("Unknown scope", error);
        (exit, _, error) = await Run("apikeys", "create", "--organisation", "99999", "--scopes", "directory:read");
        Assert.Equal(2, exit);
        Assert.Contains("No organisation", error);
    }

    [Fact]
    public async Task Keys_rotate_adds_an_active_key_rewraps_every_data_key_and_the_server_still_reads_everything()
    {
        var before = await Run("keys", "list");
        Assert.True(before.Exit == 0, before.Error);
        var rotated = await Run("keys", "rotate");
        Assert.True(rotated.Exit == 0, rotated.Error);
        Assert.Contains(rotated.Lines, l => l.StartsWith("Re-wrapped with key", StringComparison.Ordinal));
        var after = await Run("keys", "list");
        var active = Assert.Single(after.Lines, l => l.EndsWith("(active)", StringComparison.Ordinal)).Split(' ')[0];
        Assert.DoesNotContain(before.Lines, l => l.StartsWith(active + " ", StringComparison.Ordinal));

        // Nothing is wrapped by an older key any more, and the running server (which sees the ring change) reads it all.
        await using var c = await Fx.Db.OpenAsync(CancellationToken.None);
        var stale = await Dapper.SqlMapper.ExecuteScalarAsync<int>(c, Fx.Db.Command(
            "SELECT COUNT(*) FROM data_key WHERE ring_key_id <> @active", new { active }, CancellationToken.None));
        Assert.Equal(0, stale);
        var purge = await Run("purge", "--dry-run");
        Assert.True(purge.Exit == 0, purge.Error);
        Assert.StartsWith("Would purge the person's data of", purge.Lines[0]);
    }

    [Fact]
    public async Task Keys_retire_is_refused_while_the_key_wraps_data_and_removes_it_for_good_once_rewrapped()
    {
        var ring = Fx.Services.GetRequiredService<CoordinationHub.Platform.Security.KeyRing>();
        // Everything wrapped by the ring file's active key, and this process's ring caught up with the file (another
        // test may have rotated it from the command line a moment ago).
        Assert.True((await Run("keys", "rewrap")).Exit == 0);
        var listedActive = Assert.Single((await Run("keys", "list")).Lines, l => l.EndsWith("(active)", StringComparison.Ordinal)).Split(' ')[0];
        for (var waited = 0; ring.Active.Id != listedActive && waited < 50; waited++) await Task.Delay(100);
        var old = ring.Active.Id;
        Assert.Equal(listedActive, old);
        // A rotation without its re-wrap pass (as when a running instance wrapped with the old key meanwhile).
        ring.Rotate(DateTimeOffset.UtcNow);
        var refused = await Run("keys", "retire", old);
        Assert.Equal(2, refused.Exit);
        Assert.Contains($"Key {old} still wraps", refused.Error);
        var active = await Run("keys", "retire", ring.Active.Id);
        Assert.Equal(2, active.Exit);
        Assert.Contains("is the active key", active.Error);

        Assert.True((await Run("keys", "rewrap")).Exit == 0);
        var retired = await Run("keys", "retire", old);
        Assert.True(retired.Exit == 0, retired.Error);
        var listed = await Run("keys", "list");
        Assert.DoesNotContain(listed.Lines, l => l.StartsWith(old + " ", StringComparison.Ordinal));
        Assert.Contains(listed.Lines, l => l.StartsWith("Retired (never reused):", StringComparison.Ordinal) && l.Contains(old));
    }

    [Fact]
    public async Task Migrate_and_import_referential_are_idempotent()
    {
        var migrate = await Run("migrate");
        Assert.True(migrate.Exit == 0, migrate.Error);
        var import = await Run("import-referential");
        Assert.True(import.Exit == 0, import.Error);
        Assert.Contains("already up to date", import.Lines[^1]);
    }
}

[Collection(SqliteCollection.Name)] public sealed class CommandLineTests_Sqlite(SqliteFixture f) : CommandLineTests(f);
[Collection(PostgresCollection.Name)] public sealed class CommandLineTests_Postgres(PostgresFixture f) : CommandLineTests(f);
