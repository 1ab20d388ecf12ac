using System.Net;
using CoordinationHub.Features.Imports;
using CoordinationHub.Platform.Auth;

namespace CoordinationHub.Tests.Features.Webhooks;

/// <summary>Events of the resources added after the webhooks (imports) reach their audience, and no one else.</summary>
public abstract class EventAudienceTests(ApiFixture fx) : WebhookTestBase(fx)
{
    [Fact]
    public async Task An_import_completed_event_goes_to_the_departement_that_pushed_and_to_no_other_organisation()
    {
        StartDispatcher();
        var dep = await Departement("24");
        var key = await Fx.KeyFor(dep.Id, Scopes.DelegationsImport, Scopes.EventsRead);
        var content = new StringContent("", System.Text.Encoding.UTF8, "application/x-ndjson");
        var report = await (await Fx.Client(key).PostAsync("/v1/imports/delegations", content).Ok()).Read<ImportReport>();
        Assert.Equal(ImportStatus.APPLIED, report.Status);

        await Eventually(async () => await Sql<long>("""
            SELECT COUNT(*) FROM event_audience a JOIN outbox_event e ON e.id = a.event_id
            WHERE e.event_type = 'import.completed' AND e.resource_id = @id
            """, new { id = report.Id }) > 0, "the event sequenced with its audience");
        var audience = await Rows<Guid>("""
            SELECT a.organisation_id FROM event_audience a JOIN outbox_event e ON e.id = a.event_id
            WHERE e.event_type = 'import.completed' AND e.resource_id = @id
            """, new { id = report.Id });
        Assert.Equal([dep.Id], audience);

        var other = await Departement("25");
        var feed = await (await Fx.Client(await Fx.KeyFor(other.Id, Scopes.EventsRead)).GetAsync("/v1/events?types=import.*").Ok()).Json();
        Assert.DoesNotContain(feed.GetProperty("items").EnumerateArray(), e => e.GetProperty("data").GetProperty("resourceId").GetGuid() == report.Id);
    }
}

[Collection(SqliteCollection.Name)] public sealed class EventAudienceTests_Sqlite(SqliteFixture f) : EventAudienceTests(f);
[Collection(PostgresCollection.Name)] public sealed class EventAudienceTests_Postgres(PostgresFixture f) : EventAudienceTests(f);
