using CoordinationHub.Features.Directory;
using CoordinationHub.Features.PersonalData;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Security;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using Dapper;
using Mediator;

namespace CoordinationHub.Platform.Cli;

/// <summary>
/// Verbs of the same executable: <c>dotnet run --project src/CoordinationHub.Api -- &lt;verb&gt;</c>.
/// They use the same configuration as the server (appsettings, environment, --Database:Provider=…).
/// </summary>
public static class CommandLine
{
    private static readonly string[] Verbs = ["migrate", "import-referential", "apikeys", "keys", "purge", "openapi", "healthcheck", "help"];

    public const string Usage = """
        Usage: CoordinationHub.Api [verb] [options]
          (no verb)                       run the API
          migrate                         apply pending database migrations
          import-referential [--file f]   load the COG referential (bundled, or a file made by refresh-referential.mjs)
          apikeys create --organisation <id|code|siret> --scopes <s1,s2> [--name <label>] [--expires <yyyy-mm-dd>]
                                          create a key; it is printed once, on the last line
                                          (api-keys:manage lets the key manage its organisation's keys: /v1/api-keys)
          apikeys create --platform-admin [--name <label>]
          apikeys list                    list keys (never the keys themselves)
          apikeys revoke <id>             revoke a key
          keys list                       the keys of the ring (ids, dates, data keys each wraps; never the keys)
          keys rotate                     add a new key, make it active and re-wrap every data key with it
                                          (running instances take it within 2 s); back the ring up after
          keys rewrap                     re-wrap with the active key what an older key still wraps (also: keys reencrypt)
          keys retire <id>                remove a key from the ring for good; refused while anything is wrapped by it
          purge [--dry-run]               purge the person's data past its retention period (prints what it did or would do)
          openapi <file>                  write the OpenAPI contract (as served at /openapi/v1.json)
          healthcheck [--url <u>]         exit 0 when the API answers /health/live (for container health checks)
        Scopes: 
        """ + "directory:read, directory:write, conventions:read, conventions:write, delegations:read, delegations:write, delegations:import, "
        + "referrals:read, referrals:write, webhooks:manage, events:read, api-keys:manage, platform:admin";

    /// <summary>The verb in <paramref name="args"/>, or null when the host should serve HTTP.</summary>
    public static string? Verb(string[] args) => args.Length > 0 && Verbs.Contains(args[0]) ? args[0] : null;

