using System.Net.Http.Headers;
using CoordinationHub.Platform.Auth;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CoordinationHub.Tests.Platform;

/// <summary>Another instance of the API over the fixture's database, on a frozen clock of its own that the test moves.</summary>
public sealed record KeyInstance(WebApplicationFactory<Program> Host, TestClock Clock) : IAsyncDisposable
{
    public static KeyInstance Start(ApiFixture fx)
    {
        var clock = new TestClock();
        return new KeyInstance(fx.CreateFactory(fx.ConnectionString, startupTasks: false, s =>
        {
            s.RemoveAll<TimeProvider>();
            s.AddSingleton<TimeProvider>(clock);
        }), clock);
    }

    public HttpClient Client(string key)
    {
        var client = Host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public ApiKeyStore Store => Host.Services.GetRequiredService<ApiKeyStore>();
    public void Advance(TimeSpan by) => Clock.Set(Clock.GetUtcNow() + by);
    public ValueTask DisposeAsync() => Host.DisposeAsync();
}
