using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// What Kestrel refuses before any middleware runs, sent over a socket to the API on Kestrel (the test server parses
/// no request line): each refusal is a problem document with Kestrel's own status, where Kestrel alone sends it empty.
/// The transport does not read the database: one provider is enough.
/// </summary>
[Collection(SqliteCollection.Name)]
public sealed class TransportRefusalTests(SqliteFixture fx) : ApiTests(fx)
{
    private const string Host = "Host: localhost\r\n";

    /// <summary>A request Kestrel refuses, and the status it refuses it with.</summary>
    private static (string What, string Request, int Status)[] Refused() =>
    [
        ("an encoded NUL in the path", $"GET /v1/organisations/%00 HTTP/1.1\r\n{Host}\r\n", 400),
        ("a raw NUL in the target", $"GET /v1/organisations\0 HTTP/1.1\r\n{Host}\r\n", 400),
        ("a line that is no request line", "GARBAGE\r\n\r\n", 400),
        ("a target that is not a path", $"GET v1/organisations HTTP/1.1\r\n{Host}\r\n", 400),
        ("a version that is not HTTP", $"GET /v1/organisations HTTX/1.1\r\n{Host}\r\n", 505),
        ("an HTTP version not spoken", $"GET /v1/organisations HTTP/1.2\r\n{Host}\r\n", 505),
        ("no Host", "GET /v1/organisations HTTP/1.1\r\n\r\n", 400),
        ("two Hosts", $"GET /v1/organisations HTTP/1.1\r\n{Host}{Host}\r\n", 400),
        ("a Host with a space", "GET /v1/organisations HTTP/1.1\r\nHost: local host\r\n\r\n", 400),
        ("a Host with a slash", "GET /v1/organisations HTTP/1.1\r\nHost: local/host\r\n\r\n", 400),
        ("a header line without a colon", $"GET /v1/organisations HTTP/1.1\r\n{Host}Oops\r\n\r\n", 400),
        ("a header name with a space", $"GET /v1/organisations HTTP/1.1\r\n{Host}Bad Name: x\r\n\r\n", 400),
        ("a folded header line", $"GET /v1/organisations HTTP/1.1\r\n{Host}X-Agent: a\r\n b\r\n\r\n", 400),
        ("a NUL in a header value", $"GET /v1/organisations HTTP/1.1\r\n{Host}X-Agent: a\0b\r\n\r\n", 400),
        ("a Content-Length that is no number", $"POST /v1/organisations HTTP/1.1\r\n{Host}Content-Length: ten\r\n\r\n", 400),
        ("two Content-Lengths", $"POST /v1/organisations HTTP/1.1\r\n{Host}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        ("a Transfer-Encoding not ending in chunked", $"POST /v1/organisations HTTP/1.1\r\n{Host}Transfer-Encoding: gzip\r\n\r\n", 400),
        ("a request line over Kestrel's limit", $"GET /{new string('a', 40_000)} HTTP/1.1\r\n{Host}\r\n", 414),
        ("headers over Kestrel's limit", $"GET / HTTP/1.1\r\n{Host}{string.Concat(Enumerable.Range(0, 40).Select(i => $"X-{i}: {new string('b', 4000)}\r\n"))}\r\n", 431),
        ("more headers than Kestrel reads", $"GET / HTTP/1.1\r\n{Host}{string.Concat(Enumerable.Range(0, 120).Select(i => $"X-{i}: b\r\n"))}\r\n", 431),
    ];

    [Fact]
    public async Task What_Kestrel_refuses_is_answered_with_a_problem_document()
    {
        var failures = new List<string>();
        // Kestrel alone: the same status, no body (what the finding saw).
        await using (var bare = Start(k => k.ConfigureEndpointDefaults(_ => { })))
            foreach (var (what, request, status) in Refused())
            {
                var answer = await Raw(bare.Url, request);
                if (answer.Status != status || answer.Body != "") failures.Add($"{what}: Kestrel alone answers {answer}");
            }
        await using var server = Start();
        foreach (var (what, request, status) in Refused())
        {
            var refused = await Raw(server.Url, request);
            if (refused.Status != status || !refused.Head.Contains("Content-Type: application/problem+json") || !refused.Head.Contains("Connection: close"))
            {
                failures.Add($"{what}: {refused}");
                continue;
            }
            var problem = JsonDocument.Parse(refused.Body).RootElement;
            if (problem.GetProperty("status").GetInt32() != status
                || !problem.GetProperty("type").GetString()!.StartsWith("https://coordinationhub.fr/problems/", StringComparison.Ordinal)
                || new[] { "title", "detail", "traceId" }.Any(m => string.IsNullOrEmpty(problem.GetProperty(m).GetString())))
                failures.Add($"{what}: not a whole problem document: {refused.Body}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Requests_before_a_refused_one_on_the_same_connection_are_answered_first_and_bodies_are_not_read_as_requests()
    {
        await using var server = Start();
        // A body that reads like a refused request, a chunked body, then the refused request itself.
        var lookalike = $"GET /%00 HTTP/1.1\r\n{Host}\r\n";
        var chunk = "{\"kind\":\"CCAS\"}";
        var answers = await Send(server.Url,
            $"POST /v1/organisations HTTP/1.1\r\n{Host}Content-Type: application/json\r\nContent-Length: {lookalike.Length}\r\n\r\n{lookalike}"
            + $"POST /v1/organisations HTTP/1.1\r\n{Host}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + $"{chunk.Length:x}\r\n{chunk}\r\n0\r\n\r\n"
            + $"GET /health/live HTTP/1.1\r\n{Host}\r\n"
            + $"GET /v1/organisations/%00 HTTP/1.1\r\n{Host}\r\n");
        Assert.True(answers.Select(a => a.Status).SequenceEqual([401, 401, 200, 400]), string.Join("\n", answers));
        Assert.Contains("problems/bad-request", answers[^1].Body);
    }

    [Fact]
    public async Task A_head_too_slow_to_arrive_is_answered_408_with_a_problem_document()
    {
        await using var server = Start(k => k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(1));
        var answer = await Raw(server.Url, $"GET /v1/organisations HTTP/1.1\r\n{Host}X-Agent: still typ");
        Assert.True(answer.Status == 408, answer.ToString());
        Assert.Contains("problems/request-timeout", answer.Body);
    }

    [Fact]
    public async Task A_broken_chunked_body_and_a_body_over_the_limit_are_problems_too()
    {
        await using var server = Start();
        var auth = $"Authorization: Bearer {Fx.AdminKey}\r\nContent-Type: application/json\r\n";
        var broken = await Raw(server.Url, $"POST /v1/organisations HTTP/1.1\r\n{Host}{auth}Transfer-Encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n");
        Assert.True(broken.Status == 400, broken.ToString());
        Assert.Contains("application/problem+json", broken.Head);
        var large = await Raw(server.Url, $"POST /v1/organisations HTTP/1.1\r\n{Host}{auth}Content-Length: 5000000\r\n\r\n{{");
        Assert.True(large.Status == 413, large.ToString());
        Assert.Contains("problems/payload-too-large", large.Body);
    }

    private sealed class Server(WebApplicationFactory<Program> factory, Uri url) : IAsyncDisposable
    {
        public Uri Url { get; } = url;
        public ValueTask DisposeAsync() => factory.DisposeAsync();
    }

    private Server Start(Action<KestrelServerOptions>? configure = null)
    {
        var factory = Fx.CreateFactory(Fx.ConnectionString, startupTasks: false);
        factory.UseKestrel(k =>
        {
            configure?.Invoke(k);
            k.Listen(IPAddress.Loopback, 0);
        });
        factory.StartServer();
        return new Server(factory, new Uri(factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()));
    }

    /// <summary>An answer read off the wire: its status, its head and its body (de-chunked).</summary>
    private sealed record Answer(int Status, string Head, string Body)
    {
        public override string ToString() => Head + Body;
    }

    /// <summary>Sends the bytes as they are and reads every answer until the server closes (or 10 seconds).</summary>
    private static async Task<List<Answer>> Send(Uri url, string request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(url.Host, url.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.Latin1);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var text = await reader.ReadToEndAsync(timeout.Token);
        var answers = new List<Answer>();
        for (var at = 0; at < text.Length;)
        {
            var headEnd = text.IndexOf("\r\n\r\n", at, StringComparison.Ordinal) + 4;
            var head = text[at..headEnd];
            var body = new StringBuilder();
            var length = System.Text.RegularExpressions.Regex.Match(head, @"Content-Length: (\d+)");
            if (length.Success) body.Append(text, headEnd, int.Parse(length.Groups[1].Value));
            at = headEnd + body.Length;
            if (head.Contains("Transfer-Encoding: chunked"))
                for (int size; (size = Convert.ToInt32(text[at..text.IndexOf("\r\n", at, StringComparison.Ordinal)], 16)) > 0;)
                {
                    at = text.IndexOf("\r\n", at, StringComparison.Ordinal) + 2;
                    body.Append(text, at, size);
                    at += size + 2;
                }
            if (head.Contains("Transfer-Encoding: chunked")) at = text.IndexOf("\r\n\r\n", at, StringComparison.Ordinal) + 4;
            answers.Add(new Answer(int.Parse(head.Split(' ', 3)[1]), head, body.ToString()));
        }
        return answers;
    }

    private static async Task<Answer> Raw(Uri url, string request) =>
        (await Send(url, request)).LastOrDefault() ?? new Answer(0, "(no answer)", "");
}
