using CoordinationHub.Features.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CoordinationHub.Tests.Platform;

[Collection(SqliteCollection.Name)]
public sealed class ConfigurationTests(SqliteFixture fx)
{
    [Fact]
    public async Task A_configured_webhook_backoff_replaces_the_default_schedule_rather_than_appending_to_it()
    {
        await using var factory = fx.CreateFactory(fx.ConnectionString, startupTasks: false, settings: new Dictionary<string, string>
        {
            ["Webhooks:Backoff:0"] = "00:00:10",
            ["Webhooks:Backoff:1"] = "00:01:00",
        });
        var options = factory.Services.GetRequiredService<IOptions<WebhookOptions>>().Value;
        Assert.Equal([TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1)], options.Backoff);
    }

    [Fact]
    public async Task Without_configuration_the_default_webhook_backoff_stays()
    {
        await using var factory = fx.CreateFactory(fx.ConnectionString, startupTasks: false);
        Assert.Equal(6, factory.Services.GetRequiredService<IOptions<WebhookOptions>>().Value.Backoff.Length);
    }
}
