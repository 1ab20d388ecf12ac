using System.Net.Http.Json;
using System.Net;
using CoordinationHub.Features.Webhooks;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Tests.Features.Referrals;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Features.Webhooks;

/// <summary>
/// Every state change emits its documented event, whatever the path that caused it: a subscriber filtering on the
/// documented types learns of a cancellation made by an erasure, of an agent named with the acceptance, of every signature.
/// Read from the event feed, as a subscriber reads it (a dispatcher's host sequences the events).
/// </summary>
public abstract class EventPathTests(ApiFixture fx) : ReferralTestBase(fx), IAsyncLifetime
{
    private WebApplicationFactory<Program>? dispatcher;

    public Task InitializeAsync()
    {
        dispatcher = Fx.CreateFactory(Fx.ConnectionString, startupTasks: false, s => s.AddHostedService<WebhookDispatcher>())
            .WithWebHostBuilder(b => b.UseSetting("Webhooks:Dispatch", "true"));
        _ = dispatcher.Server;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (dispatcher is not null) await dispatcher.DisposeAsync();
    }

    [Fact]
    public async Task An_erasure_that_cancels_a_referral_tells_the_subscriber_referral_status_changed_CANCELLED()
    {
        var ccas = await Ccas("46042");
        var dep = await Dep("46");
        var (sent, _) = await Send(ccas, Draft("INCOME", Person("46042"), receiverId: dep.Id, consent: Consent("INCOME"), statutory: null));
        await (await ccas.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/person/requests", new { kind = "ERASURE", agent = Agent })
            .Ok(HttpStatusCode.Created)).Json();

        foreach (var party in new[] { ccas, dep })
        {
            var events = await EventsOf(party, sent.Id, "referral.person-request");
            Assert.Contains(("referral.status-changed", "CANCELLED"), events);
            // The status first, then the purge and the request that caused both.
            Assert.Equal(["referral.status-changed", "referral.person-purged", "referral.person-request"],
                events.Select(e => e.Type).SkipWhile(t => t != "referral.status-changed"));
        }
    }

    [Fact]
    public async Task A_consent_withdrawal_that_closes_an_accepted_referral_tells_the_subscriber_referral_status_changed_CLOSED_WITHOUT_OUTCOME()
    {
        var ccas = await Ccas("46042");
        var dep = await Dep("46");
        var (sent, _) = await Send(ccas, Draft("INCOME", Person("46042"), receiverId: dep.Id, consent: Consent("INCOME"), statutory: null));
        await Act(dep, sent.Id, "acceptance", new { agent = Agent });
        await Act(ccas, sent.Id, "consent/revocation", new { agent = Agent });

        var events = await EventsOf(dep, sent.Id, "referral.consent-withdrawn");
        Assert.Equal([("referral.consent-withdrawn", "CLOSED_WITHOUT_OUTCOME"), ("referral.status-changed", "CLOSED_WITHOUT_OUTCOME")],
            events.SkipWhile(e => e.Type != "referral.consent-withdrawn"));
    }

    [Fact]
    public async Task An_acceptance_that_assigns_an_agent_tells_the_subscriber_referral_agent_assigned()
    {
        var ccas = await Ccas("46042");
        var dep = await Dep("46");
        var (sent, _) = await Send(ccas, Draft("INCOME", Person("46042"), receiverId: dep.Id));
        await Act(dep, sent.Id, "acceptance", new { agent = Agent, assignedAgent = new { reference = "ref-7", displayName = "M. Référent" } });
        var (plain, _) = await Send(ccas, Draft("INCOME", Person("46042"), receiverId: dep.Id));
        await Act(dep, plain.Id, "acceptance", new { agent = Agent });

        var events = await EventsOf(ccas, sent.Id, "referral.agent-assigned");
        Assert.Equal([("referral.status-changed", "ACCEPTED"), ("referral.agent-assigned", "ACCEPTED")],
            events.SkipWhile(e => e.Type != "referral.status-changed"));
        // Without an agent named, no agent-assigned.
        var others = await EventsOf(ccas, plain.Id, "referral.status-changed");
        Assert.DoesNotContain(others, e => e.Type == "referral.agent-assigned");
    }

    [Fact]
    public async Task Every_signature_of_a_convention_tells_the_subscriber_convention_signature_added_and_the_last_also_convention_signed()
    {
        var nord = await DepartementParty("59");
        var partner = await PartnerParty("Association Des Deux Signatures", "59");
        var lille = await Commune("59350");
        var id = await SignedConvention([nord, partner], ["RSA_ACCOMPAGNEMENT"], new { communeIds = new[] { lille.Id } }, Jan2026, Dec2028);

        var events = await EventsOf(partner, id, "convention.signed");
        Assert.Equal(
            [("convention.created", "DRAFT"), ("convention.signature-added", "DRAFT"), ("convention.signature-added", "SIGNED"), ("convention.signed", "SIGNED")],
            events);
    }

