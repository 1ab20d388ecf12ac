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
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectCallback = async (context, ct) =>
        {
            var host = context.DnsEndPoint.Host;
            var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
            if (!options.Value.IsAllowedHost(host)) addresses = addresses.Where(a => !IsForbidden(a)).ToArray();
            if (addresses.Length == 0) throw new HttpRequestException($"Refused to connect to {host}: no public address.");
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    public static bool IsForbidden(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] switch
            {
                0 or 10 or 127 => true,                   // this network, private, loopback
                100 => b[1] >= 64 && b[1] < 128,          // carrier-grade NAT
                169 => b[1] == 254,                       // link-local, cloud metadata (169.254.169.254)
                172 => b[1] >= 16 && b[1] < 32,           // private
                192 => (b[1] == 168) || (b[1] == 0 && b[2] == 0), // private, IETF protocol assignments
                198 => b[1] == 18 || b[1] == 19,          // benchmarking
                >= 224 => true,                           // multicast, reserved, broadcast
                _ => false,
            };
        }
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.IPv6None) || address.IsIPv6LinkLocal
            || address.IsIPv6SiteLocal || address.IsIPv6Multicast) return true;
        var first = address.GetAddressBytes()[0];
        return (first & 0xFE) == 0xFC; // unique local fc00::/7 (fd00:ec2::254 is a metadata address)
    }
}