    /// <summary>
    /// The configuration among a verb's arguments: <c>--Section:Key=value</c> or <c>--Section:Key value</c>.
    /// The verb's own switches (<c>--dry-run</c>, <c>--platform-admin</c>…) are not settings and would swallow the next argument.
    /// </summary>
    public static string[] SettingsOf(string[] args)
    {
        var settings = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i].Split('=')[0];
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || !name.Contains(':')) continue;
            settings.Add(args[i]);
            if (!args[i].Contains('=') && i + 1 < args.Length) settings.Add(args[++i]);
        }
        return settings.ToArray();
    }

    public static async Task<int> RunAsync(WebApplication app, string[] args)
    {
        var services = app.Services;
        var ct = CancellationToken.None;
        try
        {
            switch (args)
            {
                case ["migrate", ..]:
                    await services.GetRequiredService<Migrator>().MigrateAsync(ct);
                    Console.WriteLine("Database is up to date.");
                    return 0;
                case ["import-referential", ..]:
                    await services.GetRequiredService<Migrator>().MigrateAsync(ct);
                    await using (var scope = services.CreateAsyncScope())
                        Console.WriteLine(await scope.ServiceProvider.GetRequiredService<ISender>().Send(new ImportReferentialCommand(Option(args, "--file")), ct));
                    return 0;
                case ["apikeys", "create", ..]:
                    return await CreateKeyAsync(services, args, ct);
                case ["apikeys", "list", ..]:
                    foreach (var k in await services.GetRequiredService<ApiKeyStore>().ListAsync(ct))
                        Console.WriteLine($"{k.Id}  {k.Prefix}…  org={k.OrganisationId?.ToString() ?? "-"}  scopes=[{k.Scopes}]  {(k.RevokedAt is null ? "active" : "revoked " + k.RevokedAt):u}{(k.ExpiresAt is { } x ? $"  expires {x:u}" : "")}  last used {k.LastUsedAt?.ToString("u") ?? "never"}  {k.Name}");
                    return 0;
                case ["apikeys", "revoke", var id, ..] when Guid.TryParse(id, out var keyId):
                    var revoked = await services.GetRequiredService<ApiKeyStore>().RevokeAsync(keyId, ct);
                    Console.WriteLine(revoked ? $"Key {keyId} revoked." : $"No active key {keyId}.");
                    return revoked ? 0 : 1;
                case ["keys", ..]:
                    await services.GetRequiredService<Migrator>().MigrateAsync(ct);
                    return await KeysAsync(services, args, ct);
                case ["purge", ..]:
                    await services.GetRequiredService<Migrator>().MigrateAsync(ct);
                    await using (var scope = services.CreateAsyncScope())
                    {
                        var dryRun = args.Contains("--dry-run");
                        var report = await scope.ServiceProvider.GetRequiredService<PersonDataPurge>().RunAsync(dryRun, PurgeTrigger.COMMAND_LINE, ct);
                        Console.WriteLine($"{(dryRun ? "Would purge" : "Purged")} the person's data of {report.Referrals.Count} referral(s): "
                            + $"{report.Versions} version(s), {report.Messages} message(s); default retention {report.DefaultRetentionDays} days.");
                        foreach (var id in report.Referrals) Console.WriteLine($"  {id}");
                    }
                    return 0;
                case ["openapi", var file, ..]:
                    // The endpoints are wired into routing when the host starts: start it on a throwaway port.
                    app.Urls.Clear();
                    app.Urls.Add("http://127.0.0.1:0");
                    await app.StartAsync(ct);
                    await File.WriteAllTextAsync(file, OpenApi.ContractDocument.Render(services), ct);
                    await app.StopAsync(ct);
                    Console.WriteLine($"Wrote {file}.");
                    return 0;
                case ["healthcheck", ..]:
                    using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) })
                    {
                        var url = Option(args, "--url") ?? $"http://localhost:{Environment.GetEnvironmentVariable("ASPNETCORE_HTTP_PORTS")?.Split(';')[0] ?? "8080"}/health/live";
                        try { return (await http.GetAsync(url, ct)).IsSuccessStatusCode ? 0 : 1; }
                        catch (HttpRequestException) { return 1; }
                    }
                default:
                    Console.Error.WriteLine(Usage);
                    return args is ["help", ..] ? 0 : 2;
            }
        }
        catch (CommandLineException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
    }

    private static async Task<int> CreateKeyAsync(IServiceProvider services, string[] args, CancellationToken ct)
    {
        var keys = services.GetRequiredService<ApiKeyStore>();
        var name = Option(args, "--name");
        if (args.Contains("--platform-admin"))
        {
            var (adminId, adminKey) = await keys.CreateAsync(null, name ?? "platform administrator", [Scopes.PlatformAdmin], platformAdmin: true, ct);
            Console.WriteLine($"Created platform administrator key {adminId}. It is shown once:");
            Console.WriteLine(adminKey);
            return 0;
        }
        var organisation = Option(args, "--organisation") ?? throw new CommandLineException("--organisation <id|code|siret> is required (or --platform-admin).");
        var scopes = (Option(args, "--scopes") ?? throw new CommandLineException("--scopes <list> is required, e.g. directory:read,referrals:write."))
            .Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var unknown = scopes.Where(s => !Scopes.All.Contains(s) || s == Scopes.PlatformAdmin).ToList();
        if (unknown.Count > 0) throw new CommandLineException($"Unknown scope(s): {string.Join(", ", unknown)}. Known: {string.Join(", ", Scopes.All.Where(s => s != Scopes.PlatformAdmin))}.");

        var db = services.GetRequiredService<Db>();
        await using var connection = await db.OpenAsync(ct);
        var matches = (await connection.QueryAsync<(Guid Id, string Name, string Kind)>(db.Command(
            Guid.TryParse(organisation, out _) ? ByIdSql : ByCodeSql, new { id = Guid.TryParse(organisation, out var g) ? g : Guid.Empty, code = organisation }, ct))).ToList();
        if (matches.Count == 0) throw new CommandLineException($"No organisation '{organisation}'. Use its id, its COG code (commune, département), its SIREN or its SIRET.");
        if (matches.Count > 1) throw new CommandLineException($"'{organisation}' matches several organisations ({string.Join("; ", matches.Select(m => $"{m.Kind} {m.Name} {m.Id}"))}); use the id.");

        DateTimeOffset? expires = Option(args, "--expires") is { } e
            ? DateOnly.TryParse(e, System.Globalization.CultureInfo.InvariantCulture, out var day)
                ? new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero)
                : throw new CommandLineException($"--expires takes a date (yyyy-mm-dd), not '{e}'.")
            : null;
        var (id, key) = await keys.CreateAsync(matches[0].Id, name ?? $"{matches[0].Kind} {matches[0].Name}", scopes, platformAdmin: false, ct, expires);
        Console.WriteLine($"Created key {id} for {matches[0].Kind} {matches[0].Name} ({matches[0].Id}) with scopes {string.Join(' ', scopes)}. It is shown once:");
        Console.WriteLine(key);
        return 0;
    }

    private static async Task<int> KeysAsync(IServiceProvider services, string[] args, CancellationToken ct)
    {
        var ring = services.GetRequiredService<KeyRing>();
        var keys = services.GetRequiredService<DataKeys>();
        var inUse = await keys.RingKeysInUseAsync(ct);
        switch (args)
        {
            case ["keys", "list", ..]:
                foreach (var k in ring.Keys.OrderBy(k => k.CreatedAt))
                    Console.WriteLine($"{k.Id}  created {k.CreatedAt:u}  wraps {inUse.GetValueOrDefault(k.Id)} data key(s)"
                        + (k.Id == ring.Active.Id ? "  (active)" : ""));
                if (ring.Retired.Count > 0) Console.WriteLine($"Retired (never reused): {string.Join(", ", ring.Retired)}");
                Console.WriteLine($"Key ring: {ring.Path}");
                return 0;
            case ["keys", "rotate", ..]:
                var added = ring.Rotate(DateTimeOffset.UtcNow, inUse.Keys);
                Console.WriteLine($"Key {added.Id} added and active; running instances take it within {KeyRing.RefreshEvery.TotalSeconds:0} s.");
                await RewrapAsync(ring, keys, ct);
                Console.WriteLine("Back the key ring up now. An older key can then be retired (keys retire <id>).");
                return 0;
            case ["keys", "rewrap" or "reencrypt", ..]:
                await services.GetRequiredService<KeyRingCheck>().SealLegacyAsync(ct);
                await RewrapAsync(ring, keys, ct);
                return 0;
            case ["keys", "retire", var id, ..]:
                if (!ring.Keys.Any(k => k.Id == id)) throw new CommandLineException($"No key '{id}' in the key ring {ring.Path}.");
                if (id == ring.Active.Id) throw new CommandLineException($"Key {id} is the active key: run keys rotate first.");
                if (inUse.GetValueOrDefault(id) is > 0 and var wrapped)
                    throw new CommandLineException($"Key {id} still wraps {wrapped} data key(s): run keys rewrap, then retire it.");
                if (await LegacyUseAsync(services.GetRequiredService<Db>(), id, ct) is > 0 and var sealedValues)
                    throw new CommandLineException($"Key {id} still seals {sealedValues} value(s) of the first scheme: run keys rewrap, then retire it.");
                ring.Retire(id);
                Console.WriteLine($"Key {id} retired: removed from the ring {ring.Path}; its id is never reused. Back the ring up now: "
                    + "older backups of the database hold nothing it could open any more.");
                return 0;
            default:
                Console.Error.WriteLine(Usage);
                return 2;
        }
    }

    private static async Task RewrapAsync(KeyRing ring, DataKeys keys, CancellationToken ct)
    {
        var total = 0;
        for (int done; (done = await keys.RewrapAsync(500, ct)) > 0;) total += done;
        Console.WriteLine($"Re-wrapped with key {ring.Active.Id}: {total} data key(s).");
    }

    /// <summary>Values the first scheme sealed with the key itself (none once start-up has moved them).</summary>
    private static async Task<long> LegacyUseAsync(Db db, string keyId, CancellationToken ct) =>
        await db.RetryAsync((c, t) => c.ExecuteScalarAsync<long>(db.Command(LegacyUseSql, new { prefix = $"chv1:{keyId}:%" }, t)), ct);

    private const string LegacyUseSql = """
        SELECT (SELECT COUNT(*) FROM referral_person_version WHERE payload LIKE @prefix)
             + (SELECT COUNT(*) FROM referral_message WHERE body LIKE @prefix)
             + (SELECT COUNT(*) FROM idempotency_record WHERE body LIKE @prefix)
        """;

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private sealed class CommandLineException(string message) : Exception(message);

    private const string ByIdSql = "SELECT id, name, kind FROM organisation WHERE id = @id";
    private const string ByCodeSql = "SELECT id, name, kind FROM organisation WHERE code = @code OR siren = @code OR siret = @code";
}
