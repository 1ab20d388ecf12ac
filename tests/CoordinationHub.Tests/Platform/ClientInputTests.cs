using System.Net;
using System.Net.Sockets;
using System.Text;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Platform;

/// <summary>What a client may send that the binder or the transport used to refuse in .NET's words, or without a body.</summary>
public abstract class ClientInputTests(ApiFixture fx) : ApiTests(fx)
{
    private async Task<HttpClient> ReferralReader()
    {
        var nord = await Departement("59");
        return Fx.Client(await Fx.KeyFor(nord.Id, Scopes.ReferralsRead));
    }

    [Theory]
    [InlineData("received")]
    [InlineData("Sent")]
    [InlineData("RECEIVED")]
    public async Task Enum_query_values_are_read_whatever_their_case(string box)
    {
        var client = await ReferralReader();
        await client.GetAsync($"/v1/referrals/counts?box={box}").Ok();
    }

    [Theory]
    [InlineData("OTHER")]
    [InlineData("1")]
    public async Task An_unknown_enum_query_value_is_a_400_naming_the_parameter_and_its_values(string box)
    {
        var client = await ReferralReader();
        var response = await client.GetAsync($"/v1/referrals/counts?box={box}");
        var body = await response.Content.ReadAsStringAsync();
        var problem = await response.Problem(HttpStatusCode.BadRequest, "validation");
        var message = problem.GetProperty("errors").GetProperty("box")[0].GetString()!;
        Assert.Contains("SENT", message);
        Assert.Contains("RECEIVED", message);
        Assert.DoesNotContain("Nullable", body);
        Assert.DoesNotContain("ReferralBox", body);
    }

    [Theory]
    [InlineData("limit=abc", "limit", "an integer")]
    [InlineData("active=maybe", "active", "true or false")]
    public async Task A_query_value_of_the_wrong_type_names_the_parameter_and_no_NET_type(string query, string name, string expected)
    {
        var response = await Fx.Admin().GetAsync($"/v1/organisations?{query}");
        var body = await response.Content.ReadAsStringAsync();
        var problem = await response.Problem(HttpStatusCode.BadRequest, "validation");
        Assert.Contains(expected, problem.GetProperty("errors").GetProperty(name)[0].GetString());
        Assert.DoesNotContain("Nullable", body);
        Assert.DoesNotContain("Int32", body);
        Assert.DoesNotContain("Boolean", body);
    }

    [Fact]
    public async Task An_organisation_kind_in_lower_case_filters_as_in_upper_case()
    {
        var lower = await (await Fx.Admin().GetAsync("/v1/organisations?kind=departement&departement=59").Ok()).Json();
        Assert.Equal("DEPARTEMENT", lower.GetProperty("items")[0].GetProperty("kind").GetString());
    }

    [Fact]
    public async Task A_control_character_in_a_query_value_or_a_body_string_is_a_400_naming_the_field()
    {
        var query = await Fx.Admin().GetAsync("/v1/organisations?q=lil%01le");
        Assert.True((await query.Problem(HttpStatusCode.BadRequest, "validation")).GetProperty("errors").TryGetProperty("q", out _));
        var body = await Fx.Admin().PostRaw("/v1/organisations", "{\"kind\":\"PARTNER\",\"name\":\"Assoc\\u0007iation\"}");
        Assert.True((await body.Problem(HttpStatusCode.BadRequest, "validation")).GetProperty("errors").TryGetProperty("name", out _));
    }

    [Theory]
    [InlineData("droit d'acc\u00e8s", "droit d'accès")] // ISO-8859-1 bytes, as fetch sends them
    [InlineData("droit d'acc\u00c3\u00a8s", "droit d'accès")] // UTF-8 bytes read as ISO-8859-1
    [InlineData("UTF-8''droit%20d%27acc%C3%A8s", "droit d'accès")] // RFC 8187
    [InlineData("plain", "plain")]
    public void Header_text_beyond_ASCII_is_decoded(string received, string meant) =>
        Assert.Equal(meant, HeaderText.Decode(received));

    /// <summary>
    /// Over Kestrel itself (the test server has no transport): header bytes beyond ASCII are read, and a target or
    /// headers over the API's limits are refused with a problem document, not Kestrel's empty answer.
    /// </summary>
    [Fact]
    public async Task Over_Kestrel_Latin_1_headers_are_read_and_oversized_requests_get_a_problem_document()
    {
        await using var factory = Fx.CreateFactory(Fx.ConnectionString, startupTasks: false);
        factory.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        factory.StartServer();
        var url = new Uri(factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

        var latin1 = await Raw(url, $"GET /v1/organisations?limit=1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {Fx.AdminKey}\r\n"
            + "X-Purpose: droit d'acc\u00e8s\r\nConnection: close\r\n\r\n");
        Assert.True(latin1.Status == 200, latin1.Text);

        var longTarget = await Raw(url, $"GET /v1/organisations?q={new string('a', RequestLimits.MaxTargetLength)} HTTP/1.1\r\n"
            + $"Host: localhost\r\nAuthorization: Bearer {Fx.AdminKey}\r\nConnection: close\r\n\r\n");
        Assert.True(longTarget.Status == 414, longTarget.Text);
        Assert.Contains("application/problem+json", longTarget.Text);
        Assert.Contains("problems/uri-too-long", longTarget.Text);

        var bigHeaders = await Raw(url, $"GET /v1/organisations HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {Fx.AdminKey}\r\n"
            + $"X-Big: {new string('b', RequestLimits.MaxHeaderBytes)}\r\nConnection: close\r\n\r\n");
        Assert.True(bigHeaders.Status == 431, bigHeaders.Text);
        Assert.Contains("problems/headers-too-large", bigHeaders.Text);
    }

    private static async Task<(int Status, string Text)> Raw(Uri url, string request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(url.Host, url.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.Latin1);
        var text = await reader.ReadToEndAsync();
        return (int.Parse(text.Split(' ', 3)[1]), text.Length > 3000 ? text[..3000] : text);
    }
}

[Collection(SqliteCollection.Name)] public sealed class ClientInputTests_Sqlite(SqliteFixture f) : ClientInputTests(f);
[Collection(PostgresCollection.Name)] public sealed class ClientInputTests_Postgres(PostgresFixture f) : ClientInputTests(f);
