using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Dapper;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// A database outage while requests flow: every request answers 503 with Retry-After, and the log says it twice (when it
/// starts, when it ends, with its duration), with no stack trace per refused request.
/// </summary>
public abstract class DatabaseOutageTests(ApiFixture fx) : ApiTests(fx)
{
    /// <summary>A database the test can take away and give back.</summary>
    protected interface IOutage : IAsyncDisposable
    {
        string ConnectionString { get; }
        /// <summary>Whether the database is reachable before the outage (SQLite's file appears only at its end).</summary>
        bool UpFirst { get; }
        Task DownAsync();
        Task UpAsync();
    }

    protected abstract Task<IOutage> CreateOutageAsync();

    [Fact]
    public async Task An_outage_answers_503_with_Retry_After_and_logs_one_start_and_one_end_without_a_stack_trace_per_request()
    {
        await using var outage = await CreateOutageAsync();
        var logs = new CapturedLogs();
        await using var host = Fx.CreateFactory(outage.ConnectionString, startupTasks: false, s => s.AddSingleton<ILoggerProvider>(logs));
        var client = host.CreateDefaultClient(new ContractConformance.Handler());
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Fx.AdminKey);
        const string url = "/v1/organisations?kind=DEPARTEMENT&limit=1";

        if (outage.UpFirst)
            for (var i = 0; i < 5; i++) await client.GetAsync(url).Ok();
        await outage.DownAsync();
        var refused = 0;
        for (var i = 0; i < 20; i++)
        {
            var response = await client.GetAsync(url);
            await response.Problem(HttpStatusCode.ServiceUnavailable, "unavailable");
            Assert.NotNull(response.Headers.RetryAfter);
            refused++;
        }
        await outage.UpAsync();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        HttpResponseMessage last;
        while ((last = await client.GetAsync(url)).StatusCode == HttpStatusCode.ServiceUnavailable && DateTime.UtcNow < deadline)
        {
            refused++;
            await Task.Delay(100);
        }
        await Task.FromResult(last).Ok();

        var loud = logs.Entries.Where(e => e.Level >= LogLevel.Warning).ToList();
        var listing = string.Join("\n", loud.Select(e => $"{e.Level} {e.Category}: {e.Message}"));
        var start = Assert.Single(loud, e => e.Message.Contains("database is unreachable"));
        var end = Assert.Single(loud, e => e.Message.Contains("reachable again"));
        Assert.True(loud.Count == 2, "only the start and the end of the outage are logged:\n" + listing);
        Assert.Null(start.Exception);
        Assert.Null(end.Exception);
        Assert.Equal(refused, Convert.ToInt32(end.Fields.Single(f => f.Key == "Refused").Value));
        Assert.True(Convert.ToDouble(end.Fields.Single(f => f.Key == "Seconds").Value) > 0);
        Assert.DoesNotContain(logs.Entries, e => e.Exception is not null);
    }
}

[Collection(SqliteCollection.Name)]
public sealed class DatabaseOutageTests_Sqlite(SqliteFixture f) : DatabaseOutageTests(f)
{
    /// <summary>The file is not there (SQLite cannot open it), then appears: a copy of the fixture's database.</summary>
    protected override Task<IOutage> CreateOutageAsync() => Task.FromResult<IOutage>(new MissingFile(Fx));

    private sealed class MissingFile(ApiFixture fx) : IOutage
    {
        private readonly string path = Path.Combine(Path.GetTempPath(), "coordinationhub-tests", "outage-" + Guid.NewGuid().ToString("N"), "db.sqlite");
        public string ConnectionString => $"Data Source={path};Mode=ReadWrite";
        public bool UpFirst => false;
        public Task DownAsync() => Task.CompletedTask;

        public async Task UpAsync()
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await using var c = await fx.Db.OpenAsync(CancellationToken.None);
            await c.ExecuteAsync("VACUUM INTO @path", new { path });
        }

        public ValueTask DisposeAsync()
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(Path.GetDirectoryName(path)!, recursive: true); } catch (IOException) { }
            return ValueTask.CompletedTask;
        }
    }
}

[Collection(PostgresCollection.Name)]
public sealed class DatabaseOutageTests_Postgres(PostgresFixture f) : DatabaseOutageTests(f)
{
    /// <summary>The host reaches PostgreSQL through a TCP relay the test closes (connections reset, nothing listening) and opens again.</summary>
    protected override Task<IOutage> CreateOutageAsync()
    {
        var target = new NpgsqlConnectionStringBuilder(Fx.ConnectionString);
        var relay = new Relay(target.Host!, target.Port);
        relay.Open();
        target.Host = "127.0.0.1";
        target.Port = relay.Port;
        target.Timeout = 2;
        relay.ConnectionString = target.ToString();
        return Task.FromResult<IOutage>(relay);
    }

    private sealed class Relay(string host, int port) : IOutage
    {
        private TcpListener? listener;
        private readonly List<Socket> live = [];
        public int Port { get; private set; }
        public string ConnectionString { get; set; } = "";
        public bool UpFirst => true;

        public void Open()
        {
            listener = new TcpListener(IPAddress.Loopback, Port);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Start();
            Port = ((IPEndPoint)listener.LocalEndpoint).Port;
            _ = AcceptAsync(listener);
        }

        public Task DownAsync()
        {
            listener?.Stop();
            listener = null;
            lock (live)
            {
                foreach (var socket in live)
                {
                    socket.LingerState = new LingerOption(true, 0); // a reset, as a server that went away
                    socket.Close();
                }
                live.Clear();
            }
            return Task.CompletedTask;
        }

        public Task UpAsync()
        {
            Open();
            return Task.CompletedTask;
        }

        private async Task AcceptAsync(TcpListener from)
        {
            while (true)
            {
                Socket inbound;
                try { inbound = await from.AcceptSocketAsync(); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
                var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await outbound.ConnectAsync(host == "localhost" ? "127.0.0.1" : host, port);
                lock (live) live.AddRange([inbound, outbound]);
                _ = PumpAsync(inbound, outbound);
                _ = PumpAsync(outbound, inbound);
            }
        }

        private static async Task PumpAsync(Socket from, Socket to)
        {
            var buffer = new byte[16384];
            try
            {
                while (await from.ReceiveAsync(buffer) is var n and > 0) await to.SendAsync(buffer.AsMemory(0, n));
                to.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }

        public ValueTask DisposeAsync()
        {
            DownAsync();
            NpgsqlConnection.ClearAllPools();
            return ValueTask.CompletedTask;
        }
    }
}
