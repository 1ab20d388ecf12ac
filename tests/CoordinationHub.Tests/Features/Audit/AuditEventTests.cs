using System.Net;
using CoordinationHub.Features.Audit;
using CoordinationHub.Platform.Http;
using CoordinationHub.Tests.Features.Conventions;

namespace CoordinationHub.Tests.Features.Audit;

public abstract class AuditEventTests(ApiFixture fx) : ConventionApiTests(fx)
{
    [Fact]
    public async Task Parties_read_every_change_with_the_state_before_and_after()
    {
        var (a, b) = (await NewParty(), await NewParty());
        var convention = await CreateSigned(a, b, Body(a, b, "2026-01-01", "2026-12-31"));
        var page = await (await b.Client.GetAsync($"/v1/audit-events?resourceType=convention&resourceId={convention.Id}").Ok()).Read<PageResponse<AuditEventDto>>();
        Assert.Equal(["convention.created", "convention.signature-added", "convention.signed"], page.Items.Select(e => e.Action));
        Assert.Null(page.Items[0].Before);
        Assert.Equal("DRAFT", page.Items[0].After!.Value.GetProperty("recordedStatus").GetString());
        Assert.Equal(a.Id, page.Items[0].OrganisationId);
        Assert.Equal("DRAFT", page.Items[2].Before!.Value.GetProperty("recordedStatus").GetString());
        Assert.Equal("SIGNED", page.Items[2].After!.Value.GetProperty("recordedStatus").GetString());
        Assert.Equal(b.Id, page.Items[2].OrganisationId);

        var first = await (await a.Client.GetAsync($"/v1/audit-events?resourceType=convention&resourceId={convention.Id}&limit=2").Ok()).Read<PageResponse<AuditEventDto>>();
        var rest = await (await a.Client.GetAsync(first.Next!).Ok()).Read<PageResponse<AuditEventDto>>();
        Assert.Equal(page.Items.Select(e => e.Id), first.Items.Concat(rest.Items).Select(e => e.Id));

        // A forged cursor (["not-ticks","not-an-id"]) is refused, not a server error.
        await (await a.Client.GetAsync($"/v1/audit-events?resourceType=convention&resourceId={convention.Id}&cursor=WyJub3QtdGlja3MiLCJub3QtYW4taWQiXQ"))
            .Problem(HttpStatusCode.BadRequest, "invalid-cursor");
    }

    [Fact]
    public async Task Anyone_else_gets_404()
    {
        var (a, b, outsider) = (await NewParty(), await NewParty(), await NewParty("Tiers"));
        var convention = await CreateSigned(a, b, Body(a, b));
        await (await outsider.Client.GetAsync($"/v1/audit-events?resourceType=convention&resourceId={convention.Id}")).Problem(HttpStatusCode.NotFound, "not-found");
        await (await a.Client.GetAsync($"/v1/audit-events?resourceType=delegation&resourceId={Guid.CreateVersion7()}")).Problem(HttpStatusCode.NotFound, "not-found");
        await Fx.Admin().GetAsync($"/v1/audit-events?resourceType=convention&resourceId={convention.Id}").Ok();
    }
}

[Collection(SqliteCollection.Name)] public sealed class AuditEventTests_Sqlite(SqliteFixture f) : AuditEventTests(f);
[Collection(PostgresCollection.Name)] public sealed class AuditEventTests_Postgres(PostgresFixture f) : AuditEventTests(f);
