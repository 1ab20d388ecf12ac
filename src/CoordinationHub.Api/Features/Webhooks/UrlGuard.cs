using System.Net;
using System.Net.Sockets;
using CoordinationHub.Platform.Errors;
using Microsoft.Extensions.Options;

namespace CoordinationHub.Features.Webhooks;

/// <summary>
/// SSRF (OWASP API7): a webhook URL is https and its host resolves only to public addresses, checked
/// when the subscription is saved and again at every connection (DNS may change: rebinding), except
/// for the hosts listed in <see cref="WebhookOptions.AllowedHosts"/>.
/// </summary>
public sealed class UrlGuard(IOptions<WebhookOptions> options)
{
    public async Task CheckAsync(string url, CancellationToken ct)
    {
        var uri = new Uri(url);
        if (options.Value.IsAllowedHost(uri.Host)) return;
        if (uri.Scheme != Uri.UriSchemeHttps)
            throw new RuleException("webhooks.url-not-https", "The webhook URL must use https.");
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(uri.Host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(uri.Host, ct);
        }
        catch (SocketException)
        {
            throw new RuleException("webhooks.url-unresolvable", $"The host '{uri.Host}' does not resolve.");
        }
        if (addresses.Length == 0)
            throw new RuleException("webhooks.url-unresolvable", $"The host '{uri.Host}' does not resolve.");
        if (addresses.FirstOrDefault(IsForbidden) is { } forbidden)
            throw new RuleException("webhooks.url-forbidden-address",
                $"The host '{uri.Host}' resolves to {forbidden}, a loopback, private, link-local or otherwise non-public address.");
    }

    /// <summary>Connects only to public addresses (or to an allowed host), whatever DNS answers now.</summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false, // a redirect could lead anywhere: it counts as a failed attempt
        UseProxy = false, // through a proxy the callback would see the proxy's address, not the receiver's
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectCallback = async (context, ct) =>
        {
            var host = context.DnsEndPoint.Host;
            var allowed = options.Value.IsAllowedHost(host);
            var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
                ? [literal]
                : await Dns.GetHostAddressesAsync(host, ct);
            if (!allowed) addresses = addresses.Where(a => !IsForbidden(a)).ToArray();
            if (addresses.Length == 0) throw new HttpRequestException($"Refused to connect to {host}: no public address.");
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, ct);
                // The address the socket reached, whatever resolved it: the one that decides.
                if (!allowed && socket.RemoteEndPoint is IPEndPoint reached && IsForbidden(reached.Address))
                    throw new HttpRequestException($"Refused to connect to {host}: {reached.Address} is not a public address.");
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    /// <summary>
    /// Whether an address is anything but a public unicast one. An IPv6 address that carries an IPv4 one is judged
    /// by that IPv4 address (mapped ::ffff:0:0/96, compatible ::/96, translated ::ffff:0:0:0/96, NAT64 64:ff9b::/96,
    /// 6to4 2002::/16, Teredo 2001::/32 with its server and its client), since a host or a gateway may route it
    /// there: <c>[64:ff9b::a9fe:a9fe]</c> is the cloud metadata address. Other IPv6 is public only in 2000::/3
    /// (global unicast), less its documentation and benchmarking blocks.
    /// </summary>
    public static bool IsForbidden(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork) return IsForbiddenV4(address.GetAddressBytes());
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return true;
        var b = address.GetAddressBytes();
        if (Embedded(b) is { } v4) return v4.Any(IsForbiddenV4);
        // Outside 2000::/3: loopback, unspecified, ULA, link-local, multicast, discard-only, 64:ff9b:1::/48…
        if ((b[0] & 0xE0) != 0x20) return true;
        return (b[0], b[1], b[2], b[3]) switch
        {
            (0x20, 0x01, 0x0d, 0xb8) => true,                  // 2001:db8::/32 documentation
            (0x20, 0x01, 0x00, 0x02) when b[4] == 0 && b[5] == 0 => true, // 2001:2::/48 benchmarking
            (0x20, 0x01, 0x00, >= 0x10 and <= 0x1f) => true,   // 2001:10::/28 ORCHID (deprecated)
            (0x3f, 0xff, < 0x10, _) => true,                   // 3fff::/20 documentation
            _ => false,
        };
    }

    /// <summary>The IPv4 addresses an IPv6 address carries, or null when it carries none.</summary>
    private static byte[][]? Embedded(byte[] b)
    {
        static bool Zero(byte[] b, int from, int to) => b.AsSpan(from, to - from).IndexOfAnyExcept((byte)0) < 0;
        var last = b[12..16];
        // ::ffff:a.b.c.d mapped
        if (Zero(b, 0, 10) && b[10] == 0xFF && b[11] == 0xFF) return [last];
        // ::ffff:0:a.b.c.d translated (SIIT)
        if (Zero(b, 0, 8) && b[8] == 0xFF && b[9] == 0xFF && b[10] == 0 && b[11] == 0) return [last];
        // ::a.b.c.d compatible (:: and ::1 too: 0.0.0.0 and 0.0.0.1 are forbidden)
        if (Zero(b, 0, 12)) return [last];
        // 64:ff9b::/96 NAT64 (well-known prefix)
        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && Zero(b, 4, 12)) return [last];
        // 2002::/16 6to4
        if (b[0] == 0x20 && b[1] == 0x02) return [b[2..6]];
        // 2001::/32 Teredo: the server, and the client's address bit-inverted in the last 32 bits
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) return [b[4..8], last.Select(x => (byte)~x).ToArray()];
        return null;
    }

    private static bool IsForbiddenV4(byte[] b) => b[0] switch
    {
        0 or 10 or 127 => true,                                    // this network, private, loopback
        100 => b[1] >= 64 && b[1] < 128,                           // carrier-grade NAT
        169 => b[1] == 254,                                        // link-local, cloud metadata (169.254.169.254)
        172 => b[1] >= 16 && b[1] < 32,                            // private
        // private, IETF protocol assignments, TEST-NET-1, 6to4 relay anycast
        192 => b[1] == 168 || (b[1] == 0 && b[2] is 0 or 2) || (b[1] == 88 && b[2] == 99),
        198 => b[1] == 18 || b[1] == 19 || (b[1] == 51 && b[2] == 100), // benchmarking, TEST-NET-2
        203 => b[1] == 0 && b[2] == 113,                           // TEST-NET-3
        >= 224 => true,                                            // multicast, reserved, broadcast
        _ => false,
    };
}
