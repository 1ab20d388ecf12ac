using System.Net;
using System.Net.Sockets;
using CoordinationHub.Features.Webhooks;
using Microsoft.Extensions.Options;

namespace CoordinationHub.Tests.Features.Webhooks;

/// <summary>
/// IPv6 forms that carry a loopback or metadata IPv4 address were taken for public (issue 23, finding 12): a
/// subscription could aim the dispatcher at the host itself or at the cloud's metadata service.
/// </summary>
public abstract class UrlGuardTests(ApiFixture fx) : WebhookTestBase(fx)
{
    [Theory]
    [InlineData("https://[::127.0.0.1]/hook")]       // IPv4-compatible loopback
    [InlineData("https://[64:ff9b::7f00:1]/hook")]   // NAT64 of 127.0.0.1
    [InlineData("https://[64:ff9b::a9fe:a9fe]/hook")] // NAT64 of 169.254.169.254, the metadata service
    [InlineData("https://[2002:7f00:1::]/hook")]     // 6to4 of 127.0.0.1
    [InlineData("https://[::ffff:0:7f00:1]/hook")]   // SIIT-translated 127.0.0.1
    [InlineData("https://[64:ff9b:1::a9fe:a9fe]/hook")] // local-use NAT64
    public async Task A_subscription_to_an_IPv6_form_of_a_loopback_or_metadata_address_is_refused_and_not_saved(
        string url)
    {
        var partner = await Subscriber("Association Détournée");
        var response = await partner.Client(Fx).PostJson("/v1/webhook-subscriptions", new { url, eventTypes = new[] { "*" } });
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity,
            $"{url} was accepted as public ({(int)response.StatusCode})");
        await response.Problem(HttpStatusCode.UnprocessableEntity, "webhooks.url-forbidden-address");
        Assert.Equal(0L, await Sql<long>("SELECT COUNT(*) FROM webhook_subscription WHERE organisation_id = @id",
            new { id = partner.Id }));
    }
}

[Collection(SqliteCollection.Name)] public sealed class UrlGuardTests_Sqlite(SqliteFixture f) : UrlGuardTests(f);
[Collection(PostgresCollection.Name)] public sealed class UrlGuardTests_Postgres(PostgresFixture f) : UrlGuardTests(f);

/// <summary>The guard's verdict on an address, and the dispatcher's connection that obeys it whatever the URL said.</summary>
public sealed class UrlGuardAddressTests
{
    [Theory]
    [InlineData("::127.0.0.1")]
    [InlineData("64:ff9b::7f00:1")]
    [InlineData("64:ff9b::a9fe:a9fe")]
    [InlineData("2002:7f00:1::")]
    [InlineData("::ffff:0:7f00:1")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("64:ff9b:1::a00:1")]             // local-use NAT64 (RFC 8215)
    [InlineData("2002:a00:1::1")]                // 6to4 of 10.0.0.1
    [InlineData("2001:0:4136:e378:8000:63bf:80ff:fffe")] // Teredo, client 127.0.0.1
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("fc00::1")]
    [InlineData("fe80::1")]
    [InlineData("ff02::1")]
    [InlineData("100::1")]                       // discard-only
    [InlineData("2001:db8::1")]                  // documentation
    [InlineData("192.0.2.1")]
    [InlineData("203.0.113.9")]
    [InlineData("255.255.255.255")]
    public void An_address_that_is_or_carries_a_non_public_one_is_forbidden(string address) =>
        Assert.True(UrlGuard.IsForbidden(IPAddress.Parse(address)), $"{address} taken for public");

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("2a00:1450:4007::1")]
    [InlineData("2001:4860:4860::8888")]
    [InlineData("64:ff9b::808:808")]   // NAT64 of a public address
    [InlineData("2002:808:808::1")]    // 6to4 of a public address
    [InlineData("::ffff:8.8.8.8")]
    public void A_public_address_in_any_form_is_allowed(string address) =>
        Assert.False(UrlGuard.IsForbidden(IPAddress.Parse(address)), $"{address} taken for private");

    [Theory]
    [InlineData("[::ffff:0:7f00:1]")]
    [InlineData("[64:ff9b::7f00:1]")]
    [InlineData("[::127.0.0.1]")]
    public async Task The_dispatcher_refuses_to_connect_to_such_an_address_whatever_the_subscription_said(string host)
    {
        // Something listens on loopback, as an internal service would.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var guard = new UrlGuard(Options.Create(new WebhookOptions()));
        using var http = new HttpClient(guard.CreateHandler()) { Timeout = TimeSpan.FromSeconds(5) };
        var e = await Assert.ThrowsAnyAsync<Exception>(() => http.GetAsync($"https://{host}:{port}/hook"));
        Assert.True(e.ToString().Contains("Refused to connect", StringComparison.Ordinal),
            $"not refused by the guard: {e}");
    }

    [Fact]
    public async Task The_hosts_a_deployment_allows_are_still_reached_at_connection_time()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var guard = new UrlGuard(Options.Create(new WebhookOptions { AllowedHosts = ["127.0.0.1"] }));
        using var http = new HttpClient(guard.CreateHandler()) { Timeout = TimeSpan.FromSeconds(5) };
        var call = http.GetAsync($"http://127.0.0.1:{port}/hook");
        using var accepted = await listener.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(5)); // connected
        accepted.Close();
        await Assert.ThrowsAnyAsync<Exception>(() => call); // no HTTP answer: the connection is all this test wanted
    }
}
