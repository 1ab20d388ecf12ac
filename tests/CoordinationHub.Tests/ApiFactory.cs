using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace CoordinationHub.Tests;

/// <summary>
/// One real database per provider and test run: migrated and loaded with the real referential
/// by the host's own start-up, shared by the tests of that provider's collection.
/// </summary>
public abstract class ApiFixture : IAsyncLifetime
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    private WebApplicationFactory<Program>? factory;
    public abstract DatabaseProvider Provider { get; }
    public string ConnectionString { get; private set; } = "";
    public TestClock Clock { get; } = new();
    public string AdminKey { get; private set; } = "";
    /// <summary>The person-data key ring of this fixture's database, shared by every host over it.</summary>
    public string KeyRingPath { get; } = Path.Combine(Path.GetTempPath(), "coordinationhub-tests", "keyrings", Guid.NewGuid().ToString("N") + ".json");
    public IServiceProvider Services => factory!.Services;
    public Db Db => Services.GetRequiredService<Db>();

    protected abstract Task<string> CreateDatabaseAsync();
    protected abstract Task DropDatabaseAsync();
    /// <summary>A connection string to a database that cannot be reached, for the 503 tests.</summary>
    public abstract string UnreachableConnectionString { get; }

    public async Task InitializeAsync()
    {
        ConnectionString = await CreateDatabaseAsync();
        factory = CreateFactory(ConnectionString);
        _ = factory.Server; // starts the host: migrations, referential import, first admin key
        AdminKey = (await File.ReadAllTextAsync(Path.Combine(Db.DataDirectory, "initial-admin-key"))).Trim();
    }

    public WebApplicationFactory<Program> CreateFactory(
        string connectionString, bool startupTasks = true, Action<IServiceCollection>? services = null,
        IReadOnlyDictionary<string, string>? settings = null) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("ConnectionStrings:CoordinationHub", connectionString);
            b.UseSetting("Database:Provider", Provider.ToString());
            b.UseSetting("Database:MigrateOnStartup", startupTasks.ToString());
            b.UseSetting("Database:ImportReferentialOnStartup", startupTasks.ToString());
            b.UseSetting("Http:MaxRequestBodyBytes", "65536");
            // The suite sends thousands of requests with a few keys: limits raised (RateLimitTests lowers them).
            foreach (var bucket in new[] { "PerKey", "PlatformAdmin" })
            {
                b.UseSetting($"RateLimiting:{bucket}:TokenLimit", "1000000");
                b.UseSetting($"RateLimiting:{bucket}:TokensPerPeriod", "1000000");
            }
            // Webhook tests start their own dispatchers (WebhookTestBase), to stop and restart them.
            b.UseSetting("Webhooks:Dispatch", "false");
            // Purge tests run the purge themselves, on the frozen clock.
            b.UseSetting("PersonalData:PurgeOnSchedule", "false");
            b.UseSetting("PersonalData:KeyRingPath", KeyRingPath);
            b.UseSetting("Webhooks:AllowedHosts:0", "127.0.0.1");
            b.UseSetting("Webhooks:PollInterval", "00:00:00.050");
            b.UseSetting("Webhooks:HttpTimeout", "00:00:03");
            foreach (var (key, value) in settings ?? new Dictionary<string, string>()) b.UseSetting(key, value);
            b.UseEnvironment("Testing");
            b.ConfigureTestServices(s =>
            {
                s.RemoveAll<TimeProvider>();
                s.AddSingleton<TimeProvider>(Clock);
                if (!startupTasks) s.RemoveAll<Microsoft.Extensions.Hosting.IHostedService>();
                services?.Invoke(s);
            });
        });

    public HttpClient Client(string? key = null)
    {
        // As CreateClient (redirects, cookies), plus the contract check on every answer.
        var client = factory!.CreateDefaultClient(new Uri("http://localhost"),
            new Microsoft.AspNetCore.Mvc.Testing.Handlers.RedirectHandler(),
            new Microsoft.AspNetCore.Mvc.Testing.Handlers.CookieContainerHandler(),
            new Platform.ContractConformance.Handler());
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public HttpClient Admin() => Client(AdminKey);

    public async Task<string> KeyFor(Guid organisationId, params string[] scopes) =>
        (await Services.GetRequiredService<ApiKeyStore>().CreateAsync(organisationId, "test", scopes, platformAdmin: false, CancellationToken.None)).Key;

    public async Task DisposeAsync()
    {
        if (factory is not null) await factory.DisposeAsync();
        await DropDatabaseAsync();
    }
}

public sealed class SqliteFixture : ApiFixture
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "coordinationhub-tests", Guid.NewGuid().ToString("N"));
    public override DatabaseProvider Provider => DatabaseProvider.Sqlite;
    public override string UnreachableConnectionString => $"Data Source={Path.Combine(dir, "missing", "nowhere", "db.sqlite")};Mode=ReadWrite";

    protected override Task<string> CreateDatabaseAsync()
    {
        System.IO.Directory.CreateDirectory(dir);
        return Task.FromResult($"Data Source={Path.Combine(dir, "coordinationhub.db")}");
    }

    protected override Task DropDatabaseAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { System.IO.Directory.Delete(dir, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }
}

public sealed class PostgresFixture : ApiFixture
{
    public const string Variable = "COORDINATIONHUB_TEST_POSTGRES";
    private readonly string database = "chub_test_" + Guid.NewGuid().ToString("N")[..12];
    private string admin = "";
    public override DatabaseProvider Provider => DatabaseProvider.PostgreSQL;
    public override string UnreachableConnectionString => "Host=127.0.0.1;Port=1;Username=postgres;Database=none;Timeout=2";

    protected override async Task<string> CreateDatabaseAsync()
    {
        admin = Environment.GetEnvironmentVariable(Variable)
            ?? throw new InvalidOperationException($"{Variable} is not set: run the suite with tests/run.sh, which starts PostgreSQL.");
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {database}", connection);
        await command.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(admin) { Database = database, MaxPoolSize = 50 }.ToString();
    }

    protected override async Task DropDatabaseAsync()
    {
        if (admin.Length == 0) return;
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class SqliteCollection : ICollectionFixture<SqliteFixture> { public const string Name = "sqlite"; }

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture> { public const string Name = "postgres"; }

/// <summary>
/// The tests' clock: a fixed "today" (2026-11-25, the day these tests were written) so that rules
/// relative to today (notice periods, "in force today") do not age; tests move it and reset it.
/// </summary>
public sealed class TestClock : TimeProvider
{
    public static readonly DateTimeOffset Today = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);
    private DateTimeOffset now = Today;
    public override DateTimeOffset GetUtcNow() => now;
    public void Set(DateTimeOffset value) => now = value;
    public void Reset() => now = Today;
}
