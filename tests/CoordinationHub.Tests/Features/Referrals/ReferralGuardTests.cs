using System.Net;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Security;
using Dapper;

namespace CoordinationHub.Tests.Features.Referrals;

public abstract class ReferralGuardTests(ApiFixture fx) : ReferralTestBase(fx)
{
    [Fact]
    public async Task Consent_is_data_an_expired_one_cannot_send_and_revocation_withdraws_before_acceptance()
    {
        var ccas = await Ccas("16015"); // Angoulême
        var dep = await Dep("16");
        await (await ccas.Client(Fx).PostJson("/v1/referrals", Draft("AUTONOMY", Person("16015"), consent: Consent("AUTONOMY", expiresOn: "2026-11-24"), statutory: null)))
            .Problem(HttpStatusCode.UnprocessableEntity, "referrals.consent-expired");
        await (await ccas.Client(Fx).PostJson("/v1/referrals", Draft("AUTONOMY", Person("16015"), consent: Consent("FOOD"), statutory: null)))
            .Problem(HttpStatusCode.UnprocessableEntity, "referrals.consent-out-of-scope");
        await (await ccas.Client(Fx).PostJson("/v1/referrals", Draft("AUTONOMY", Person("16015"), consent: Consent("AUTONOMY", receiverId: ccas.Id), statutory: null)))
            .Problem(HttpStatusCode.UnprocessableEntity, "referrals.consent-out-of-scope");
        var both = Draft("AUTONOMY", Person("16015"));
        both["legalBasis"] = new { statutory = "APA_REQUEST", consent = Consent("AUTONOMY") };
        await (await ccas.Client(Fx).PostJson("/v1/referrals", both)).Problem(HttpStatusCode.BadRequest, "validation");

        // Before acceptance: revocation withdraws the referral.
        var (early, _) = await Send(ccas, Draft("AUTONOMY", Person("16015"), consent: Consent("AUTONOMY", expiresOn: "2026-11-25"), statutory: null));
        Assert.Equal(ConsentMethod.WRITTEN, early.LegalBasis.Consent!.Method);
        var (withdrawn, _) = await Act(ccas, early.Id, "consent/revocation", new { agent = Agent, text = "Retrait par téléphone." });
        Assert.Equal((ReferralStatus.CANCELLED, CancelReason.CONSENT_WITHDRAWN), (withdrawn.Status, withdrawn.CancelReason));
        Assert.NotNull(withdrawn.LegalBasis.ConsentWithdrawnAt);

        // In NEEDS_INFO too.
        var (asked, _) = await Send(ccas, Draft("AUTONOMY", Person("16015"), consent: Consent("APA_EVALUATION"), statutory: null));
        await Act(dep, asked.Id, "information-requests", new { agent = Agent, text = "GIR ?" });
        Assert.Equal(ReferralStatus.CANCELLED, (await Act(ccas, asked.Id, "consent/revocation", new { agent = Agent })).Referral.Status);

        // After acceptance: the work ends (closed without outcome), the receiver sees the withdrawal and not the person.
        var (late, _) = await Send(ccas, Draft("AUTONOMY", Person("16015"), consent: Consent("AUTONOMY"), statutory: null));
        await Act(dep, late.Id, "acceptance", new { agent = Agent });
        var (kept, keptTag) = await Act(ccas, late.Id, "consent/revocation", new { agent = Agent });
        Assert.Equal((ReferralStatus.CLOSED_WITHOUT_OUTCOME, ClosureReason.CONSENT_WITHDRAWN), (kept.Status, kept.ClosureReason));
        var (seen, _) = await Get(dep, late.Id);
        Assert.NotNull(seen.LegalBasis.ConsentWithdrawnAt);
        Assert.Null(seen.Person);
        await (await Post(ccas, late.Id, "consent/revocation", new { agent = Agent }, keptTag)).Problem(HttpStatusCode.Conflict, "referrals.illegal-transition");

        // After a decline: no re-orientation on withdrawn consent.
        var (declined, _) = await Send(ccas, Draft("AUTONOMY", Person("16015"), consent: Consent("AUTONOMY"), statutory: null));
        await Act(dep, declined.Id, "decline", new { agent = Agent, reason = "NOT_ELIGIBLE", text = "Moins de 60 ans." });
        var (gone, goneTag) = await Act(ccas, declined.Id, "consent/revocation", new { agent = Agent });
        Assert.DoesNotContain(ReferralAction.REORIENT, gone.AllowedActions);
        await (await Post(ccas, declined.Id, "reorientation", new { agent = Agent }, goneTag)).Problem(HttpStatusCode.Conflict, "referrals.illegal-transition");

        // A referral on a statutory basis has no consent to withdraw.
        var (statutory, statutoryTag) = await Send(ccas, Draft("AUTONOMY", Person("16015"), statutory: "APA_REQUEST"));
        Assert.Equal("CASF L232-13", statutory.LegalBasis.LegalReference);
        await (await Post(ccas, statutory.Id, "consent/revocation", new { agent = Agent }, statutoryTag)).Problem(HttpStatusCode.Conflict, "referrals.illegal-transition");
    }

