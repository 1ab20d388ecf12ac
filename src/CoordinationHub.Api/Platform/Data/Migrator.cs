using CoordinationHub.Features.PersonalData;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Security;
using Dapper;
using DbUp;
using DbUp.Builder;
using DbUp.Engine.Output;
using Microsoft.Data.Sqlite;

namespace CoordinationHub.Platform.Data;

/// <summary>Numbered scripts per dialect under Migrations/&lt;Provider&gt;/, run by DbUp.</summary>
public sealed class Migrator(Db db, ILogger<Migrator> logger, ReferralPersonData people, KeyRingCheck keyRing)
{
    public IReadOnlyList<string> Pending() => Builder().Build().GetScriptsToExecute().Select(s => s.Name).ToList();

    public async Task MigrateAsync(CancellationToken ct)
    {
        // A server still starting refuses connections for a few seconds: retry that, not script errors.
        // (Not through Db.RetryAsync: it opens a connection to the database, which may not exist yet.)
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (db.Dialect.Provider == DatabaseProvider.PostgreSQL) EnsureDatabase.For.PostgresqlDatabase(db.ConnectionString, new Quiet());
                if (db.Dialect.Provider == DatabaseProvider.SqlServer) EnsureDatabase.For.SqlDatabase(db.ConnectionString, new Quiet());
                break;
            }
            catch (Exception e) when (attempt < 10 && (db.Dialect.IsUnavailable(e) || db.Dialect.IsTransient(e)))
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
        }

        var result = Builder().Build().PerformUpgrade();
        if (!result.Successful)
            throw new InvalidOperationException($"Migration {result.ErrorScript?.Name} failed: {result.Error.Message}", result.Error);
        foreach (var script in result.Scripts) logger.LogInformation("Applied migration {Script}", script.Name);
        // The ring before anything is sealed: a missing one stops start-up here rather than seal under a throwaway key.
        await keyRing.VerifyAsync(ct);
        await PlaintextPersonData.SealAsync(db, people, ct);
        await keyRing.SealLegacyAsync(ct);

        if (db.Dialect.Provider == DatabaseProvider.Sqlite)
        {
            // WAL lets readers go on while one writer writes; the setting lives in the file.
            await using var connection = await db.OpenAsync(ct);
            await connection.ExecuteAsync("PRAGMA journal_mode=WAL;");
        }
    }

    private UpgradeEngineBuilder Builder()
    {
        var folder = $".Migrations.{db.Dialect.Provider}.";
        var builder = db.Dialect.Provider switch
        {
            DatabaseProvider.Sqlite => DeployChanges.To.SqliteDatabase(db.ConnectionString),
            DatabaseProvider.PostgreSQL => DeployChanges.To.PostgresqlDatabase(db.ConnectionString),
            DatabaseProvider.SqlServer => DeployChanges.To.SqlDatabase(db.ConnectionString),
            _ => throw new InvalidOperationException(),
        };
        return builder
            .WithScriptsEmbeddedInAssembly(typeof(Migrator).Assembly, name => name.Contains(folder, StringComparison.Ordinal))
            .WithTransactionPerScript()
            .LogTo(new Quiet());
    }

    /// <summary>Every script of a dialect, in order: the T-SQL parse test reads them too.</summary>
    public static IEnumerable<(string Name, string Sql)> Scripts(DatabaseProvider provider)
    {
        var assembly = typeof(Migrator).Assembly;
        var folder = $".Migrations.{provider}.";
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.Contains(folder, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
            yield return (name, reader.ReadToEnd());
        }
    }

    private sealed class Quiet : IUpgradeLog
    {
        public void LogTrace(string format, params object[] args) { }
        public void LogDebug(string format, params object[] args) { }
        public void LogInformation(string format, params object[] args) { }
        public void LogWarning(string format, params object[] args) { }
        public void LogError(string format, params object[] args) { }
        public void LogError(Exception ex, string format, params object[] args) { }
    }
}
