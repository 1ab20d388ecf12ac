using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using Dapper;
using Mediator;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace CoordinationHub.Platform;

/// <summary>
/// On start: migrate (and recompute what a migration left to do: the person keys of 0014), load the bundled referential into an empty directory, and on a database without
/// any key create the first administrator key, written to <c>initial-admin-key</c> next to the
/// data (like Jenkins' initialAdminPassword). Each step can be turned off in configuration.
/// </summary>
public sealed class StartupTasks(IServiceProvider services, Db db, IOptions<DatabaseOptions> options, ILogger<StartupTasks> logger) : IHostedService
{
    public const string AdminKeyFile = "initial-admin-key";

    public async Task StartAsync(CancellationToken ct)
    {
        if (options.Value.MigrateOnStartup) await services.GetRequiredService<Migrator>().MigrateAsync(ct);
        else await services.GetRequiredService<Security.KeyRingCheck>().VerifyAsync(ct);
        // Once, after migration 0014: the duplicate guard's keys of earlier referrals, over every given name.
        await services.GetRequiredService<Features.Referrals.ReferralPersonKeys>().RecomputeAsync(ct);
        // Once, after migration 0017: the indicators of the referrals written before it.
        await services.GetRequiredService<Features.Indicators.IndicatorBackfill>().RunAsync(ct);

        // An empty directory gets the bundled referential; a newer vintage is the operator's
        // decision (import-referential), not a side effect of a restart.
        if (options.Value.ImportReferentialOnStartup && await DirectoryIsEmptyAsync(ct))
        {
            await using var scope = services.CreateAsyncScope();
            var result = await scope.ServiceProvider.GetRequiredService<ISender>().Send(new ImportReferentialCommand(), ct);
            logger.LogInformation("Referential: {Result}", result);
        }

        var keys = services.GetRequiredService<ApiKeyStore>();
        if (!await keys.AnyAsync(ct))
        {
            var (_, key) = await keys.CreateAsync(null, "initial administrator", [Scopes.PlatformAdmin], platformAdmin: true, ct);
            var path = Path.Combine(db.DataDirectory, AdminKeyFile);
            System.IO.Directory.CreateDirectory(db.DataDirectory);
            await File.WriteAllTextAsync(path, key + Environment.NewLine, ct);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            logger.LogWarning("Created the first administrator API key; it is in {Path}. Store it safely and delete the file.", path);
        }
    }

    private async Task<bool> DirectoryIsEmptyAsync(CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<long>(db.Command(AnyCommuneSql, null, ct)) == 0;
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    private const string AnyCommuneSql = "SELECT COUNT(*) FROM organisation WHERE kind = 'COMMUNE'";
}

public sealed class DatabaseHealthCheck(Db db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            await using var connection = await db.OpenAsync(ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(ct);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e)
        {
            return HealthCheckResult.Unhealthy("The database does not answer.", e);
        }
    }
}
