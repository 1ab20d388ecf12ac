using System.Net;
using CoordinationHub.Features.PersonalData;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Features.Webhooks;
using CoordinationHub.Platform.Http;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Features.Referrals;

/// <summary>
/// Visibility by participation, tried from the side of each organisation that must not see: the receiver that
/// transferred a referral, a second sender of the same person, a receiver after the person withdrew consent, and
/// whoever the events of a referral reach when the sequencer runs late.
/// </summary>
public abstract class ReferralVisibilityTests(ApiFixture fx) : ReferralTestBase(fx), IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Fx.Clock.Reset();
        return Task.CompletedTask;
    }

    /// <summary>The clock an hour on: what the next receiver does happens after the transfer.</summary>
    private void Later(int hours = 1) => Fx.Clock.Set(Fx.Clock.GetUtcNow().AddHours(hours));

    private async Task<(string Body, string ETag)> Raw(Party party, Guid id)
    {
        var response = await party.Client(Fx).GetAsync($"/v1/referrals/{id}").Ok();
        return (await response.Content.ReadAsStringAsync(), response.Headers.ETag!.Tag);
    }

    private async Task<List<AccessEntry>> AccessLog(Party party, Guid id) =>
        (await (await party.Client(Fx).GetAsync($"/v1/referrals/{id}/access-log?limit=500").Ok()).Read<PageResponse<AccessEntry>>()).Items.ToList();

    private async Task<List<ThreadMessage>> Thread(Party party, Guid id) =>
        await (await party.Client(Fx).GetAsync($"/v1/referrals/{id}/messages").Ok()).Read<List<ThreadMessage>>();

    [Fact]
    public async Task The_earlier_receiver_reads_the_outcome_after_transfer_and_sees_only_its_transfer()
    {
        var sender = await Ccas("25462"); // Pontarlier
        var dep = await Dep("25");
        var partner = await Partner("Association Haut-Doubs Logement", "25");
        var (sent, _) = await Send(sender, Draft("HOUSING", Person("25462"), receiverId: dep.Id));
        await Get(dep, sent.Id);
        var (transferred, _) = await Act(dep, sent.Id, "transfer", new { agent = Agent, receiverId = partner.Id, reason = "DELEGATED" });
        var transferredAt = Fx.Clock.GetUtcNow();

        Later();
        await Act(partner, sent.Id, "acceptance", new { agent = Agent, assignedAgent = new { reference = "ref-asso", displayName = "Mme Référente" } });
        await Act(partner, sent.Id, "start", new { agent = Agent });
        await partner.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/messages", new { agent = Agent, body = "Relogement trouvé." }).Ok(HttpStatusCode.Created);
        await Act(partner, sent.Id, "completion", new { agent = Agent, outcome = "AID_GRANTED", text = "Bail signé." });
        await Get(sender, sent.Id);

        var (seen, _) = await Get(dep, sent.Id);
        Assert.Equal((ReferralStatus.TRANSFERRED, ReferralRole.EARLIER_RECEIVER), (seen.Status, seen.YourRole));
        Assert.Equal(partner.Id, seen.Receiver.Id);
        Assert.Equal(transferredAt, seen.TransferredAt);
        Assert.Equal(transferredAt, seen.UpdatedAt);
        Assert.Null(seen.Outcome);
        Assert.Null(seen.AssignedAgent);
        Assert.Null(seen.ReceivedAt);
        Assert.Null(seen.RespondedAt);
        Assert.Null(seen.ClosedAt);
        Assert.Null(seen.Person);
        Assert.Empty(seen.AllowedActions);
        Assert.Equal(transferred.Deadline, seen.Deadline);

        // Nor through the side doors: the thread, the agents, the access log, the dossier.
        Assert.DoesNotContain(await Thread(dep, sent.Id), m => m.AuthorOrganisation.Id == partner.Id);
        Assert.DoesNotContain(await Thread(dep, sent.Id), m => m.Kind is MessageKind.OUTCOME or MessageKind.ACCEPTANCE);
        var agents = await (await dep.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}/assignments").Ok()).Read<List<AssignmentDto>>();
        Assert.DoesNotContain(agents, a => a.Agent.Reference == "ref-asso");
        var log = await AccessLog(dep, sent.Id);
        Assert.NotEmpty(log);
        Assert.DoesNotContain(log, e => e.OrganisationId == partner.Id);
        Assert.All(log, e => Assert.True(e.AccessedAt <= transferredAt, $"the earlier receiver saw a read of {e.AccessedAt:O}, after its transfer"));
        // The partner's and the sender's later reads are in the log, for those who hold the referral.
        Assert.Contains(await AccessLog(partner, sent.Id), e => e.OrganisationId == partner.Id);
        Assert.Contains(await AccessLog(sender, sent.Id), e => e.OrganisationId == partner.Id);
        await (await dep.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}/dossier")).Problem(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task The_earlier_receiver_sees_the_same_transfer_whatever_happens_after_it_in_every_state_and_after_a_reorientation()
    {
        var sender = await Ccas("39198"); // Lons-le-Saunier
        var dep = await Dep("39");
        var partner = await Partner("Épicerie solidaire du Jura", "39");
        var other = await Partner("Association Jura Entraide", "39");
        async Task<(Guid Id, string Body, string ETag)> Transferred(object? consent = null)
        {
            var (sent, _) = await Send(sender, Draft("FOOD", Person("39198"), receiverId: dep.Id, consent: consent,
                statutory: consent is null ? "SHARED_SOCIAL_SECRECY" : null));
            await Get(dep, sent.Id);
            await Act(dep, sent.Id, "information-requests", new { agent = Agent, text = "Composition du foyer ?" });
            await Act(sender, sent.Id, "information-answers", new { agent = Agent, text = "Deux enfants." });
            await Act(dep, sent.Id, "transfer", new { agent = Agent, receiverId = partner.Id, reason = "NOT_COMPETENT" });
            var (body, etag) = await Raw(dep, sent.Id);
            Later();
            return (sent.Id, body, etag);
        }
        async Task Unchanged((Guid Id, string Body, string ETag) t, string after)
        {
            var (body, etag) = await Raw(dep, t.Id);
            Assert.True(t.Body == body, $"After {after}, the earlier receiver read {body} instead of {t.Body}");
            Assert.True(t.ETag == etag, $"After {after}, the earlier receiver's ETag moved from {t.ETag} to {etag}");
        }

        // Received, asked, answered, accepted, started, completed.
        var a = await Transferred();
        await Get(partner, a.Id);
        await Unchanged(a, "the receipt");
        await Act(partner, a.Id, "information-requests", new { agent = Agent, text = "Adresse ?" });
        await Unchanged(a, "a question");
        await Act(sender, a.Id, "information-answers", new { agent = Agent, text = "3 rue Neuve." });
        await Act(partner, a.Id, "acceptance", new { agent = Agent, assignedAgent = new { reference = "ref-epi", displayName = "M. Bénévole" } });
        await Unchanged(a, "the acceptance");
        await Act(partner, a.Id, "start", new { agent = Agent });
        await Unchanged(a, "the start");
        await Act(partner, a.Id, "completion", new { agent = Agent, outcome = "SUPPORT_STARTED" });
        await Unchanged(a, "the completion");

        // Closed without outcome.
        var b = await Transferred();
        await Act(partner, b.Id, "acceptance", new { agent = Agent });
        await Act(partner, b.Id, "closure", new { agent = Agent, reason = "PERSON_UNREACHABLE" });
        await Unchanged(b, "the closure");

        // Cancelled by the sender.
        var c = await Transferred();
        await Act(sender, c.Id, "cancellation", new { agent = Agent, reason = "NO_LONGER_NEEDED" });
        await Unchanged(c, "the cancellation");

        // Consent withdrawn after the new receiver accepted.
        var d = await Transferred(Consent("FOOD"));
        await Act(partner, d.Id, "acceptance", new { agent = Agent });
        await Act(sender, d.Id, "consent/revocation", new { agent = Agent });
        await Unchanged(d, "the consent's withdrawal");

        // Transferred again: the first receiver still names the one it handed it to.
        var e = await Transferred();
        await Act(partner, e.Id, "transfer", new { agent = Agent, receiverId = other.Id, reason = "TERRITORY" });
        await Unchanged(e, "a second transfer");
        Assert.Equal(partner.Id, (await Get(dep, e.Id)).Referral.Receiver.Id);

        // Declined by the new receiver, then re-oriented by the sender: the earlier receiver learns neither.
        var f = await Transferred();
        await Act(partner, f.Id, "decline", new { agent = Agent, reason = "NO_CAPACITY", text = "Complet.", suggestedReceiverId = other.Id });
        await Unchanged(f, "the decline");
        var next = await (await Post(sender, f.Id, "reorientation", new { agent = Agent }, (await Get(sender, f.Id)).ETag)
            .Ok(HttpStatusCode.Created)).Read<ReferralDto>();
        await Unchanged(f, "the re-orientation");
        await (await dep.Client(Fx).GetAsync($"/v1/referrals/{next.Id}")).Problem(HttpStatusCode.NotFound, "not-found");
        await (await partner.Client(Fx).GetAsync($"/v1/referrals/{next.Id}")).Problem(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task The_receiver_that_transferred_twice_sees_the_reads_of_its_span_not_those_of_the_receivers_after_it()
    {
        var sender = await Ccas("70550"); // Vesoul
        var dep = await Dep("70");
        var first = await Partner("Association Vesoul Habitat", "70");
        var second = await Partner("Centre social de Vesoul", "70");
        var (sent, _) = await Send(sender, Draft("HOUSING", Person("70550"), receiverId: dep.Id));
        await Act(dep, sent.Id, "transfer", new { agent = Agent, receiverId = first.Id, reason = "DELEGATED" });
        Later();
        await Get(first, sent.Id);
        var firstLeft = Fx.Clock.GetUtcNow();
        await Act(first, sent.Id, "transfer", new { agent = Agent, receiverId = second.Id, reason = "TERRITORY" });
        Later();
        await Get(second, sent.Id);
        await Act(second, sent.Id, "acceptance", new { agent = Agent });

        var (atFirst, _) = await Get(first, sent.Id);
        Assert.Equal((ReferralStatus.TRANSFERRED, second.Id, firstLeft), (atFirst.Status, atFirst.Receiver.Id, atFirst.TransferredAt));
        Assert.Equal(first.Id, (await Get(dep, sent.Id)).Referral.Receiver.Id);
        var seenByFirst = await AccessLog(first, sent.Id);
        Assert.Contains(seenByFirst, e => e.OrganisationId == first.Id);
        Assert.DoesNotContain(seenByFirst, e => e.OrganisationId == second.Id);
        Assert.DoesNotContain(await AccessLog(dep, sent.Id), e => e.OrganisationId == first.Id || e.OrganisationId == second.Id);
        Assert.DoesNotContain(await Thread(first, sent.Id), m => m.AuthorOrganisation.Id == second.Id);
    }

    [Fact]
    public async Task The_earlier_receiver_lists_and_counts_what_it_transferred_and_nothing_of_what_came_after()
    {
        // Organisations of this test only, so that their boxes hold nothing else.
        var sender = await Ccas("90010"); // Belfort
        var dep = await Partner("Maison de l'habitat de Belfort", "90");
        var partner = await Partner("Association Belfort Solidarité", "90");
        var (kept, _) = await Send(sender, Draft("INCOME", Person("90010"), receiverId: dep.Id));
        var (sent, _) = await Send(sender, Draft("HOUSING", Person("90010"), receiverId: dep.Id));
        await Act(dep, sent.Id, "transfer", new { agent = Agent, receiverId = partner.Id, reason = "DELEGATED" });
        var transferredAt = Fx.Clock.GetUtcNow();
        Later();
        await Act(partner, sent.Id, "acceptance", new { agent = Agent, assignedAgent = new { reference = "ref-bel", displayName = "Mme Belfort" } });

        var page = await (await dep.Client(Fx).GetAsync("/v1/referrals/received?status=TRANSFERRED").Ok()).Read<PageResponse<ReferralSummary>>();
        var line = Assert.Single(page.Items);
        Assert.Equal((sent.Id, ReferralStatus.TRANSFERRED, partner.Id), (line.Id, line.Status, line.Receiver.Id));
        Assert.Null(line.Person);
        Assert.Null(line.AssignedAgent);
        Assert.Equal(transferredAt, line.UpdatedAt);
        Assert.False(line.Overdue);
        // What it holds is in the box as before; what it transferred, only under TRANSFERRED.
        var box = await (await dep.Client(Fx).GetAsync("/v1/referrals/received").Ok()).Read<PageResponse<ReferralSummary>>();
        Assert.Equal([kept.Id], box.Items.Select(i => i.Id));
        // Filters on what came after match nothing.
        Assert.Empty((await (await dep.Client(Fx).GetAsync("/v1/referrals/received?status=TRANSFERRED&assignedAgent=ref-bel").Ok())
            .Read<PageResponse<ReferralSummary>>()).Items);
        var counts = await (await dep.Client(Fx).GetAsync("/v1/referrals/counts?box=RECEIVED").Ok()).Read<ReferralCounts>();
        Assert.Equal(1, counts.ByStatus.Single(s => s.Status == ReferralStatus.TRANSFERRED).Count);
        Assert.Equal(0, counts.ByStatus.Single(s => s.Status == ReferralStatus.ACCEPTED).Count);
        Assert.Equal(2, counts.Total);
        // The new receiver has nothing under TRANSFERRED.
        Assert.Empty((await (await partner.Client(Fx).GetAsync("/v1/referrals/received?status=TRANSFERRED").Ok())
            .Read<PageResponse<ReferralSummary>>()).Items);
    }

    [Fact]
    public async Task A_second_ccas_sending_the_same_person_learns_nothing_of_the_first_ones_referral()
    {
        var first = await Ccas("21231"); // Dijon
        var second = await Ccas("21054"); // Beaune
        var dep = await Dep("21");
        var person = Person("21231");
        var (open, _) = await Send(first, Draft("INCOME", person, receiverId: dep.Id));

        // Probing with the same person, need and receiver: an ordinary 201, no id, no duplicateOf.
        var response = await second.Client(Fx).PostJson("/v1/referrals", Draft("INCOME", person, receiverId: dep.Id)).Ok(HttpStatusCode.Created);
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(open.Id.ToString(), body);
        var own = await response.Read<ReferralDto>();
        Assert.Null(own.DuplicateOf);
        var forced = Draft("INCOME", person, receiverId: dep.Id);
        forced["force"] = true;
        forced["forceReason"] = "Sonder";
        var (probe, _) = await Send(second, forced);
        Assert.Equal(own.Id, probe.DuplicateOf); // its own, never the other sender's
        Assert.DoesNotContain(await Thread(second, probe.Id), m => m.Body?.Contains(open.Id.ToString()) == true);
        // The first sender is still answered about its own.
        var again = await (await first.Client(Fx).PostJson("/v1/referrals", Draft("INCOME", person, receiverId: dep.Id)))
            .Problem(HttpStatusCode.Conflict, "referrals.duplicate");
        Assert.Equal($"/v1/referrals/{open.Id}", again.GetProperty("conflictingResource").GetString());
    }

    [Fact]
    public async Task Two_people_who_share_a_first_given_name_and_a_birthday_are_not_one_for_the_guard()
    {
        var ccas = await Ccas("68224"); // Mulhouse
        var family = "Zéphyr-" + Guid.NewGuid().ToString("N")[..6];
        var nira = new Dictionary<string, object?>(Person("68224", family)) { ["givenNames"] = "Zéphyrine Nira" };
        var kappa = new Dictionary<string, object?>(nira) { ["givenNames"] = "Zéphyrine Kappa" };
        await Send(ccas, Draft("INCOME", nira));
        await Send(ccas, Draft("INCOME", kappa));
        // The same person, written otherwise (case, accents, a hyphen for a space), is still one.
        var same = new Dictionary<string, object?>(nira) { ["familyName"] = family.ToUpperInvariant(), ["givenNames"] = "zephyrine-nira" };
        await (await ccas.Client(Fx).PostJson("/v1/referrals", Draft("INCOME", same))).Problem(HttpStatusCode.Conflict, "referrals.duplicate");
        var found = await (await ccas.Client(Fx).GetAsync($"/v1/referrals/sent?familyName={family}&givenNames=Zéphyrine%20Kappa&birthDate=1958-04-12").Ok())
            .Read<PageResponse<ReferralSummary>>();
        Assert.Equal("Zéphyrine Kappa", Assert.Single(found.Items).Person!.GivenNames);
    }

    [Fact]
    public async Task A_referral_keyed_on_the_first_given_name_before_0014_is_rekeyed_once_at_start_up()
    {
        var ccas = await Ccas("57463"); // Metz
        var person = Person("57463");
        var (sent, _) = await Send(ccas, Draft("INCOME", person));
        // As written before: the key of the first given name only, marked by the migration.
        var cipher = Fx.Services.GetRequiredService<CoordinationHub.Platform.Security.PersonCipher>();
        var old = cipher.BlindIndex($"{((string)person["familyName"]!).ToUpperInvariant().Replace("-", "")}|JEANNE|1958-04-12");
        await using (var c = await Fx.Db.OpenAsync(CancellationToken.None))
            await c.ExecuteAsync(Fx.Db.Command("UPDATE referral SET person_key = @old, rekey_pending = 1 WHERE id = @id",
                new { old, id = sent.Id }, CancellationToken.None));
        // A "Jeanne Claude" of the same birthday would be taken for her under the old key.
        Assert.True(await Fx.Services.GetRequiredService<ReferralPersonKeys>().RecomputeAsync(CancellationToken.None) >= 1);
        await Send(ccas, Draft("INCOME", new Dictionary<string, object?>(person) { ["givenNames"] = "Jeanne Claude" }));
        await (await ccas.Client(Fx).PostJson("/v1/referrals", Draft("INCOME", person))).Problem(HttpStatusCode.Conflict, "referrals.duplicate");
        Assert.Equal(0, await Fx.Services.GetRequiredService<ReferralPersonKeys>().RecomputeAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_receiver_reads_after_consent_withdrawal_and_gets_nothing_personal()
    {
        var ccas = await Ccas("52448"); // Saint-Dizier
        var dep = await Dep("52");
        var person = Person("52448");
        var (sent, _) = await Send(ccas, Draft("INCOME", person, receiverId: dep.Id, consent: Consent("INCOME"), statutory: null));
        await Act(dep, sent.Id, "acceptance", new { agent = Agent });
        await Act(dep, sent.Id, "start", new { agent = Agent });
        await dep.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/messages", new { agent = Agent, body = "Mme a deux enfants." }).Ok(HttpStatusCode.Created);
        Later();
        var (withdrawn, _) = await Act(ccas, sent.Id, "consent/revocation", new { agent = Agent, text = "Retrait par courrier." });
        var withdrawnAt = Fx.Clock.GetUtcNow();
        Assert.Equal((ReferralStatus.CLOSED_WITHOUT_OUTCOME, ClosureReason.CONSENT_WITHDRAWN), (withdrawn.Status, withdrawn.ClosureReason));
        Assert.NotNull(withdrawn.Person); // the sender, who collected it, keeps it until erasure or retention
        var logged = (await AccessLog(ccas, sent.Id)).Count;

        Later();
        var (seen, _) = await Get(dep, sent.Id);
        Assert.Equal((ReferralStatus.CLOSED_WITHOUT_OUTCOME, withdrawnAt), (seen.Status, seen.LegalBasis.ConsentWithdrawnAt));
        Assert.Null(seen.Person);
        Assert.Null(seen.Context);
        Assert.DoesNotContain(seen.AllowedActions, a => a is ReferralAction.COMPLETE or ReferralAction.CLOSE_WITHOUT_OUTCOME or ReferralAction.TRANSFER);
        var dossier = await (await dep.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}/dossier").Ok()).Read<ReferralDossier>();
        Assert.Null(dossier.Referral.Person);
        Assert.Empty(dossier.PersonVersions);
        Assert.All(dossier.Thread, m => Assert.Null(m.Body));
        Assert.Contains(dossier.Thread, m => m.Kind == MessageKind.CONSENT_WITHDRAWAL);
        Assert.All(await Thread(dep, sent.Id), m => Assert.Null(m.Body));
        Assert.Empty(await (await dep.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}/person/versions").Ok()).Read<List<PersonVersion>>());
        var line = (await (await dep.Client(Fx).GetAsync("/v1/referrals/received?status=CLOSED_WITHOUT_OUTCOME").Ok())
            .Read<PageResponse<ReferralSummary>>()).Items.Single(i => i.Id == sent.Id);
        Assert.Null(line.Person);
        Assert.Empty((await (await dep.Client(Fx).GetAsync(
                $"/v1/referrals/received?familyName={person["familyName"]}&givenNames=Jeanne%20Marie&birthDate=1958-04-12").Ok())
            .Read<PageResponse<ReferralSummary>>()).Items);
        // Nothing was read, so nothing was logged.
        Assert.Equal(logged, (await AccessLog(ccas, sent.Id)).Count);
        Assert.Equal(1, await Scalar("""
            SELECT COUNT(*) FROM outbox_event WHERE resource_id = @id AND event_type = 'referral.consent-withdrawn'
            """, new { id = sent.Id }));
    }

    [Fact]
    public async Task Consent_withdrawn_before_acceptance_cancels_and_a_statutory_referral_is_untouched()
    {
        var ccas = await Ccas("08105"); // Charleville-Mézières
        var dep = await Dep("08");
        var (sent, _) = await Send(ccas, Draft("INCOME", Person("08105"), receiverId: dep.Id, consent: Consent("INCOME"), statutory: null));
        await Get(dep, sent.Id);
        var (withdrawn, _) = await Act(ccas, sent.Id, "consent/revocation", new { agent = Agent });
        Assert.Equal((ReferralStatus.CANCELLED, CancelReason.CONSENT_WITHDRAWN), (withdrawn.Status, withdrawn.CancelReason));
        Assert.Null((await Get(dep, sent.Id)).Referral.Person);

        var (statutory, _) = await Send(ccas, Draft("INCOME", Person("08105"), receiverId: dep.Id, statutory: "RSA_ORIENTATION"));
        await Act(dep, statutory.Id, "acceptance", new { agent = Agent });
        var (still, _) = await Get(dep, statutory.Id);
        Assert.Equal(ReferralStatus.ACCEPTED, still.Status);
        Assert.NotNull(still.Person);
    }

    [Fact]
    public async Task Events_sequenced_after_a_transfer_reach_the_earlier_receiver_for_its_own_and_the_new_receiver_for_none_before_it()
    {
        // The fixture's host does not dispatch: nothing is sequenced until this test runs the sequencer, after the transfer.
        var sender = await Ccas("59183"); // Dunkerque
        var dep = await Dep("59");
        var partner = await Partner("Association Dunkerque Logement", "59");
        var (sent, _) = await Send(sender, Draft("HOUSING", Person("59183"), receiverId: dep.Id));
        await Get(dep, sent.Id);
        await Act(dep, sent.Id, "transfer", new { agent = Agent, receiverId = partner.Id, reason = "DELEGATED" });
        await Act(partner, sent.Id, "acceptance", new { agent = Agent });
        Assert.True(await Scalar("SELECT COUNT(*) FROM outbox_event WHERE resource_id = @id AND position IS NULL", new { id = sent.Id }) > 0,
            "the referral's events wait for the sequencer");

        var sequencer = Fx.Services.GetRequiredService<EventSequencer>();
        while ((await sequencer.RunOnceAsync(1000, CancellationToken.None)).Events > 0) { }

        async Task<List<string>> Seen(Party party) => (await Events(party.Id, sent.Id));
        Assert.Equal(["referral.sent", "referral.received", "referral.transferred"], await Seen(dep));
        Assert.Equal(["referral.transferred", "referral.received", "referral.status-changed"], await Seen(partner));
        Assert.Equal(["referral.sent", "referral.received", "referral.transferred", "referral.received", "referral.status-changed"], await Seen(sender));
    }

    private async Task<List<string>> Events(Guid organisationId, Guid referralId)
    {
        await using var c = await Fx.Db.OpenAsync(CancellationToken.None);
        return (await c.QueryAsync<string>(Fx.Db.Command("""
            SELECT e.event_type FROM event_audience a JOIN outbox_event e ON e.id = a.event_id
            WHERE a.organisation_id = @organisationId AND e.resource_id = @referralId
            ORDER BY a.position
            """, new { organisationId, referralId }, CancellationToken.None))).ToList();
    }

    private async Task<long> Scalar(string sql, object parameters)
    {
        await using var c = await Fx.Db.OpenAsync(CancellationToken.None);
        return await c.ExecuteScalarAsync<long>(Fx.Db.Command(sql, parameters, CancellationToken.None));
    }
}

[Collection(SqliteCollection.Name)] public sealed class ReferralVisibilityTests_Sqlite(SqliteFixture f) : ReferralVisibilityTests(f);
[Collection(PostgresCollection.Name)] public sealed class ReferralVisibilityTests_Postgres(PostgresFixture f) : ReferralVisibilityTests(f);
