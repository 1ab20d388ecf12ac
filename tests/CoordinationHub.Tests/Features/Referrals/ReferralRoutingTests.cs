using System.Net;
using System.Text.Json;
using CoordinationHub.Features.Conventions;
using CoordinationHub.Features.Referrals;

namespace CoordinationHub.Tests.Features.Referrals;

public abstract class ReferralRoutingTests(ApiFixture fx) : ReferralTestBase(fx)
{
    [Fact]
    public async Task Routing_follows_a_delegation_and_a_subdelegation_and_the_referral_carries_the_chain()
    {
        var dep = await Dep("08");
        var ccas = await Ccas("08105"); // Charleville-Mézières
        var partner = await Partner("Association Ardennes Insertion", "08");
        var sender = await Ccas((await AnotherCommune("08", "08105")).Code!);
        var territory = new { communeIds = new[] { ccas.Organisation.CommuneId } };
        var k1 = await SignedConvention([dep, ccas], ["RSA_ACCOMPAGNEMENT"], territory, Jan2026, Dec2028, allowsSubdelegation: true);
        var k2 = await SignedConvention([ccas, partner], ["RSA_ACCOMPAGNEMENT"], territory, Jan2026, Dec2028);
        await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, ccas, "RSA_ACCOMPAGNEMENT", k1, territory, Jan2026, Dec2028)).Ok(HttpStatusCode.Created);

        var route = await (await sender.Client(Fx).GetAsync("/v1/referrals/routing?commune=08105&need=EMPLOYMENT").Ok()).Json();
        Assert.Equal(ccas.Id, route.GetProperty("receiver").GetProperty("id").GetGuid());
        Assert.Equal(2, route.GetProperty("chain").GetArrayLength());
        Assert.Equal("OPEN", route.GetProperty("intake").GetProperty("state").GetString());
        Assert.Equal(10, route.GetProperty("responseDays").GetInt32());

        await ccas.Client(Fx).PostJson("/v1/delegations", Delegation(ccas, partner, "RSA_ACCOMPAGNEMENT", k2, territory, Jan2026, Dec2028)).Ok(HttpStatusCode.Created);
        route = await (await sender.Client(Fx).GetAsync("/v1/referrals/routing?commune=08105&need=RSA_ACCOMPAGNEMENT").Ok()).Json();
        Assert.Equal(partner.Id, route.GetProperty("receiver").GetProperty("id").GetGuid());
        Assert.Equal([dep.Id, ccas.Id, partner.Id], route.GetProperty("chain").EnumerateArray().Select(s => s.GetProperty("organisationId").GetGuid()));

        var (sent, _) = await Send(sender, Draft("EMPLOYMENT", Person("08105")));
        Assert.Equal(partner.Id, sent.Receiver.Id);
        Assert.Equal([dep.Id, ccas.Id, partner.Id], sent.Routing.Chain.Select(s => s.OrganisationId));
        // Named: the chain is not what chose it.
        var (named, _) = await Send(sender, Draft("EMPLOYMENT", Person("08105"), receiverId: dep.Id));
        Assert.Equal((dep.Id, RoutingMode.NAMED), (named.Receiver.Id, named.Routing.Mode));
        Assert.Empty(named.Routing.Chain);

        await (await sender.Client(Fx).GetAsync("/v1/referrals/routing?commune=08105&need=NOPE")).Problem(HttpStatusCode.UnprocessableEntity, "referrals.unknown-need");
        await (await sender.Client(Fx).GetAsync("/v1/referrals/routing?commune=8105&need=FOOD")).Problem(HttpStatusCode.BadRequest, "validation");
        await (await sender.Client(Fx).PostJson("/v1/referrals", Draft("FOOD", Person("99999")))).Problem(HttpStatusCode.UnprocessableEntity, "referrals.unknown-commune");
    }

    [Fact]
    public async Task A_paused_receiver_is_not_sent_to_and_the_next_body_is_named_but_a_legal_competence_cannot_pause()
    {
        var ccas = await Ccas("10387"); // Troyes
        var dep = await Dep("10");
        var other = await Ccas((await AnotherCommune("10", "10387")).Code!);
        var route = await (await other.Client(Fx).GetAsync("/v1/referrals/routing?commune=10387&need=FOOD").Ok()).Json();
        Assert.Equal(ccas.Id, route.GetProperty("receiver").GetProperty("id").GetGuid());

        var paused = await (await ccas.Client(Fx).PutJson("/v1/referrals/intake/AIDE_ALIMENTAIRE",
            new { pausedUntil = "2026-12-31", pauseReason = "Stock épuisé", expectedResponseDays = 5 }, null).Ok()).Json();
        Assert.Equal("PAUSED", paused.GetProperty("state").GetString());

        route = await (await other.Client(Fx).GetAsync("/v1/referrals/routing?commune=10387&need=FOOD").Ok()).Json();
        Assert.Equal("PAUSED", route.GetProperty("intake").GetProperty("state").GetString());
        Assert.Equal("2026-12-31", route.GetProperty("intake").GetProperty("pausedUntil").GetString());
        var troyes = await Commune("10387");
        Assert.Equal(troyes.Id, route.GetProperty("nextReceiver").GetProperty("id").GetGuid()); // the commune itself

        var refused = await (await other.Client(Fx).PostJson("/v1/referrals", Draft("FOOD", Person("10387")))).Problem(HttpStatusCode.UnprocessableEntity, "referrals.receiver-paused");
        Assert.Equal(troyes.Id, refused.GetProperty("nextReceiver").GetProperty("id").GetGuid());
        await (await other.Client(Fx).PostJson("/v1/referrals", Draft("FOOD", Person("10387"), receiverId: ccas.Id))).Problem(HttpStatusCode.UnprocessableEntity, "referrals.receiver-paused");

        // After the pause, intake is open again (a frozen clock moves past it).
        Fx.Clock.Set(new DateTimeOffset(2027, 1, 1, 8, 0, 0, TimeSpan.Zero));
        try { Assert.Equal(ccas.Id, (await Send(other, Draft("FOOD", Person("10387")))).Referral.Receiver.Id); }
        finally { Fx.Clock.Reset(); }

        await (await dep.Client(Fx).PutJson("/v1/referrals/intake/RSA_INSTRUCTION", new { pausedUntil = "2026-12-31", pauseReason = "Congés" }, null))
            .Problem(HttpStatusCode.UnprocessableEntity, "referrals.legal-competence-cannot-pause");
        var delay = await (await dep.Client(Fx).PutJson("/v1/referrals/intake/RSA_INSTRUCTION", new { expectedResponseDays = 21 }, null).Ok()).Json();
        Assert.Equal(("OPEN", 21), (delay.GetProperty("state").GetString(), delay.GetProperty("expectedResponseDays").GetInt32()));
        route = await (await other.Client(Fx).GetAsync("/v1/referrals/routing?commune=10387&need=INCOME").Ok()).Json();
        Assert.Equal(21, route.GetProperty("intake").GetProperty("expectedResponseDays").GetInt32());
    }

    [Fact]
    public async Task The_deadline_comes_from_the_convention_that_sets_one_else_from_urgency_and_overdue_follows_the_clock()
    {
        var ccas = await Ccas("11069"); // Carcassonne
        var dep = await Dep("11");
        var (byUrgency, _) = await Send(ccas, Draft("INCOME", Person("11069"), urgency: "URGENT"));
        Assert.Equal((DeadlineSource.URGENCY, TestClock.Today.AddDays(3)), (byUrgency.Deadline.Source, byUrgency.Deadline.DueAt));

        var territory = new { communeIds = new[] { ccas.Organisation.CommuneId } };
        var body = new Dictionary<string, object?>
        {
            ["type"] = "PARTNERSHIP", ["object"] = "Orientation des demandeurs de RSA", ["competences"] = new[] { "RSA_INSTRUCTION" },
            ["parties"] = new[] { new { organisationId = dep.Id, role = "Département" }, new { organisationId = ccas.Id, role = "CCAS" } },
            ["communeIds"] = territory.communeIds, ["startOn"] = "2026-01-01", ["endOn"] = "2028-12-31", ["noticeDays"] = 90,
            ["allowsSubdelegation"] = false, ["referralResponseDays"] = new[] { new { competence = "RSA_INSTRUCTION", days = 7 } },
        };
        var k = (await (await dep.Client(Fx).PostJson("/v1/conventions", body).Ok(HttpStatusCode.Created)).Read<ConventionDto>());
        Assert.Equal(7, Assert.Single(k.ReferralResponseDays).Days);
        foreach (var p in new[] { dep, ccas })
            await p.Client(Fx).PostJson($"/v1/conventions/{k.Id}/signatures", new { signerName = "Signataire", signedOn = "2025-12-20" }).Ok();

        var (byConvention, _) = await Send(ccas, Draft("INCOME", Person("11069"), urgency: "URGENT"));
        Assert.Equal((DeadlineSource.CONVENTION, k.Id, TestClock.Today.AddDays(7)),
            (byConvention.Deadline.Source, byConvention.Deadline.ConventionId, byConvention.Deadline.DueAt));
        Assert.False(byConvention.Overdue);

        // Overdue is computed: the clock moves past the first deadline, then past the second.
        Fx.Clock.Set(TestClock.Today.AddDays(4));
        try
        {
            Assert.True((await Get(ccas, byUrgency.Id)).Referral.Overdue);
            Assert.False((await Get(ccas, byConvention.Id)).Referral.Overdue);
            var overdue = await (await dep.Client(Fx).GetAsync("/v1/referrals/received?overdue=true&commune=11069").Ok()).Json();
            Assert.Equal([byUrgency.Id], overdue.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));
            var notOverdue = await (await dep.Client(Fx).GetAsync("/v1/referrals/received?overdue=false&commune=11069").Ok()).Json();
            Assert.Equal([byConvention.Id], notOverdue.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));
            var counts = await (await dep.Client(Fx).GetAsync("/v1/referrals/counts?box=RECEIVED").Ok()).Json();
            Assert.True(counts.GetProperty("overdue").GetInt32() >= 1);
            // Answered in time is no longer overdue (a response stops the deadline).
            Fx.Clock.Set(TestClock.Today.AddDays(8));
            Assert.True((await Get(ccas, byConvention.Id)).Referral.Overdue);
            var (accepted, _) = await Act(dep, byConvention.Id, "acceptance", new { agent = Agent });
            Assert.False(accepted.Overdue);
        }
        finally { Fx.Clock.Reset(); }

        // An amendment may change the days; left out, they stay; set for an uncovered competence, 422.
        var read = await (await dep.Client(Fx).GetAsync($"/v1/conventions/{k.Id}").Ok()).Read<ConventionDto>();
        Assert.Equal(7, Assert.Single(read.ReferralResponseDays).Days);
        var etag = (await dep.Client(Fx).GetAsync($"/v1/conventions/{k.Id}")).Headers.ETag!.Tag;
        await (await PostTo(dep, $"/v1/conventions/{k.Id}/amendments", new
        {
            effectiveOn = "2027-01-01", summary = "Délais", referralResponseDays = new[] { new { competence = "APA_INSTRUCTION", days = 3 } },
        }, etag)).Problem(HttpStatusCode.UnprocessableEntity, "conventions.response-days-not-covered");
        var amended = await (await PostTo(dep, $"/v1/conventions/{k.Id}/amendments", new
        {
            effectiveOn = "2027-01-01", summary = "Délais", referralResponseDays = new[] { new { competence = "RSA_INSTRUCTION", days = 5 } },
        }, etag)).Content.ReadAsStringAsync();
        Assert.Contains("\"amendmentNo\":1", amended);
        await using var c = await Fx.Db.OpenAsync(default);
        var days = await Dapper.SqlMapper.QueryAsync<int?>(c, Fx.Db.Command(
            "SELECT referral_response_days FROM convention_competence WHERE convention_id = @id ORDER BY amendment_no", new { id = k.Id }, default));
        Assert.Equal([7, 5], days);
    }
}

[Collection(SqliteCollection.Name)] public sealed class ReferralRoutingTests_Sqlite(SqliteFixture f) : ReferralRoutingTests(f);
[Collection(PostgresCollection.Name)] public sealed class ReferralRoutingTests_Postgres(PostgresFixture f) : ReferralRoutingTests(f);
