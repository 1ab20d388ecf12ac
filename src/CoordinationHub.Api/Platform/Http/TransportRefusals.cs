using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using CoordinationHub.Platform.Errors;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace CoordinationHub.Platform.Http;

/// <summary>
/// Kestrel refuses a request it cannot parse (a NUL in its path, a broken request line or header line, a bad or
/// missing Host, a head over its limits or too slow to arrive) with its own answer, empty, before any middleware runs,
/// and offers no hook to change it (aspnet/KestrelHttpServer#2947). So each HTTP/1.x connection's bytes pass through
/// here first: every request head is read whole and checked for what Kestrel would refuse, its body is skipped by its
/// framing, and a head Kestrel would refuse is not handed over. In its place Kestrel gets a request of ours, marked
/// with a value the client cannot know, that closes the connection; the application answers it first thing, with the
/// refusal's status and a problem document (<see cref="Middleware"/>), after the requests before it, in order.
/// It refuses only what Kestrel refuses; what it cannot frame (a TLS handshake, HTTP/2, a broken chunked body) it
/// hands over unread, and the application answers it (a broken body fails its reading, as a 400 problem).
/// </summary>
public static class TransportRefusals
{
    private const string Mark = "X-Transport-Refusal";

    /// <summary>Adds the check to an HTTP/1.x endpoint (Kestrel's <c>ConfigureEndpointDefaults</c>).</summary>
    public static void UseTransportRefusals(this ListenOptions listen, KestrelServerLimits limits) =>
        listen.Use(next => connection => RunAsync(connection, next, limits));

    /// <summary>Answers the request put in place of a refused one; the first middleware.</summary>
    public static Task Middleware(HttpContext http, RequestDelegate next)
    {
        if (http.Request.Headers.TryGetValue(Mark, out var mark)
            && http.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(typeof(Refusal), out var item) == true
            && item is Refusal refusal && mark == refusal.Nonce)
            throw new LimitException(refusal.Status, refusal.Code, refusal.Title, refusal.Detail);
        return next(http);
    }

    private static async Task RunAsync(ConnectionContext connection, ConnectionDelegate next, KestrelServerLimits limits)
    {
        var transport = connection.Transport;
        var toKestrel = new Pipe();
        connection.Transport = new Duplex(toKestrel.Reader, transport.Output);
        var pump = new Reader(transport.Input, toKestrel.Writer, limits, connection.Items).RunAsync();
        try
        {
            await next(connection);
        }
        finally
        {
            connection.Transport = transport;
            await toKestrel.Reader.CompleteAsync();
            transport.Input.CancelPendingRead();
            await pump;
        }
    }

    private sealed record Refusal(int Status, string Code, string Title, string Detail)
    {
        public string Nonce { get; } = Guid.NewGuid().ToString("N");
    }

    /// <summary>Reads the client's bytes, hands Kestrel every request it would accept, and none after one it would not.</summary>
    private sealed class Reader(PipeReader from, PipeWriter to, KestrelServerLimits limits, IDictionary<object, object?> items)
    {
        private enum State { Head, Body, ChunkSize, ChunkData, ChunkEnd, Trailers, Unread }
        private State state = State.Head;
        private long remaining;
        private int requests;
        private string host = "localhost";

        public async Task RunAsync()
        {
            using var slowHead = new CancellationTokenSource();
            var timing = false;
            try
            {
                while (true)
                {
                    ReadResult result;
                    try
                    {
                        result = await from.ReadAsync(slowHead.Token);
                    }
                    catch (OperationCanceledException) when (slowHead.IsCancellationRequested)
                    {
                        await Refuse(new Refusal(408, "request-timeout", "The request took too long to arrive",
                            $"The request's head did not arrive within {limits.RequestHeadersTimeout.TotalSeconds:0} seconds."));
                        return;
                    }
                    if (result.IsCanceled) return;
                    var buffer = result.Buffer;
                    var (handed, refusal) = Scan(buffer);
                    foreach (var segment in buffer.Slice(0, handed)) await to.WriteAsync(segment);
                    if (refusal is not null)
                    {
                        from.AdvanceTo(buffer.End);
                        await Refuse(refusal);
                        return;
                    }
                    from.AdvanceTo(buffer.GetPosition(handed), buffer.End);
                    // A head begun and not finished: Kestrel's clock for it never starts (it has not seen it), so this one runs.
                    var partialHead = state == State.Head && handed < buffer.Length;
                    if (partialHead && !timing) slowHead.CancelAfter(limits.RequestHeadersTimeout);
                    else if (!partialHead && timing) slowHead.CancelAfter(Timeout.InfiniteTimeSpan);
                    timing = partialHead;
                    if (result.IsCompleted)
                    {
                        // What remains is a head cut short by the client leaving: Kestrel closes without answering.
                        foreach (var segment in buffer.Slice(handed)) await to.WriteAsync(segment);
                        await to.CompleteAsync();
                        return;
                    }
                }
            }
            catch (Exception e) when (e is IOException or ConnectionResetException or InvalidOperationException or ObjectDisposedException)
            {
                // The connection went away, or Kestrel stopped reading: nothing left to answer.
                await to.CompleteAsync();
            }
        }

