using System.Net;
using CoordinationHub.Features.Referrals;
using Dapper;

namespace CoordinationHub.Tests.Features.Referrals;

public abstract class ReferralLifeTests(ApiFixture fx) : ReferralTestBase(fx)
{
    [Fact]
    public async Task A_referral_goes_from_sent_to_completed_with_a_question_answered_on_the_way()
    {
        var ccas = await Ccas("03190"); // Moulins
        var dep = await Dep("03");
        var (sent, etag) = await Send(ccas, Draft("INCOME", Person("03190")));
        Assert.Equal(ReferralStatus.SENT, sent.Status);
        Assert.Equal(dep.Id, sent.Receiver.Id);
        Assert.Equal("RSA_INSTRUCTION", sent.Competence);
        Assert.Equal(RoutingMode.RESOLVED, sent.Routing.Mode);
        Assert.Equal(dep.Id, Assert.Single(sent.Routing.Chain).OrganisationId);
        Assert.Equal(ReferralRole.SENDER, sent.YourRole);
        Assert.Equal("\"1\"", etag);

        // The receiver's first read records that it received it.
        var (read, readTag) = await Get(dep, sent.Id);
        Assert.Equal(ReferralStatus.RECEIVED, read.Status);
        Assert.Equal("\"2\"", readTag);
        Assert.NotNull(read.Person);
        Assert.Equal("1958-04-12", read.Person!.BirthDate.ToString("yyyy-MM-dd"));
        Assert.Contains(ReferralAction.ACCEPT, read.AllowedActions);

        // A question stops the clock; the answer moves the deadline by the time waited.
        var question = await (await Post(dep, sent.Id, "information-requests", new { agent = Agent, text = "Quels revenus ?" }, readTag).Ok()).Read<ReferralDto>();
        Assert.Equal(ReferralStatus.NEEDS_INFO, question.Status);
        Assert.NotNull(question.Deadline.PausedSince);
        Fx.Clock.Set(TestClock.Today.AddDays(2));
        try
        {
            var (answered, _) = await Act(ccas, sent.Id, "information-answers", new { agent = Agent, text = "Aucun revenu depuis juin." });
            Assert.Equal(ReferralStatus.RECEIVED, answered.Status);
            Assert.Equal(sent.Deadline.DueAt.AddDays(2), answered.Deadline.DueAt);
            Assert.Null(answered.Deadline.PausedSince);

            var (accepted, _) = await Act(dep, sent.Id, "acceptance", new { agent = Agent, assignedAgent = new { reference = "ref-7", displayName = "M. Référent" } });
            Assert.Equal(ReferralStatus.ACCEPTED, accepted.Status);
            Assert.Equal("ref-7", accepted.AssignedAgent!.Reference);
            var (started, _) = await Act(dep, sent.Id, "start", new { agent = Agent });
            Assert.Equal(ReferralStatus.IN_PROGRESS, started.Status);
            var (done, _) = await Act(dep, sent.Id, "completion", new { agent = Agent, outcome = "FILE_SUBMITTED", text = "Dossier déposé." });
            Assert.Equal(ReferralStatus.COMPLETED, done.Status);
            Assert.Equal(Outcome.FILE_SUBMITTED, done.Outcome);
            Assert.Equal([ReferralAction.POST_MESSAGE], done.AllowedActions);
        }
        finally { Fx.Clock.Reset(); }

        var thread = await (await ccas.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}/messages").Ok()).Read<List<ThreadMessage>>();
        Assert.Equal([MessageKind.QUESTION, MessageKind.ANSWER, MessageKind.ACCEPTANCE, MessageKind.START, MessageKind.OUTCOME], thread.Select(m => m.Kind));
        Assert.Equal([1, 2, 3, 4, 5], thread.Select(m => m.Seq));
        Assert.Equal(dep.Id, thread[0].AuthorOrganisation.Id);
        Assert.Equal("Aucun revenu depuis juin.", thread[1].Body);

        // Audit and outbox carry ids and statuses, never the person.
        await using var c = await Fx.Db.OpenAsync(default);
        var events = (await c.QueryAsync<string>(Fx.Db.Command("SELECT event_type FROM outbox_event WHERE resource_id = @id ORDER BY seq", new { id = sent.Id }, default))).ToList();
        Assert.Equal(["referral.sent", "referral.received", "referral.status-changed", "referral.status-changed", "referral.status-changed",
            "referral.agent-assigned", "referral.status-changed", "referral.status-changed"], events);
        var payloads = string.Join("\n", await c.QueryAsync<string>(Fx.Db.Command(
            "SELECT payload FROM outbox_event WHERE resource_id = @id", new { id = sent.Id }, default)));
        var audits = string.Join("\n", (await c.QueryAsync<string?>(Fx.Db.Command(
            "SELECT after_state FROM audit_event WHERE resource_id = @id", new { id = sent.Id }, default))).Select(a => a ?? ""));
        foreach (var secret in new[] { "Martin", "Jeanne", "1958", "Lilas", "06 12", "1234567", "factures", "revenus" })
        {
            Assert.DoesNotContain(secret, payloads);
            Assert.DoesNotContain(secret, audits);
        }
    }

