using System.Net;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Http;

namespace CoordinationHub.Tests.Features.Referrals;

public abstract class ReferralHandoverTests(ApiFixture fx) : ReferralTestBase(fx)
{
    [Fact]
    public async Task A_transfer_gives_the_referral_to_the_new_receiver_and_the_old_one_keeps_only_that_it_transferred_it()
    {
        var sender = await Ccas("25056"); // Besançon
        var dep = await Dep("25");
        var partner = await Partner("Association Doubs Logement", "25");
        var (sent, _) = await Send(sender, Draft("HOUSING", Person("25056")));
        Assert.Equal(dep.Id, sent.Receiver.Id);
        await Act(dep, sent.Id, "information-requests", new { agent = Agent, text = "Montant de la dette ?" });
        await Act(sender, sent.Id, "information-answers", new { agent = Agent, text = "1 200 euros." });
        var (transferred, _) = await Act(dep, sent.Id, "transfer", new { agent = Agent, receiverId = partner.Id, reason = "DELEGATED", text = "Géré par l'association." });
        Assert.Equal((ReferralStatus.TRANSFERRED, ReferralRole.EARLIER_RECEIVER), (transferred.Status, transferred.YourRole));
        Assert.Null(transferred.Person);
        Assert.Null(transferred.Context);
        Assert.Empty(transferred.AllowedActions);

        var (atPartner, partnerTag) = await Get(partner, sent.Id);
        Assert.Equal((ReferralStatus.RECEIVED, partner.Id), (atPartner.Status, atPartner.Receiver.Id));
        Assert.NotNull(atPartner.Person);
        Assert.Equal(ReferralStatus.RECEIVED, (await Get(sender, sent.Id)).Referral.Status);

        // The partner's message is not the old receiver's business; the old receiver can no longer act or post.
        await partner.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/messages", new { agent = Agent, body = "Rendez-vous fixé." }).Ok(HttpStatusCode.Created);
        var seenByOld = await (await dep.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}/messages").Ok()).Read<List<ThreadMessage>>();
        Assert.Equal([MessageKind.QUESTION, MessageKind.ANSWER, MessageKind.TRANSFER], seenByOld.Select(m => m.Kind));
        var seenByNew = await (await partner.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}/messages").Ok()).Read<List<ThreadMessage>>();
        Assert.Equal(4, seenByNew.Count);
        await (await dep.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/messages", new { agent = Agent, body = "?" })).Problem(HttpStatusCode.Forbidden, "forbidden");
        await (await Post(dep, sent.Id, "acceptance", new { agent = Agent }, partnerTag)).Problem(HttpStatusCode.Forbidden, "forbidden");
        Assert.DoesNotContain(sent.Id.ToString(), await (await dep.Client(Fx).GetAsync("/v1/referrals/received?commune=25056").Ok()).Content.ReadAsStringAsync());
        Assert.Contains(sent.Id.ToString(), await (await partner.Client(Fx).GetAsync("/v1/referrals/received").Ok()).Content.ReadAsStringAsync());
        await (await Post(partner, sent.Id, "transfer", new { agent = Agent, receiverId = partner.Id, reason = "OTHER" }, partnerTag))
            .Problem(HttpStatusCode.UnprocessableEntity, "referrals.transfer-to-self");
    }

    [Fact]
    public async Task After_a_decline_the_sender_reorients_in_one_call_to_the_suggested_receiver_with_the_thread()
    {
        var sender = await Ccas("26362"); // Valence
        var dep = await Dep("26");
        var partner = await Partner("Épicerie solidaire de Valence", "26");
        var (sent, _) = await Send(sender, Draft("INCOME", Person("26362"), consent: Consent("INCOME"), statutory: null));
        await sender.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/messages", new { agent = Agent, body = "Merci de la recevoir vite." }).Ok(HttpStatusCode.Created);
        var (declined, declinedTag) = await Act(dep, sent.Id, "decline", new { agent = Agent, reason = "NOT_COMPETENT", text = "Relève de l'aide alimentaire.", suggestedReceiverId = partner.Id });
        Assert.Equal((ReferralStatus.DECLINED, DeclineReason.NOT_COMPETENT, partner.Id), (declined.Status, declined.DeclineReason, declined.SuggestedReceiverId));

        var response = await Post(sender, sent.Id, "reorientation", new { agent = Agent, text = "Envoyée à l'épicerie." }, (await Get(sender, sent.Id)).ETag).Ok(HttpStatusCode.Created);
        var next = await response.Read<ReferralDto>();
        Assert.Equal($"/v1/referrals/{next.Id}", response.Headers.Location!.ToString());
        Assert.Equal((partner.Id, sent.Id, ReferralStatus.SENT), (next.Receiver.Id, next.ReorientedFromId, next.Status));
        Assert.Equal(sent.Person!.FamilyName, next.Person!.FamilyName);
        Assert.Equal(next.Id, (await Get(sender, sent.Id)).Referral.ReorientedToId);
        var thread = await (await partner.Client(Fx).GetAsync($"/v1/referrals/{next.Id}/messages").Ok()).Read<List<ThreadMessage>>();
        Assert.Equal([MessageKind.MESSAGE, MessageKind.DECLINE, MessageKind.REORIENTATION], thread.Select(m => m.Kind));
        Assert.Equal("Relève de l'aide alimentaire.", thread[1].Body);
        // Once only.
        await (await Post(sender, sent.Id, "reorientation", new { agent = Agent }, (await Get(sender, sent.Id)).ETag)).Problem(HttpStatusCode.Conflict, "referrals.illegal-transition");
        // The decliner still reads what it declined; the new receiver does not read the first referral.
        Assert.Equal(ReferralStatus.DECLINED, (await Get(dep, sent.Id)).Referral.Status);
        await (await partner.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}")).Problem(HttpStatusCode.NotFound, "not-found");
        _ = declinedTag;
    }

    [Fact]
    public async Task The_assigned_agent_changes_with_its_history_and_the_boxes_filter_page_and_count()
    {
        var sender = await Ccas("27229"); // Évreux
        var dep = await Dep("27");
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++) ids.Add((await Send(sender, Draft(i % 2 == 0 ? "INCOME" : "AUTONOMY", Person("27229"), urgency: i == 4 ? "IMMEDIATE" : "NORMAL"))).Referral.Id);

        var (accepted, _) = await Act(dep, ids[0], "acceptance", new { agent = Agent, assignedAgent = new { reference = "ref-1", displayName = "Agent Un" } });
        Assert.Equal("ref-1", accepted.AssignedAgent!.Reference);
        var request = new HttpRequestMessage(HttpMethod.Put, $"/v1/referrals/{ids[0]}/assigned-agent")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { assignedAgent = new { reference = "ref-2", displayName = "Agent Deux" } }, options: ApiFixture.Json),
        };
        request.Headers.TryAddWithoutValidation("If-Match", (await Get(dep, ids[0])).ETag);
        var changed = await (await dep.Client(Fx).SendAsync(request)).Read<ReferralDto>();
        Assert.Equal("ref-2", changed.AssignedAgent!.Reference);
        var history = await (await sender.Client(Fx).GetAsync($"/v1/referrals/{ids[0]}/assignments").Ok()).Read<List<AssignmentDto>>();
        Assert.Equal(["ref-1", "ref-2"], history.Select(h => h.Agent.Reference));

        var byAgent = await (await dep.Client(Fx).GetAsync("/v1/referrals/received?assignedAgent=ref-2").Ok()).Read<PageResponse<ReferralSummary>>();
        Assert.Equal([ids[0]], byAgent.Items.Select(i => i.Id));
        var byNeed = await (await sender.Client(Fx).GetAsync("/v1/referrals/sent?need=AUTONOMY").Ok()).Read<PageResponse<ReferralSummary>>();
        Assert.Equal([ids[3], ids[1]], byNeed.Items.Select(i => i.Id));
        var byStatus = await (await sender.Client(Fx).GetAsync("/v1/referrals/sent?status=ACCEPTED").Ok()).Read<PageResponse<ReferralSummary>>();
        Assert.Equal([ids[0]], byStatus.Items.Select(i => i.Id));
        var byUrgency = await (await sender.Client(Fx).GetAsync("/v1/referrals/sent?urgency=IMMEDIATE&commune=27229&sentFrom=2026-11-25&sentTo=2026-11-25").Ok()).Read<PageResponse<ReferralSummary>>();
        Assert.Equal([ids[4]], byUrgency.Items.Select(i => i.Id));
        Assert.Empty((await (await sender.Client(Fx).GetAsync("/v1/referrals/sent?sentFrom=2026-11-26").Ok()).Read<PageResponse<ReferralSummary>>()).Items);

        // Pages of two, newest first, stable.
        var seen = new List<Guid>();
        string? url = "/v1/referrals/sent?limit=2";
        while (url is not null)
        {
            var page = await (await sender.Client(Fx).GetAsync(url).Ok()).Read<PageResponse<ReferralSummary>>();
            Assert.True(page.Items.Count <= 2);
            seen.AddRange(page.Items.Select(i => i.Id));
            url = page.Next;
        }
        Assert.Equal(Enumerable.Reverse(ids), seen);
        await (await sender.Client(Fx).GetAsync("/v1/referrals/sent?cursor=nope")).Problem(HttpStatusCode.BadRequest, "invalid-cursor");

        var counts = await (await sender.Client(Fx).GetAsync("/v1/referrals/counts?box=SENT").Ok()).Read<ReferralCounts>();
        Assert.Equal(5, counts.Total);
        Assert.Equal(4, counts.ByStatus.Single(s => s.Status == ReferralStatus.SENT).Count);
        Assert.Equal(1, counts.ByStatus.Single(s => s.Status == ReferralStatus.ACCEPTED).Count);
    }
}

[Collection(SqliteCollection.Name)] public sealed class ReferralHandoverTests_Sqlite(SqliteFixture f) : ReferralHandoverTests(f);
[Collection(PostgresCollection.Name)] public sealed class ReferralHandoverTests_Postgres(PostgresFixture f) : ReferralHandoverTests(f);