    [Fact]
    public async Task A_second_open_referral_for_the_same_person_need_and_receiver_is_refused_unless_forced()
    {
        var ccas = await Ccas("17300"); // La Rochelle
        var person = Person("17300", "Lefèvre-Dupont");
        var (first, _) = await Send(ccas, Draft("INCOME", person));
        // Same person written differently: accents, case, hyphen.
        var same = new Dictionary<string, object?>(person) { ["familyName"] = "LEFEVRE dupont", ["givenNames"] = "jeanne-marie" };
        var dup = await (await ccas.Client(Fx).PostJson("/v1/referrals", Draft("RSA_INSTRUCTION", same))).Problem(HttpStatusCode.Conflict, "referrals.duplicate");
        Assert.Equal($"/v1/referrals/{first.Id}", dup.GetProperty("conflictingResource").GetString());
        // Another need, or another birth date, is another referral.
        await Send(ccas, Draft("AUTONOMY", same));
        await Send(ccas, Draft("INCOME", new Dictionary<string, object?>(same) { ["birthDate"] = "1958-04-13" }));
        // Force needs a reason; with one, it goes, linked to the open one.
        var forced = Draft("INCOME", same);
        forced["force"] = true;
        await (await ccas.Client(Fx).PostJson("/v1/referrals", forced)).Problem(HttpStatusCode.BadRequest, "validation");
        forced["forceReason"] = "Nouvelle situation : expulsion";
        var (second, _) = await Send(ccas, forced);
        Assert.Equal(first.Id, second.DuplicateOf);

        // Closed referrals do not count.
        var person2 = Person("17300");
        var (closed, _) = await Send(ccas, Draft("ENERGY", person2));
        await Act(ccas, closed.Id, "cancellation", new { agent = Agent, reason = "SENT_BY_MISTAKE" });
        await Send(ccas, Draft("ENERGY", person2));

        // Eight identical referrals at once: exactly one is sent.
        var person3 = Person("17300");
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => ccas.Client(Fx).PostJson("/v1/referrals", Draft("HOUSING", person3))));
        Assert.Equal(1, results.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(7, results.Count(r => r.StatusCode == HttpStatusCode.Conflict));
    }

    [Theory]
    [InlineData("person.familyName", "Martin 1-84-12-75-116-005-22")]
    [InlineData("person.givenNames", "Jeanne 184127511600522")]
    [InlineData("person.address", "NIR 1 84 12 75 116 005 22, 3 rue des Lilas")]
    [InlineData("person.contact.value", "1.84.12.75.116.005.22")]
    [InlineData("context", "Son numéro : 2 69 05 2A 004 015 25 (Ajaccio).")]
    [InlineData("agent.displayName", "184127511600522")]
    [InlineData("legalBasis.consent.purpose", "Dossier 184127511600522")]
    public async Task A_NIR_is_refused_with_422_in_every_text_field(string field, string text)
    {
        var ccas = await Ccas("18033"); // Bourges
        var person = Person("18033");
        var draft = Draft("INCOME", person, consent: Consent("INCOME"), statutory: null);
        switch (field)
        {
            case "person.familyName": person["familyName"] = text; break;
            case "person.givenNames": person["givenNames"] = text; break;
            case "person.address": person["address"] = text; break;
            case "person.contact.value": person["contact"] = new { channel = "PHONE", value = text }; break;
            case "context": draft["context"] = text; break;
            case "agent.displayName": draft["agent"] = new { reference = "a1", displayName = text }; break;
            case "legalBasis.consent.purpose":
                draft["legalBasis"] = new { consent = new { purpose = text, scope = new { need = "INCOME" }, method = "ORAL", givenAt = "2026-11-20T10:00:00Z", collectedBy = Agent } };
                break;
        }
        var problem = await (await ccas.Client(Fx).PostJson("/v1/referrals", draft)).Problem(HttpStatusCode.UnprocessableEntity, "referrals.nir-refused");
        Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.DoesNotContain(text, problem.GetRawText());
    }

    [Fact]
    public async Task A_number_that_only_looks_like_a_NIR_passes_and_every_later_text_is_guarded_too()
    {
        Assert.True(NirGuard.Contains("184127511600522"));
        Assert.False(NirGuard.Contains("184127511600523")); // wrong key
        Assert.True(NirGuard.Contains("269052A00401525")); // Corsica
        Assert.False(NirGuard.Contains("0612345678"));
        var ccas = await Ccas("21231"); // Dijon
        var dep = await Dep("21");
        var draft = Draft("INCOME", Person("21231"));
        draft["context"] = "Dossier CAF 184127511600523";
        var (sent, _) = await Send(ccas, draft);
        Assert.Equal("Dossier CAF 184127511600523", (await Get(ccas, sent.Id)).Referral.Context);
        const string nir = "1 84 12 75 116 005 22";
        var (_, tag) = await Get(dep, sent.Id);
        await (await Post(dep, sent.Id, "information-requests", new { agent = Agent, text = nir }, tag)).Problem(HttpStatusCode.UnprocessableEntity, "referrals.nir-refused");
        await (await Post(dep, sent.Id, "decline", new { agent = Agent, reason = "OTHER", text = nir }, tag)).Problem(HttpStatusCode.UnprocessableEntity, "referrals.nir-refused");
        await (await dep.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/messages", new { agent = Agent, body = nir })).Problem(HttpStatusCode.UnprocessableEntity, "referrals.nir-refused");
        await (await ccas.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/messages", new { agent = new { reference = nir, displayName = "x" }, body = "ok" }))
            .Problem(HttpStatusCode.UnprocessableEntity, "referrals.nir-refused");
        await using var c = await Fx.Db.OpenAsync(default);
        Assert.Equal(0, await c.ExecuteScalarAsync<int>(Fx.Db.Command("SELECT COUNT(*) FROM referral_message WHERE referral_id = @id", new { id = sent.Id }, default)));
    }

    [Fact]
    public async Task An_unrelated_organisation_can_neither_read_list_act_nor_post_and_gets_the_same_404_as_for_a_missing_id()
    {
        var ccas = await Ccas("24322"); // Périgueux
        var dep = await Dep("24");
        var stranger = await Ccas((await AnotherCommune("24", "24322")).Code!);
        var (sent, etag) = await Send(ccas, Draft("INCOME", Person("24322")));
        var missing = Guid.CreateVersion7();
        foreach (var id in new[] { sent.Id, missing })
        {
            var read = await (await stranger.Client(Fx).GetAsync($"/v1/referrals/{id}")).Problem(HttpStatusCode.NotFound, "not-found");
            Assert.Equal($"No referral with id '{id}' is visible to you.", read.GetProperty("detail").GetString());
            await (await stranger.Client(Fx).GetAsync($"/v1/referrals/{id}/messages")).Problem(HttpStatusCode.NotFound, "not-found");
            await (await stranger.Client(Fx).GetAsync($"/v1/referrals/{id}/assignments")).Problem(HttpStatusCode.NotFound, "not-found");
            await (await Post(stranger, id, "acceptance", new { agent = Agent }, etag)).Problem(HttpStatusCode.NotFound, "not-found");
            await (await Post(stranger, id, "cancellation", new { agent = Agent, reason = "OTHER" }, etag)).Problem(HttpStatusCode.NotFound, "not-found");
            await (await stranger.Client(Fx).PostJson($"/v1/referrals/{id}/messages", new { agent = Agent, body = "Bonjour" })).Problem(HttpStatusCode.NotFound, "not-found");
        }
        foreach (var box in new[] { "sent", "received" })
            Assert.DoesNotContain(sent.Id.ToString(), await (await stranger.Client(Fx).GetAsync($"/v1/referrals/{box}").Ok()).Content.ReadAsStringAsync());
        Assert.Contains(sent.Id.ToString(), await (await dep.Client(Fx).GetAsync("/v1/referrals/received?commune=24322").Ok()).Content.ReadAsStringAsync());
        // Nothing moved: the receiver has not even read it.
        Assert.Equal(ReferralStatus.SENT, (await Get(ccas, sent.Id)).Referral.Status);
        // Scopes: a key without referrals:read gets 403.
        var noScope = await Fx.KeyFor(stranger.Id, CoordinationHub.Platform.Auth.Scopes.DirectoryRead);
        Assert.Equal(HttpStatusCode.Forbidden, (await Fx.Client(noScope).GetAsync($"/v1/referrals/{sent.Id}")).StatusCode);
    }
}

[Collection(SqliteCollection.Name)] public sealed class ReferralGuardTests_Sqlite(SqliteFixture f) : ReferralGuardTests(f);
[Collection(PostgresCollection.Name)] public sealed class ReferralGuardTests_Postgres(PostgresFixture f) : ReferralGuardTests(f);