    [Fact]
    public async Task Every_illegal_transition_answers_409_with_the_allowed_actions_and_the_wrong_party_403()
    {
        var ccas = await Ccas("04070"); // Digne-les-Bains
        var dep = await Dep("04");
        var (sent, etag) = await Send(ccas, Draft("INCOME", Person("04070")));

        // Receiver actions that SENT does not allow.
        foreach (var (action, body) in new (string, object)[]
        {
            ("start", new { agent = Agent }), ("completion", new { agent = Agent, outcome = "AID_GRANTED" }),
            ("closure", new { agent = Agent, reason = "PERSON_DID_NOT_COME" }),
        })
        {
            var problem = await (await Post(dep, sent.Id, action, body, etag)).Problem(HttpStatusCode.Conflict, "referrals.illegal-transition");
            var allowed = problem.GetProperty("allowedActions").EnumerateArray().Select(a => a.GetString()).ToList();
            Assert.Equal(["RECEIVE", "REQUEST_INFO", "ACCEPT", "DECLINE", "TRANSFER", "POST_MESSAGE"], allowed);
        }
        // The sender does not accept; the receiver does not cancel.
        await (await Post(ccas, sent.Id, "acceptance", new { agent = Agent }, etag)).Problem(HttpStatusCode.Forbidden, "forbidden");
        await (await Post(dep, sent.Id, "cancellation", new { agent = Agent, reason = "OTHER" }, etag)).Problem(HttpStatusCode.Forbidden, "forbidden");
        // The sender's own actions that SENT does not allow.
        await (await Post(ccas, sent.Id, "information-answers", new { agent = Agent, text = "?" }, etag)).Problem(HttpStatusCode.Conflict, "referrals.illegal-transition");
        await (await Post(ccas, sent.Id, "reorientation", new { agent = Agent }, etag)).Problem(HttpStatusCode.Conflict, "referrals.illegal-transition");
        await (await Post(ccas, sent.Id, "consent/revocation", new { agent = Agent }, etag)).Problem(HttpStatusCode.Conflict, "referrals.illegal-transition");
        // If-Match: required, and checked.
        await (await Post(dep, sent.Id, "acceptance", new { agent = Agent }, null)).Problem(HttpStatusCode.PreconditionRequired, "precondition-required");
        await (await Post(dep, sent.Id, "acceptance", new { agent = Agent }, "\"7\"")).Problem(HttpStatusCode.PreconditionFailed, "precondition-failed");

        var (accepted, acceptedTag) = await Act(dep, sent.Id, "acceptance", new { agent = Agent });
        foreach (var (party, action, body) in new (Party, string, object)[]
        {
            (dep, "acceptance", new { agent = Agent }), (dep, "decline", new { agent = Agent, reason = "OTHER", text = "non" }),
            (dep, "receipt", new { }), (dep, "information-requests", new { agent = Agent, text = "?" }),
            (dep, "completion", new { agent = Agent, outcome = "AID_GRANTED" }),
            (dep, "transfer", new { agent = Agent, receiverId = ccas.Id, reason = "OTHER" }),
            (ccas, "cancellation", new { agent = Agent, reason = "OTHER" }),
        })
        {
            var problem = await (await Post(party, sent.Id, action, body, acceptedTag)).Problem(HttpStatusCode.Conflict, "referrals.illegal-transition");
            Assert.Equal("ACCEPTED", problem.GetProperty("referralStatus").GetString());
        }
        var (closed, closedTag) = await Act(dep, sent.Id, "closure", new { agent = Agent, reason = "PERSON_DID_NOT_COME", text = "Pas venue." });
        Assert.Equal(ReferralStatus.CLOSED_WITHOUT_OUTCOME, closed.Status);
        Assert.Equal(ClosureReason.PERSON_DID_NOT_COME, closed.ClosureReason);
        var last = await (await Post(dep, sent.Id, "start", new { agent = Agent }, closedTag)).Problem(HttpStatusCode.Conflict, "referrals.illegal-transition");
        Assert.Equal(["POST_MESSAGE"], last.GetProperty("allowedActions").EnumerateArray().Select(a => a.GetString()));
        _ = accepted;
    }