        /// <summary>
        /// Hands Kestrel our request in place of the refused one, and reads on what the client sends until Kestrel has
        /// answered and closed (the input is not ended: Kestrel reads an ended input as the client gone, and aborts).
        /// </summary>
        private async Task Refuse(Refusal refusal)
        {
            items[typeof(Refusal)] = refusal;
            await to.WriteAsync(Encoding.ASCII.GetBytes(
                $"GET / HTTP/1.1\r\nHost: {host}\r\n{Mark}: {refusal.Nonce}\r\nConnection: close\r\n\r\n"));
            while (true)
            {
                var result = await from.ReadAsync();
                from.AdvanceTo(result.Buffer.End);
                if (result.IsCanceled || result.IsCompleted) return;
            }
        }

        /// <summary>How many bytes of <paramref name="buffer"/> can go to Kestrel now, and the refusal that stops the rest.</summary>
        private (long Handed, Refusal? Refusal) Scan(ReadOnlySequence<byte> buffer)
        {
            long at = 0;
            while (at < buffer.Length)
            {
                var rest = buffer.Slice(at);
                switch (state)
                {
                    case State.Unread:
                        return (buffer.Length, null);
                    case State.Body:
                    case State.ChunkData:
                        var take = Math.Min(remaining, rest.Length);
                        at += take;
                        remaining -= take;
                        if (remaining == 0) state = state == State.Body ? State.Head : State.ChunkEnd;
                        break;
                    case State.Head:
                        if (rest.FirstSpan[0] is (byte)'\r' or (byte)'\n')
                        {
                            at++; // empty lines between requests: Kestrel's to skip
                            break;
                        }
                        if (rest.FirstSpan[0] == 0x16 && requests == 0)
                        {
                            state = State.Unread; // a TLS handshake: not ours to read
                            break;
                        }
                        var max = limits.MaxRequestLineSize + limits.MaxRequestHeadersTotalSize;
                        var window = rest.Slice(0, Math.Min(rest.Length, max + 4)).ToArray();
                        var end = HeadEnd(window);
                        if (end < 0)
                        {
                            var lineEnd = Array.IndexOf(window, (byte)'\n');
                            if (lineEnd < 0 && window.Length > limits.MaxRequestLineSize)
                                return (at, TooLong(414, window.Length));
                            if (window.Length > max) return (at, TooLong(431, window.Length));
                            return (at, null);
                        }
                        requests++;
                        var refusal = Check(window.AsSpan(0, end));
                        if (refusal is not null) return (at, refusal);
                        at += end;
                        break;
                    case State.ChunkSize:
                    case State.ChunkEnd:
                    case State.Trailers:
                        var line = rest.Slice(0, Math.Min(rest.Length, 4096)).ToArray();
                        var eol = Array.IndexOf(line, (byte)'\n');
                        if (eol < 0)
                        {
                            if (line.Length == 4096) state = State.Unread;
                            return (state == State.Unread ? buffer.Length : at, null);
                        }
                        at += eol + 1;
                        var text = Encoding.ASCII.GetString(line, 0, eol).TrimEnd('\r');
                        if (state == State.ChunkEnd) state = text.Length == 0 ? State.ChunkSize : State.Unread;
                        else if (state == State.Trailers) state = text.Length == 0 ? State.Head : State.Trailers;
                        else
                        {
                            var size = text.Split(';', 2)[0].Trim();
                            if (!long.TryParse(size, System.Globalization.NumberStyles.AllowHexSpecifier, null, out remaining) || remaining < 0)
                                state = State.Unread; // Kestrel refuses it while the application reads the body
                            else state = remaining == 0 ? State.Trailers : State.ChunkData;
                        }
                        break;
                }
            }
            return (at, null);
        }

        private static Refusal TooLong(int status, int bytes) => status == 414
            ? new Refusal(414, "uri-too-long", "The request target is too long",
                $"The request line is over {bytes - 1} bytes; the limit is {RequestLimits.MaxTargetLength} characters of path and query.")
            : new Refusal(431, "headers-too-large", "The request headers are too large",
                $"The request's head is over {bytes - 1} bytes; the limit is {RequestLimits.MaxHeaderBytes} bytes of headers.");

        /// <summary>The length of the head (through its empty line), or -1 when it has not all arrived.</summary>
        private static int HeadEnd(byte[] bytes)
        {
            for (var i = bytes.AsSpan().IndexOf((byte)'\n'); i >= 0 && i < bytes.Length - 1;)
            {
                if (bytes[i + 1] == '\n') return i + 2;
                if (bytes[i + 1] == '\r' && i + 2 < bytes.Length && bytes[i + 2] == '\n') return i + 3;
                var next = bytes.AsSpan(i + 1).IndexOf((byte)'\n');
                if (next < 0) return -1;
                i += next + 1;
            }
            return -1;
        }

