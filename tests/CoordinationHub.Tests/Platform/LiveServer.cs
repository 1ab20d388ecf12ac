using System.Diagnostics;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Platform;

/// <summary>The API on Kestrel, on a free loopback port, over the suite's database: for clients in other processes.</summary>
public sealed class LiveServer : IAsyncDisposable
{
    private readonly WebApplicationFactory<Program> factory;
    public string Url { get; }

    private LiveServer(WebApplicationFactory<Program> factory, string url) => (this.factory, Url) = (factory, url);

    public static LiveServer Start(ApiFixture fx, IReadOnlyDictionary<string, string>? settings = null)
    {
        var factory = fx.CreateFactory(fx.ConnectionString, settings: settings);
        factory.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        factory.StartServer();
        var url = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new LiveServer(factory, url.TrimEnd('/'));
    }

    public ValueTask DisposeAsync() => factory.DisposeAsync();

    /// <summary>
    /// Runs a client program; when it prints "KEY? &lt;organisation id&gt;" it is answered on stdin with a key of that
    /// organisation (keys are issued out of band, by the CLI, in the README's story). Returns exit code and output.
    /// </summary>
    public static async Task<(int Code, string Output)> RunClient(ProcessStartInfo start, Func<Guid, Task<string>> keyFor, TimeSpan timeout)
    {
        start.RedirectStandardInput = start.RedirectStandardOutput = start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        var errors = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            while (await process.StandardOutput.ReadLineAsync(cancel.Token) is { } line)
            {
                output.AppendLine(line);
                if (line.StartsWith("KEY? ", StringComparison.Ordinal))
                {
                    await process.StandardInput.WriteLineAsync(await keyFor(Guid.Parse(line[5..].Trim())));
                    await process.StandardInput.FlushAsync();
                }
            }
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, output + "\n(timed out)\n" + await errors);
        }
        return (process.ExitCode, output + await errors);
    }
}