    [Fact]
    public async Task Eight_first_reads_at_once_all_answer_200_and_record_one_receipt()
    {
        var ccas = await Ccas("29232"); // Quimper
        var dep = await Dep("29");
        var (sent, _) = await Send(ccas, Draft("INCOME", Person("29232")));
        var reads = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => dep.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}")));
        Assert.All(reads, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var r in reads) Assert.Equal(ReferralStatus.RECEIVED, (await r.Read<ReferralDto>()).Status);
        await using var c = await Fx.Db.OpenAsync(default);
        Assert.Equal(1, await c.ExecuteScalarAsync<int>(Fx.Db.Command(
            "SELECT COUNT(*) FROM outbox_event WHERE resource_id = @id AND event_type = 'referral.received'", new { id = sent.Id }, default)));
    }

    [Fact]
    public async Task The_sender_cancels_before_acceptance_and_nothing_moves_after()
    {
        var ccas = await Ccas("07186"); // Privas
        var dep = await Dep("07");
        var (sent, _) = await Send(ccas, Draft("AUTONOMY", Person("07186"), urgency: "URGENT"));
        Assert.Equal("APA_EVALUATION", sent.Competence);
        var (cancelled, tag) = await Act(ccas, sent.Id, "cancellation", new { agent = Agent, reason = "NO_LONGER_NEEDED", text = "Entrée en EHPAD." });
        Assert.Equal(ReferralStatus.CANCELLED, cancelled.Status);
        Assert.Equal(CancelReason.NO_LONGER_NEEDED, cancelled.CancelReason);
        await (await Post(dep, sent.Id, "acceptance", new { agent = Agent }, tag)).Problem(HttpStatusCode.Conflict, "referrals.illegal-transition");
        // CONSENT_WITHDRAWN is not a reason the sender picks: it has its own command.
        var (other, otherTag) = await Send(ccas, Draft("AUTONOMY", Person("07186")));
        await (await Post(ccas, other.Id, "cancellation", new { agent = Agent, reason = "CONSENT_WITHDRAWN" }, otherTag)).Problem(HttpStatusCode.BadRequest, "validation");
    }
}

[Collection(SqliteCollection.Name)] public sealed class ReferralLifeTests_Sqlite(SqliteFixture f) : ReferralLifeTests(f);
[Collection(PostgresCollection.Name)] public sealed class ReferralLifeTests_Postgres(PostgresFixture f) : ReferralLifeTests(f);