    [Fact]
    public async Task A_termination_tells_the_parties_convention_terminated_and_ends_each_delegation_with_delegation_ended_with_convention()
    {
        var nord = await DepartementParty("59");
        var partner = await PartnerParty("Association De La Résiliation", "59");
        var lille = await Commune("59350");
        var territory = new { communeIds = new[] { lille.Id } };
        var id = await SignedConvention([nord, partner], ["RSA_ACCOMPAGNEMENT"], territory, Jan2026, Dec2028);
        var delegation = (await (await nord.Client(Fx).PostJson("/v1/delegations", Delegation(nord, partner, "RSA_ACCOMPAGNEMENT", id, territory, Jan2026, Dec2028))
            .Ok(HttpStatusCode.Created)).Json()).GetProperty("id").GetGuid();
        var read = await nord.Client(Fx).GetAsync($"/v1/conventions/{id}").Ok();
        var termination = new HttpRequestMessage(HttpMethod.Post, $"/v1/conventions/{id}/termination")
        {
            Content = JsonContent.Create(new { effectiveOn = DateOnly.FromDateTime(Fx.Clock.GetUtcNow().UtcDateTime), reason = "Accord des parties", agreedByAllParties = true }),
        };
        termination.Headers.TryAddWithoutValidation("If-Match", read.Headers.ETag!.Tag);
        await nord.Client(Fx).SendAsync(termination).Ok();

        foreach (var party in new[] { nord, partner })
        {
            Assert.Contains(("convention.terminated", "TERMINATED"), await EventsOf(party, id, "convention.terminated"));
            Assert.Contains("delegation.ended-with-convention", (await EventsOf(party, delegation, "delegation.ended-with-convention")).Select(e => e.Type));
        }
    }

    [Fact]
    public async Task The_retention_purge_tells_the_parties_referral_person_purged()
    {
        var ccas = await Ccas("46042");
        var dep = await Dep("46");
        var (closed, _) = await Send(ccas, Draft("INCOME", Person("46042"), receiverId: dep.Id));
        await Act(ccas, closed.Id, "cancellation", new { agent = Agent, reason = "NO_LONGER_NEEDED", text = "Plus besoin." });
        Fx.Clock.Set(TestClock.Today.AddDays(366));
        try
        {
            await using var scope = Fx.Services.CreateAsyncScope();
            var report = await scope.ServiceProvider.GetRequiredService<CoordinationHub.Features.PersonalData.PersonDataPurge>()
                .RunAsync(false, CoordinationHub.Features.PersonalData.PurgeTrigger.SCHEDULED, CancellationToken.None);
            Assert.Contains(closed.Id, report.Referrals);
        }
        finally { Fx.Clock.Reset(); }
        foreach (var party in new[] { ccas, dep })
            Assert.Contains("referral.person-purged", (await EventsOf(party, closed.Id, "referral.person-purged")).Select(e => e.Type));
    }

    /// <summary>The party's feed, every page from the start, for one resource: (type, status) in order, once <paramref name="last"/> came.</summary>
    private async Task<List<(string Type, string? Status)>> EventsOf(Party party, Guid resourceId, string last)
    {
        var client = Fx.Client(await Fx.KeyFor(party.Id, Scopes.EventsRead));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var events = new List<(string, string?)>();
            string? cursor = null;
            while (true)
            {
                var page = await (await client.GetAsync($"/v1/events?limit=500{(cursor is null ? "" : $"&after={cursor}")}").Ok()).Read<EventFeedPage>();
                events.AddRange(page.Items.Where(e => e.Data.ResourceId == resourceId).Select(e => (e.Type, e.Data.Status)));
                if (page.Items.Count == 0) break;
                cursor = page.Next;
            }
            if (events.Any(e => e.Item1 == last)) return events;
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"no {last} for {resourceId} in the feed; seen: {string.Join(", ", events)}");
            await Task.Delay(200);
        }
    }
}

[Collection(SqliteCollection.Name)] public sealed class EventPathTests_Sqlite(SqliteFixture f) : EventPathTests(f);
[Collection(PostgresCollection.Name)] public sealed class EventPathTests_Postgres(PostgresFixture f) : EventPathTests(f);
