using System.Net;
using CoordinationHub.Platform.Auth;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// A host with small buckets on the suite's database: 5 requests per key, 8 for the administrator, refilled once an
/// hour, so that nothing refills during the test and the 429 comes at a known request.
/// </summary>
public abstract class RateLimitTests(ApiFixture fx) : ApiTests(fx)
{
    private static readonly Dictionary<string, string> SmallBuckets = new()
    {
        ["RateLimiting:PerKey:TokenLimit"] = "5", ["RateLimiting:PerKey:TokensPerPeriod"] = "5",
        ["RateLimiting:PerKey:PeriodSeconds"] = "3600",
        ["RateLimiting:PlatformAdmin:TokenLimit"] = "8", ["RateLimiting:PlatformAdmin:TokensPerPeriod"] = "8",
        ["RateLimiting:PlatformAdmin:PeriodSeconds"] = "3600",
    };

    private static HttpClient Client(Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> host, string key)
    {
        var client = host.CreateDefaultClient(new ContractConformance.Handler());
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return client;
    }

    [Fact]
    public async Task A_key_that_bursts_past_its_bucket_gets_429_with_Retry_After_and_a_problem_while_other_keys_go_on()
    {
        var lille = await Commune("59350");
        var burst = await Fx.KeyFor(lille.Id, Scopes.DirectoryRead);
        var other = await Fx.KeyFor(lille.Id, Scopes.DirectoryRead);
        await using var host = Fx.CreateFactory(Fx.ConnectionString, startupTasks: false, settings: SmallBuckets);
        var client = Client(host, burst);

        for (var left = 4; left >= 0; left--)
        {
            var ok = await client.GetAsync("/v1/organisations?commune=59350").Ok();
            Assert.Equal("\"per-key\";q=5;w=3600", ok.Headers.GetValues("RateLimit-Policy").Single());
            Assert.StartsWith($"\"per-key\";r={left};", ok.Headers.GetValues("RateLimit").Single());
        }
        var refused = await client.GetAsync("/v1/organisations?commune=59350");
        var problem = await refused.Problem(HttpStatusCode.TooManyRequests, "rate-limited");
        Assert.Contains("5 requests", problem.GetProperty("detail").GetString());
        Assert.True(refused.Headers.RetryAfter?.Delta?.TotalSeconds >= 1, "429 without a usable Retry-After");
        Assert.StartsWith("\"per-key\";r=0;", refused.Headers.GetValues("RateLimit").Single());

        // The bucket is the key's, not the organisation's nor the host's.
        await Client(host, other).GetAsync("/v1/organisations?commune=59350").Ok();
    }

    [Fact]
    public async Task The_platform_administrator_has_a_larger_bucket()
    {
        await using var host = Fx.CreateFactory(Fx.ConnectionString, startupTasks: false, settings: SmallBuckets);
        var admin = Client(host, Fx.AdminKey);
        for (var i = 0; i < 8; i++) await admin.GetAsync("/v1/competences").Ok();
        await (await admin.GetAsync("/v1/competences")).Problem(HttpStatusCode.TooManyRequests, "rate-limited");
    }

    [Fact]
    public async Task Every_answer_carries_the_rate_limit_headers_even_a_refusal()
    {
        var anonymous = await Fx.Client().GetAsync("/v1/organisations");
        await anonymous.Problem(HttpStatusCode.Unauthorized);
        Assert.True(anonymous.Headers.Contains("RateLimit-Policy"), "401 without RateLimit-Policy");
        var missing = await Fx.Admin().GetAsync($"/v1/organisations/{Guid.NewGuid()}");
        await missing.Problem(HttpStatusCode.NotFound);
        Assert.True(missing.Headers.Contains("RateLimit"), "404 without RateLimit");
    }

    [Fact]
    public async Task No_CORS_header_is_sent_unless_an_allowlist_is_configured()
    {
        var request = new HttpRequestMessage(HttpMethod.Options, "/v1/organisations");
        request.Headers.Add("Origin", "https://portail.example.fr");
        request.Headers.Add("Access-Control-Request-Method", "GET");
        var preflight = await Fx.Client().SendAsync(request);
        Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"), "CORS is open without an allowlist");

        await using var host = Fx.CreateFactory(Fx.ConnectionString, startupTasks: false,
            settings: new Dictionary<string, string> { ["Cors:AllowedOrigins:0"] = "https://portail.cd59.fr" });
        foreach (var (origin, allowed) in new[] { ("https://portail.cd59.fr", true), ("https://portail.example.fr", false) })
        {
            var get = new HttpRequestMessage(HttpMethod.Get, "/v1/competences");
            get.Headers.Add("Origin", origin);
            get.Headers.Authorization = new("Bearer", Fx.AdminKey);
            var answer = await host.CreateClient().SendAsync(get);
            Assert.Equal(allowed, answer.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) && values.Single() == origin);
        }
    }
}

[Collection(SqliteCollection.Name)] public sealed class RateLimitTests_Sqlite(SqliteFixture f) : RateLimitTests(f);
[Collection(PostgresCollection.Name)] public sealed class RateLimitTests_Postgres(PostgresFixture f) : RateLimitTests(f);