        /// <summary>The refusal Kestrel would give this head, in a problem document; null when Kestrel reads it.</summary>
        private Refusal? Check(ReadOnlySpan<byte> head)
        {
            Refusal Bad(string detail) => new(400, "bad-request", "The request is malformed", detail);
            var lines = Encoding.Latin1.GetString(head).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
            var parts = lines[0].Split(' ');
            if (parts.Length != 3 || parts[0].Length == 0 || !parts[0].All(IsTokenChar))
                return Bad("The request line is not `METHOD target HTTP/1.1`.");
            var (method, target, version) = (parts[0], parts[1], parts[2]);
            if (method == "PRI" && target == "*")
            {
                state = State.Unread; // HTTP/2 with prior knowledge: Kestrel's to answer
                return null;
            }
            if (version is not ("HTTP/1.1" or "HTTP/1.0"))
                return new Refusal(505, "http-version-not-supported", "HTTP version not supported",
                    $"This server speaks HTTP/1.1 (and HTTP/1.0); the request line ends with `{Shown(version)}`.");
            if (lines[0].Length + 2 > limits.MaxRequestLineSize) return TooLong(414, lines[0].Length + 2);
            if (head.Length - lines[0].Length > limits.MaxRequestHeadersTotalSize) return TooLong(431, head.Length);
            if (target.Length == 0 || target.Any(c => c <= ' ' || c >= 0x7F))
                return Bad("The request target holds a control character, a space or a byte beyond ASCII: percent-encode it.");
            var path = target.Split('?', 2)[0];
            if (path.Contains("%00", StringComparison.Ordinal))
                return Bad("The request's path holds an encoded NUL (%00).");
            if (target[0] != '/' && target != "*" && method != "CONNECT"
                && !target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && !target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
                return Bad("The request target must be a path starting with `/`.");

            var hosts = 0;
            var contentLengths = new HashSet<string>();
            string? transferEncoding = null;
            var upgrade = false;
            var count = 0;
            foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
            {
                if (++count > limits.MaxRequestHeaderCount)
                    return new Refusal(431, "headers-too-large", "The request headers are too large",
                        $"The request has more than {limits.MaxRequestHeaderCount} headers.");
                var colon = line.IndexOf(':');
                if (line[0] is ' ' or '\t') return Bad("A header line starts with a space (obsolete line folding).");
                if (colon <= 0 || !line.AsSpan(0, colon).ToString().All(IsTokenChar))
                    return Bad($"A header line is not `name: value` (`{Shown(line)}`).");
                var name = line[..colon];
                var value = line[(colon + 1)..].Trim(' ', '\t');
                if (value.Any(c => c is '\0' or '\r'))
                    return Bad($"The {Shown(name)} header holds a NUL or a carriage return.");
                if (name.Equals("Host", StringComparison.OrdinalIgnoreCase))
                {
                    hosts++;
                    if (value.Length > 0 && IsHostAndPort(value)) host = value;
                    if (!IsHostAndPort(value))
                        return Bad($"The Host header is not a host name and port (`{Shown(value)}`).");
                }
                else if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    if (value.Length == 0 || !value.All(char.IsAsciiDigit) || !long.TryParse(value, out _))
                        return Bad($"Content-Length is not a number of bytes (`{Shown(value)}`).");
                    contentLengths.Add(value.TrimStart('0'));
                }
                else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                    transferEncoding = transferEncoding is null ? value : transferEncoding + ", " + value;
                else if (name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase))
                    upgrade = true;
            }
            if (version == "HTTP/1.1" && hosts == 0) return Bad("An HTTP/1.1 request must send a Host header.");
            if (hosts > 1) return Bad("The request sends more than one Host header.");
            if (contentLengths.Count > 1) return Bad("The request sends several different Content-Length headers.");

            if (transferEncoding is not null)
            {
                if (!transferEncoding.Split(',').Last().Trim().Equals("chunked", StringComparison.OrdinalIgnoreCase))
                    return Bad("A request's Transfer-Encoding must end with `chunked`.");
                state = State.ChunkSize;
            }
            else if (contentLengths.Count == 1 && long.Parse("0" + contentLengths.Single()) is > 0 and var length)
                (state, remaining) = (State.Body, length);
            else state = State.Head;
            // An upgraded connection (or CONNECT) carries another protocol once the answer says so: hand it over.
            if (upgrade || method == "CONNECT") state = State.Unread;
            return null;
        }

        private static bool IsHostAndPort(string value) => !value.Any(c => c <= ' ' || c >= 0x7F
            || c is '/' or '?' or '#' or '@' or '\\' or '"' or '<' or '>' or '{' or '}' or '|' or '^' or '`');

        private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c);

        private static string Shown(string text) =>
            new([.. text.Take(40).Select(c => c < ' ' || c >= 0x7F ? '?' : c)]);
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
