using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using CoordinationHub.Platform;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace CoordinationHub.Benchmarks;

/// <summary>
/// The API under test: the Release build started as a child process on a free loopback port, so
/// the server has its own process, thread pool and GC (as in production) and does not share them
/// with the load generator. Keys are issued with the API's own <see cref="ApiKeyStore"/> against
/// the same database, which is what the <c>apikeys create</c> verb does, without one process per key.
/// </summary>
public sealed class ApiProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly string? tempDirectory;
    private readonly ApiKeyStore keys;

    private ApiProcess(Process process, Uri baseAddress, string? tempDirectory, Db db)
    {
        this.process = process;
        BaseAddress = baseAddress;
        this.tempDirectory = tempDirectory;
        Db = db;
        keys = new ApiKeyStore(db, TimeProvider.System);
    }

    public Uri BaseAddress { get; }
    /// <summary>The API's database, seen from the harness: for key issuing and row counts only.</summary>
    public Db Db { get; }
    public string AdminKey { get; private set; } = "";

    /// <summary>The API process's resident memory now and at its peak (VmRSS, VmHWM), in bytes.</summary>
    public (long Rss, long Peak) Memory
    {
        get
        {
            long Read(string name) => File.ReadLines($"/proc/{process.Id}/status").Where(l => l.StartsWith(name + ":", StringComparison.Ordinal))
                .Select(l => long.Parse(l[(name.Length + 1)..].Trim().Split(' ')[0]) * 1024).FirstOrDefault();
            return (Read("VmRSS"), Read("VmHWM"));
        }
    }

    /// <summary>
    /// Resets the peak (VmHWM) to the current RSS, so that the next reading is the peak since now: writing 5 to
    /// /proc/pid/clear_refs (Linux 4.0+, our own child process). False when the kernel refuses.
    /// </summary>
    public bool ResetPeak()
    {
        try
        {
            File.WriteAllText($"/proc/{process.Id}/clear_refs", "5");
            var (rss, peak) = Memory;
            return peak <= rss + 4 * 1048576;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>CPU time the API process has used so far (user + system).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            process.Refresh();
            return process.TotalProcessorTime;
        }
    }

    public static async Task<ApiProcess> StartAsync(BenchmarkOptions options, CancellationToken ct)
    {
        var work = Path.Combine(Path.GetTempPath(), "coordinationhub-bench", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss") + "-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(work);
        var connectionString = options.Provider == DatabaseProvider.Sqlite
            ? $"Data Source={Path.Combine(work, "coordinationhub.db")}"
            : options.Connection ?? throw new ArgumentException("--connection is required with --provider PostgreSQL.");

        var port = FreePort();
        var process = Launch(work, port, connectionString, options.Provider);

        TypeHandlers.Register();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:CoordinationHub"] = connectionString,
        }).Build();
        var db = new Db(Options.Create(new DatabaseOptions { Provider = options.Provider }), configuration);
        var api = new ApiProcess(process, new Uri($"http://127.0.0.1:{port}"), options.KeepData ? null : work, db)
        {
            launch = (work, connectionString, options.Provider),
        };
        try
        {
            var sw = Stopwatch.StartNew();
            await api.WaitUntilReadyAsync(ct);
            Console.WriteLine($"API ready on {api.BaseAddress} after {sw.Elapsed.TotalSeconds:F1} s (migrations and referential import included).");
            // The API writes the key next to the SQLite file, or under data/ of its working directory.
            api.AdminKey = await api.AdminKeyAsync(options.Provider == DatabaseProvider.Sqlite ? work : Path.Combine(work, "data"), ct);
            return api;
        }
        catch
        {
            await api.DisposeAsync();
            throw;
        }
    }

    private (string Work, string ConnectionString, DatabaseProvider Provider) launch;

    /// <summary>
    /// A second instance over the same database, as behind a load balancer: the time until it is
    /// ready (the whole map loaded from the database) and its memory then. Stopped afterwards.
    /// </summary>
    public async Task<(TimeSpan Ready, long Rss, long Peak)> StartAnotherAsync(CancellationToken ct)
    {
        var port = FreePort();
        var sw = Stopwatch.StartNew();
        var other = new ApiProcess(Launch(launch.Work, port, launch.ConnectionString, launch.Provider), new Uri($"http://127.0.0.1:{port}"), null, Db);
        try
        {
            await other.WaitUntilReadyAsync(ct);
            var ready = sw.Elapsed;
            var (rss, peak) = other.Memory;
            return (ready, rss, peak);
        }
        finally
        {
            await other.DisposeAsync();
        }
    }

    /// <summary>
    /// Another instance over the same database with <paramref name="settings"/> added (e.g. telemetry on), kept running
    /// for the caller to measure beside this one; the caller disposes it.
    /// </summary>
    public async Task<ApiProcess> StartSecondAsync(string[] settings, CancellationToken ct)
    {
        var port = FreePort();
        var other = new ApiProcess(Launch(launch.Work, port, launch.ConnectionString, launch.Provider, settings), new Uri($"http://127.0.0.1:{port}"), null, Db)
        {
            AdminKey = AdminKey,
        };
        try
        {
            await other.WaitUntilReadyAsync(ct);
            return other;
        }
        catch
        {
            await other.DisposeAsync();
            throw;
        }
    }

    private static Process Launch(string work, int port, string connectionString, DatabaseProvider provider, string[]? settings = null)
    {
        var (fileName, prefixArgs) = HostCommand();
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = work,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in prefixArgs) start.ArgumentList.Add(a);
        foreach (var a in new[]
        {
            "--urls", $"http://127.0.0.1:{port}",
            $"--ConnectionStrings:CoordinationHub={connectionString}",
            $"--Database:Provider={provider}",
            "--Logging:LogLevel:Default=Warning",
            // The load generator is one key sending thousands of requests a second: no rate limit on it.
            "--RateLimiting:PerKey:TokenLimit=1000000", "--RateLimiting:PerKey:TokensPerPeriod=1000000",
            "--RateLimiting:PlatformAdmin:TokenLimit=1000000", "--RateLimiting:PlatformAdmin:TokensPerPeriod=1000000",
            "--Webhooks:AllowedHosts:0=127.0.0.1", // the --webhooks receiver, in the harness's process
        }) start.ArgumentList.Add(a);
        foreach (var a in settings ?? []) start.ArgumentList.Add(a);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";

        Console.WriteLine($"Starting the API: {fileName} (data in {work})");
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Console.WriteLine("  [api] " + e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("  [api] " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>A key of <paramref name="organisationId"/> with <paramref name="scopes"/>, as <c>apikeys create</c> issues it.</summary>
    public async Task<string> CreateKeyAsync(Guid organisationId, string name, string[] scopes, CancellationToken ct) =>
        (await keys.CreateAsync(organisationId, name, scopes, platformAdmin: false, ct)).Key;

    private async Task WaitUntilReadyAsync(CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited) throw new InvalidOperationException($"The API exited with code {process.ExitCode} before it was ready (see [api] lines above).");
            try
            {
                using var response = await http.GetAsync("/health/ready", ct);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested) { }
            await Task.Delay(250, ct);
        }
        throw new TimeoutException("The API was not ready after 3 minutes.");
    }

    /// <summary>
    /// The first administrator key the API writes next to its data on a database without keys; on a
    /// database that already has keys (a reused PostgreSQL database) there is none, so issue one.
    /// </summary>
    private async Task<string> AdminKeyAsync(string dataDirectory, CancellationToken ct)
    {
        var file = Path.Combine(dataDirectory, StartupTasks.AdminKeyFile);
        for (var i = 0; i < 40 && !File.Exists(file); i++) await Task.Delay(250, ct);
        if (File.Exists(file)) return (await File.ReadAllTextAsync(file, ct)).Trim();
        Console.WriteLine("No initial-admin-key file (the database already had keys): issuing a platform administrator key.");
        return (await keys.CreateAsync(null, "benchmark administrator", [Scopes.PlatformAdmin], platformAdmin: true, ct)).Key;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// The API's output folder, built beside this harness in the same configuration (its appsettings.json and
    /// runtimeconfig), else this harness's own folder, where MSBuild copies the API's assembly.
    /// </summary>
    public static string ApiDirectory()
    {
        var built = typeof(ApiProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "ApiOutputDirectory")?.Value;
        return built is not null && File.Exists(Path.Combine(built, "CoordinationHub.Api.dll")) ? built : AppContext.BaseDirectory;
    }

    /// <summary>
    /// <see cref="BenchHost"/> in a process of its own: this assembly (its deps.json holds the API's dependencies) run
    /// by the dotnet host under the API's runtimeconfig, so the server has the product's GC and thread-pool settings.
    /// </summary>
    private static (string FileName, string[] Args) HostCommand()
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host
            : Path.GetFullPath(Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "../../../dotnet"));
        if (!File.Exists(dotnet)) dotnet = "dotnet";
        var runtimeConfig = Path.Combine(ApiDirectory(), "CoordinationHub.Api.runtimeconfig.json");
        return (dotnet, ["exec", "--runtimeconfig", runtimeConfig, typeof(ApiProcess).Assembly.Location, BenchHost.Mode]);
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (tempDirectory is not null)
        {
            try { Directory.Delete(tempDirectory, recursive: true); }
            catch (IOException) { }
        }
    }
}
