using System.Net;
using CoordinationHub.Features.Delegations;
using Dapper;

namespace CoordinationHub.Tests.Features.Delegations;

public abstract class DelegationTests(ApiFixture fx) : DelegationTestBase(fx)
{
    [Fact]
    public async Task A_departement_delegates_RSA_instruction_and_the_map_answers_the_CCAS_only_during_the_period()
    {
        var dep = await DepartementParty("48");
        var ccas = await CcasParty("48095"); // Mende
        var k = await SignedConvention([dep, ccas], ["RSA_INSTRUCTION"], new { communeIds = new[] { ccas.Organisation.CommuneId } }, Jan2026, Dec2028);
        var response = await dep.Client(Fx).PostJson("/v1/delegations",
            Delegation(dep, ccas, "RSA_INSTRUCTION", k, new { communeIds = new[] { ccas.Organisation.CommuneId } }, new(2026, 3, 1), new(2027, 2, 28), "CD48-RSA-1")).Ok(HttpStatusCode.Created);
        var delegation = await response.Read<DelegationDto>();
        Assert.Equal(1, delegation.VersionNo);
        Assert.NotNull(response.Headers.ETag);

        var during = await Map("48095", "RSA_INSTRUCTION", new(2026, 6, 15));
        Assert.Equal(ccas.Id, during.GetProperty("responsible").GetProperty("id").GetGuid());
        var chain = during.GetProperty("chain").EnumerateArray().ToList();
        Assert.Equal(2, chain.Count);
        Assert.Equal(("LAW", dep.Id), (chain[0].GetProperty("via").GetString(), chain[0].GetProperty("organisationId").GetGuid()));
        Assert.Equal(("DELEGATION", delegation.Id, k), (chain[1].GetProperty("via").GetString(), chain[1].GetProperty("delegationId").GetGuid(), chain[1].GetProperty("conventionId").GetGuid()));

        // Past and future dates: outside the period the holder by law answers.
        Assert.Equal(dep.Id, (await Map("48095", "RSA_INSTRUCTION", new(2026, 2, 28))).GetProperty("responsible").GetProperty("id").GetGuid());
        Assert.Equal(dep.Id, (await Map("48095", "RSA_INSTRUCTION", new(2027, 3, 1))).GetProperty("responsible").GetProperty("id").GetGuid());
        Assert.Equal(ccas.Id, (await Map("48095", "RSA_INSTRUCTION", new(2027, 2, 28))).GetProperty("responsible").GetProperty("id").GetGuid());
        // Another competence of the same commune is untouched.
        Assert.Equal(dep.Id, (await Map("48095", "APA_INSTRUCTION", new(2026, 6, 15))).GetProperty("responsible").GetProperty("id").GetGuid());
        // The far ends of the calendar are ordinary dates.
        Assert.Equal(dep.Id, (await Map("48095", "RSA_INSTRUCTION", DateOnly.MaxValue)).GetProperty("responsible").GetProperty("id").GetGuid());
        Assert.Equal(delegation.Id, (await (await dep.Client(Fx).GetAsync($"/v1/delegations/{delegation.Id}?asOf=9999-12-31").Ok()).Read<DelegationDto>()).Id);
        await (await dep.Client(Fx).GetAsync($"/v1/delegations/{delegation.Id}?asOf=0001-01-01")).Problem(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Each_rule_is_refused_with_its_own_problem_type()
    {
        var dep = await DepartementParty("15");
        var ccas = await CcasParty("15014"); // Aurillac
        var other = await CcasParty("15187"); // Saint-Flour
        var aurillac = new { communeIds = new[] { ccas.Organisation.CommuneId } };
        var k = await SignedConvention([dep, ccas], ["APA_INSTRUCTION"], aurillac, Jan2026, Dec2028);
        var draft = await SignedConvention([dep, ccas], ["APA_INSTRUCTION"], aurillac, Jan2026, Dec2028, sign: false);

        async Task Refused(object body, HttpStatusCode status, string type, HttpClient? client = null) =>
            await (await (client ?? dep.Client(Fx)).PostJson("/v1/delegations", body)).Problem(status, type);

        await Refused(Delegation(dep, ccas, "APA_INSTRUCTION", draft, aurillac, Jan2026, Dec2028), HttpStatusCode.UnprocessableEntity, "delegations.convention-not-signed");
        await Refused(Delegation(dep, other, "APA_INSTRUCTION", k, aurillac, Jan2026, Dec2028), HttpStatusCode.UnprocessableEntity, "delegations.not-parties");
        await Refused(Delegation(dep, ccas, "PCH_INSTRUCTION", k, aurillac, Jan2026, Dec2028), HttpStatusCode.UnprocessableEntity, "delegations.competence-not-covered");
        await Refused(Delegation(dep, ccas, "APA_INSTRUCTION", k, new { communeIds = new[] { other.Organisation.CommuneId } }, Jan2026, Dec2028), HttpStatusCode.UnprocessableEntity, "delegations.territory-not-covered");
        await Refused(Delegation(dep, ccas, "APA_INSTRUCTION", k, aurillac, Jan2026, new(2029, 6, 30)), HttpStatusCode.UnprocessableEntity, "delegations.convention-not-in-force");
        await Refused(Delegation(dep, ccas, "APA_INSTRUCTION", k, aurillac, new(2025, 6, 1), Dec2028), HttpStatusCode.UnprocessableEntity, "delegations.convention-not-in-force");
        // The CCAS does not hold APA instruction: the département does, by law.
        await Refused(Delegation(ccas, dep, "APA_INSTRUCTION", k, aurillac, Jan2026, Dec2028), HttpStatusCode.UnprocessableEntity, "delegations.delegator-does-not-hold", ccas.Client(Fx));
        // Only the delegator grants.
        await Refused(Delegation(dep, ccas, "APA_INSTRUCTION", k, aurillac, Jan2026, Dec2028), HttpStatusCode.Forbidden, "forbidden", ccas.Client(Fx));
        await Refused(new { delegatorId = dep.Id, delegateId = dep.Id, competence = "APA_INSTRUCTION", conventionId = k, startOn = "2026-02-01", endOn = "2026-01-01" },
            HttpStatusCode.BadRequest, "validation");
        await Refused(Delegation(dep, ccas, "APA_INSTRUCTION", k, aurillac, Jan2026, DateOnly.MaxValue), HttpStatusCode.BadRequest, "validation");

        var first = await (await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, ccas, "APA_INSTRUCTION", k, aurillac, Jan2026, new(2026, 12, 31))).Ok(HttpStatusCode.Created)).Read<DelegationDto>();
        var overlap = await (await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, ccas, "APA_INSTRUCTION", k, aurillac, new(2026, 12, 1), Dec2028))).Problem(HttpStatusCode.Conflict, "delegations.overlap");
        Assert.Equal($"/v1/delegations/{first.Id}", overlap.GetProperty("conflictingResource").GetString());
        // The day after it ends is free again.
        await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, ccas, "APA_INSTRUCTION", k, aurillac, new(2027, 1, 1), Dec2028)).Ok(HttpStatusCode.Created);
    }

    [Fact]
    public async Task A_subdelegation_extends_the_chain_only_when_the_first_convention_allows_it()
    {
        var dep = await DepartementParty("23");
        var ccas = await CcasParty("23096"); // Guéret
        var partner = await PartnerParty("Association Creuse Insertion", "23");
        var gueret = new { communeIds = new[] { ccas.Organisation.CommuneId } };
        var k1 = await SignedConvention([dep, ccas], ["RSA_ACCOMPAGNEMENT"], gueret, Jan2026, Dec2028, allowsSubdelegation: true);
        var k2 = await SignedConvention([ccas, partner], ["RSA_ACCOMPAGNEMENT"], gueret, Jan2026, Dec2028);
        var d1 = await (await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, ccas, "RSA_ACCOMPAGNEMENT", k1, gueret, Jan2026, Dec2028)).Ok(HttpStatusCode.Created)).Read<DelegationDto>();

        // The CCAS holds it from 2026 to 2028 only: a sub-delegation beyond is refused.
        await (await ccas.Client(Fx).PostJson("/v1/delegations", Delegation(ccas, partner, "RSA_ACCOMPAGNEMENT", k2, gueret, new(2025, 12, 1), new(2026, 6, 30))))
            .Problem(HttpStatusCode.UnprocessableEntity, "delegations.convention-not-in-force");
        var d2 = await (await ccas.Client(Fx).PostJson("/v1/delegations", Delegation(ccas, partner, "RSA_ACCOMPAGNEMENT", k2, gueret, new(2026, 4, 1), new(2026, 9, 30))).Ok(HttpStatusCode.Created)).Read<DelegationDto>();

        var map = await Map("23096", "RSA_ACCOMPAGNEMENT", new(2026, 5, 1));
        Assert.Equal(partner.Id, map.GetProperty("responsible").GetProperty("id").GetGuid());
        Assert.Equal([dep.Id, ccas.Id, partner.Id], map.GetProperty("chain").EnumerateArray().Select(s => s.GetProperty("organisationId").GetGuid()));
        Assert.Equal([d1.Id, d2.Id], map.GetProperty("chain").EnumerateArray().Skip(1).Select(s => s.GetProperty("delegationId").GetGuid()));
        Assert.Equal(ccas.Id, (await Map("23096", "RSA_ACCOMPAGNEMENT", new(2026, 10, 1))).GetProperty("responsible").GetProperty("id").GetGuid());

        // Same chain where the first convention forbids sub-delegation: refused.
        var other = await CcasParty("23176"); // La Souterraine
        var souterraine = new { communeIds = new[] { other.Organisation.CommuneId } };
        var k3 = await SignedConvention([dep, other], ["RSA_ACCOMPAGNEMENT"], souterraine, Jan2026, Dec2028, allowsSubdelegation: false);
        var k4 = await SignedConvention([other, partner], ["RSA_ACCOMPAGNEMENT"], souterraine, Jan2026, Dec2028);
        await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, other, "RSA_ACCOMPAGNEMENT", k3, souterraine, Jan2026, Dec2028)).Ok(HttpStatusCode.Created);
        var refused = await (await other.Client(Fx).PostJson("/v1/delegations", Delegation(other, partner, "RSA_ACCOMPAGNEMENT", k4, souterraine, new(2026, 4, 1), new(2026, 9, 30))))
            .Problem(HttpStatusCode.UnprocessableEntity, "delegations.subdelegation-not-allowed");
        Assert.Equal($"/v1/conventions/{k3}", refused.GetProperty("conflictingResource").GetString());
    }

    [Fact]
    public async Task Changing_a_delegation_keeps_every_version_readable_as_of_its_date()
    {
        var dep = await DepartementParty("46");
        var ccas = await CcasParty("46042"); // Cahors
        var cahors = new { communeIds = new[] { ccas.Organisation.CommuneId } };
        var k = await SignedConvention([dep, ccas], ["FSL"], cahors, Jan2026, Dec2028);
        try
        {
            Fx.Clock.Set(new DateTimeOffset(2026, 1, 10, 9, 0, 0, TimeSpan.Zero));
            var created = await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, ccas, "FSL", k, cahors, Jan2026, Dec2028)).Ok(HttpStatusCode.Created);
            var d = await created.Read<DelegationDto>();
            var url = $"/v1/delegations/{d.Id}";

            Fx.Clock.Set(new DateTimeOffset(2026, 2, 10, 9, 0, 0, TimeSpan.Zero));
            await (await dep.Client(Fx).PutJson(url, new { startOn = Jan2026, endOn = new DateOnly(2026, 6, 30), reason = "Fin anticipée" }, null)).Problem(HttpStatusCode.PreconditionRequired);
            var changed = await dep.Client(Fx).PutJson(url, new { startOn = Jan2026, endOn = new DateOnly(2026, 6, 30), reason = "Fin anticipée" }, created.Headers.ETag!.ToString()).Ok();
            await (await dep.Client(Fx).PutJson(url, new { startOn = Jan2026, endOn = new DateOnly(2026, 5, 31) }, created.Headers.ETag!.ToString())).Problem(HttpStatusCode.PreconditionFailed);

            Fx.Clock.Set(new DateTimeOffset(2026, 3, 10, 9, 0, 0, TimeSpan.Zero));
            var ended = await (await dep.Client(Fx).SendAsync(new HttpRequestMessage(HttpMethod.Post, $"{url}/end")
            {
                Content = System.Net.Http.Json.JsonContent.Create(new { lastDay = new DateOnly(2026, 3, 31), reason = "Reprise en régie" }),
                Headers = { { "If-Match", changed.Headers.ETag!.ToString() } },
            }).Ok()).Read<DelegationDto>();
            Assert.Equal(DelegationChange.ENDED, ended.LastChange);
            Assert.Equal(3, ended.VersionNo);

            Assert.Equal(Dec2028, (await (await dep.Client(Fx).GetAsync($"{url}?asOf=2026-01-20").Ok()).Read<DelegationDto>()).EndOn);
            Assert.Equal(new DateOnly(2026, 6, 30), (await (await dep.Client(Fx).GetAsync($"{url}?asOf=2026-02-20").Ok()).Read<DelegationDto>()).EndOn);
            Assert.Equal(new DateOnly(2026, 3, 31), (await (await dep.Client(Fx).GetAsync(url).Ok()).Read<DelegationDto>()).EndOn);
            var versions = await (await dep.Client(Fx).GetAsync($"{url}/versions").Ok()).Read<List<DelegationVersionDto>>();
            Assert.Equal([DelegationChange.CREATED, DelegationChange.CHANGED, DelegationChange.ENDED], versions.Select(v => v.Change));
            Assert.Equal(dep.Id, (await Map("46042", "FSL", new(2026, 4, 1))).GetProperty("responsible").GetProperty("id").GetGuid());
            Assert.Equal(ccas.Id, (await Map("46042", "FSL", new(2026, 3, 31))).GetProperty("responsible").GetProperty("id").GetGuid());
        }
        finally
        {
            Fx.Clock.Reset();
        }
    }

    [Fact]
    public async Task The_export_of_a_departement_has_one_row_per_commune_and_competence_as_JSON_and_CSV()
    {
        var dep = await DepartementParty("2A");
        var ccas = await CcasParty("2A004"); // Ajaccio
        var k = await SignedConvention([dep, ccas], ["FAJ"], new { departementCodes = new[] { "2A" } }, Jan2026, Dec2028);
        await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, ccas, "FAJ", k, new { departementCodes = new[] { "2A" } }, Jan2026, Dec2028)).Ok(HttpStatusCode.Created);

        var territory = await (await Fx.Admin().GetAsync("/v1/departements/2A/territory").Ok()).Read<CoordinationHub.Features.Directory.DepartementTerritory>();
        var catalogue = await (await Fx.Admin().GetAsync("/v1/competences").Ok()).Json();
        var rows = await (await Fx.Admin().GetAsync("/v1/competence-map/export?departement=2A&date=2026-06-01").Ok()).Json();
        Assert.Equal(territory.Communes.Count * catalogue.GetArrayLength(), rows.GetArrayLength());
        var faj = rows.EnumerateArray().Where(r => r.GetProperty("competence").GetString() == "FAJ").ToList();
        Assert.Equal(territory.Communes.Count, faj.Count);
        Assert.All(faj, r => Assert.Equal(ccas.Id, r.GetProperty("responsible").GetProperty("id").GetGuid()));

        var csvResponse = await Fx.Admin().GetAsync("/v1/competence-map/export?departement=2A&date=2026-06-01&competence=FAJ&format=csv").Ok();
        Assert.Equal("text/csv", csvResponse.Content.Headers.ContentType?.MediaType);
        var lines = (await csvResponse.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        Assert.StartsWith("commune_code;commune_name;competence", lines[0]);
        Assert.Equal(territory.Communes.Count + 1, lines.Length);
        Assert.Contains(lines, l => l.StartsWith("2A004;Ajaccio;FAJ;true;2026-06-01;" + ccas.Id));

        // The same for an EPCI: the CA du Pays Ajaccien's member communes, one row each.
        var ajaccio = await Commune("2A004");
        var epci = territory.Epci.Single(e => e.Id == ajaccio.EpciId);
        var byEpci = await (await Fx.Admin().GetAsync($"/v1/competence-map/export?epci={epci.Siren}&competence=FAJ&date=2026-06-01").Ok()).Json();
        Assert.Equal(epci.CommunesInDepartement, byEpci.GetArrayLength());
        Assert.All(byEpci.EnumerateArray(), r => Assert.Equal(ccas.Id, r.GetProperty("responsible").GetProperty("id").GetGuid()));
    }

    [Fact]
    public async Task Terminating_the_convention_ends_its_delegations_on_the_same_day_and_keeps_them_on_record()
    {
        var dep = await DepartementParty("12");
        var ccas = await CcasParty("12202"); // Rodez
        var rodez = new { communeIds = new[] { ccas.Organisation.CommuneId } };
        var k = await SignedConvention([dep, ccas], ["APA_EVALUATION"], rodez, Jan2026, Dec2028);
        var d = await (await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, ccas, "APA_EVALUATION", k, rodez, Jan2026, Dec2028)).Ok(HttpStatusCode.Created)).Read<DelegationDto>();

        var etag = (await dep.Client(Fx).GetAsync($"/v1/conventions/{k}").Ok()).Headers.ETag!.ToString();
        var effectiveOn = new DateOnly(2027, 3, 1);
        try
        {
            Fx.Clock.Set(new DateTimeOffset(2027, 1, 4, 10, 0, 0, TimeSpan.Zero)); // "today", for the notice rule
            await dep.Client(Fx).SendAsync(new HttpRequestMessage(HttpMethod.Post, $"/v1/conventions/{k}/termination")
            {
                Content = System.Net.Http.Json.JsonContent.Create(new { effectiveOn, reason = "Reprise de la compétence", agreedByAllParties = true }),
                Headers = { { "If-Match", etag } },
            }).Ok();
        }
        finally
        {
            Fx.Clock.Reset();
        }

        var ended = await (await dep.Client(Fx).GetAsync($"/v1/delegations/{d.Id}").Ok()).Read<DelegationDto>();
        Assert.Equal(effectiveOn.AddDays(-1), ended.EndOn);
        Assert.Equal(DelegationChange.ENDED_WITH_CONVENTION, ended.LastChange);
        Assert.Equal("Reprise de la compétence", ended.Reason);
        Assert.Equal(2, (await (await dep.Client(Fx).GetAsync($"/v1/delegations/{d.Id}/versions").Ok()).Read<List<DelegationVersionDto>>()).Count);
        Assert.Equal(ccas.Id, (await Map("12202", "APA_EVALUATION", effectiveOn.AddDays(-1))).GetProperty("responsible").GetProperty("id").GetGuid());
        Assert.Equal(dep.Id, (await Map("12202", "APA_EVALUATION", effectiveOn)).GetProperty("responsible").GetProperty("id").GetGuid());
        // A new delegation under the terminated convention is refused.
        await (await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, ccas, "APA_EVALUATION", k, rodez, effectiveOn, Dec2028)))
            .Problem(HttpStatusCode.UnprocessableEntity, "delegations.convention-not-in-force");
    }

    [Fact]
    public async Task An_amendment_bringing_the_convention_end_forward_ends_its_delegations_once_signed_by_all()
    {
        var dep = await DepartementParty("32");
        var ccas = await CcasParty("32013"); // Auch
        var auch = new { communeIds = new[] { ccas.Organisation.CommuneId } };
        var k = await SignedConvention([dep, ccas], ["PCH_INSTRUCTION"], auch, Jan2026, Dec2028);
        var d = await (await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, ccas, "PCH_INSTRUCTION", k, auch, Jan2026, Dec2028)).Ok(HttpStatusCode.Created)).Read<DelegationDto>();

        var etag = (await dep.Client(Fx).GetAsync($"/v1/conventions/{k}").Ok()).Headers.ETag!.ToString();
        await dep.Client(Fx).SendAsync(new HttpRequestMessage(HttpMethod.Post, $"/v1/conventions/{k}/amendments")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { effectiveOn = new DateOnly(2026, 6, 1), summary = "Fin avancée", endOn = new DateOnly(2027, 6, 30) }),
            Headers = { { "If-Match", etag } },
        }).Ok(HttpStatusCode.Created);
        await dep.Client(Fx).PostJson($"/v1/conventions/{k}/signatures", new { signerName = "Le président", signedOn = "2026-05-20" }).Ok();
        // Not yet signed by every party: nothing changes.
        Assert.Equal(Dec2028, (await (await dep.Client(Fx).GetAsync($"/v1/delegations/{d.Id}").Ok()).Read<DelegationDto>()).EndOn);

        await ccas.Client(Fx).PostJson($"/v1/conventions/{k}/signatures", new { signerName = "La vice-présidente", signedOn = "2026-05-21" }).Ok();
        var ended = await (await dep.Client(Fx).GetAsync($"/v1/delegations/{d.Id}").Ok()).Read<DelegationDto>();
        Assert.Equal(new DateOnly(2027, 6, 30), ended.EndOn);
        Assert.Equal(DelegationChange.ENDED_WITH_CONVENTION, ended.LastChange);
        Assert.Equal(dep.Id, (await Map("32013", "PCH_INSTRUCTION", new(2027, 7, 1))).GetProperty("responsible").GetProperty("id").GetGuid());
        Assert.Equal(ccas.Id, (await Map("32013", "PCH_INSTRUCTION", new(2027, 6, 30))).GetProperty("responsible").GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task An_amendment_that_would_no_longer_cover_a_running_delegation_cannot_be_completed()
    {
        var dep = await DepartementParty("19");
        var ccas = await CcasParty("19272"); // Tulle
        var brive = await Commune("19031");
        var both = new { communeIds = new[] { ccas.Organisation.CommuneId, brive.Id } };
        var k = await SignedConvention([dep, ccas], ["FSL"], both, Jan2026, Dec2028);
        var d = await (await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, ccas, "FSL", k, new { communeIds = new[] { ccas.Organisation.CommuneId } }, Jan2026, Dec2028))
            .Ok(HttpStatusCode.Created)).Read<DelegationDto>();

        var etag = (await dep.Client(Fx).GetAsync($"/v1/conventions/{k}").Ok()).Headers.ETag!.ToString();
        await dep.Client(Fx).SendAsync(new HttpRequestMessage(HttpMethod.Post, $"/v1/conventions/{k}/amendments")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { effectiveOn = new DateOnly(2026, 7, 1), summary = "Brive seule", communeIds = new[] { brive.Id } }),
            Headers = { { "If-Match", etag } },
        }).Ok(HttpStatusCode.Created);
        await dep.Client(Fx).PostJson($"/v1/conventions/{k}/signatures", new { signerName = "Le président", signedOn = "2026-06-01" }).Ok();
        var refused = await (await ccas.Client(Fx).PostJson($"/v1/conventions/{k}/signatures", new { signerName = "La vice-présidente", signedOn = "2026-06-02" }))
            .Problem(HttpStatusCode.Conflict, "conventions.amendment-orphans-delegation");
        Assert.Equal($"/v1/delegations/{d.Id}", refused.GetProperty("conflictingResource").GetString());
        // Nothing of the refused signature remains: the convention still covers Tulle and the delegation runs.
        Assert.Equal(ccas.Id, (await Map("19272", "FSL", new(2026, 9, 1))).GetProperty("responsible").GetProperty("id").GetGuid());

        // Once the delegation ends before the amendment applies, the amendment can be completed.
        var read = await dep.Client(Fx).GetAsync($"/v1/delegations/{d.Id}").Ok();
        await dep.Client(Fx).SendAsync(new HttpRequestMessage(HttpMethod.Post, $"/v1/delegations/{d.Id}/end")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { lastDay = new DateOnly(2026, 6, 30), reason = "Tulle reprend le FSL" }),
            Headers = { { "If-Match", read.Headers.ETag!.ToString() } },
        }).Ok();
        await ccas.Client(Fx).PostJson($"/v1/conventions/{k}/signatures", new { signerName = "La vice-présidente", signedOn = "2026-06-02" }).Ok();
    }

    [Fact]
    public async Task Two_clients_racing_to_delegate_the_same_communes_never_both_succeed()
    {
        var dep = await DepartementParty("09");
        var a = await CcasParty("09122"); // Foix
        var b = await CcasParty("09225"); // Pamiers
        var territory = new { communeIds = new[] { a.Organisation.CommuneId, b.Organisation.CommuneId } };
        var ka = await SignedConvention([dep, a], ["ASLL"], territory, Jan2026, Dec2028);
        var kb = await SignedConvention([dep, b], ["ASLL"], territory, Jan2026, Dec2028);

        var attempts = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => i % 2 == 0
            ? dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, a, "ASLL", ka, territory, Jan2026, Dec2028))
            : dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, b, "ASLL", kb, territory, Jan2026, Dec2028))));
        var statuses = attempts.Select(r => r.StatusCode).ToList();
        Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.Created));
        Assert.All(attempts.Where(r => r.StatusCode != HttpStatusCode.Created), r => Assert.Equal(HttpStatusCode.Conflict, r.StatusCode));
        await using var c = await Fx.Db.OpenAsync(default);
        Assert.Equal(1, await c.ExecuteScalarAsync<long>(Fx.Db.Command("SELECT COUNT(*) FROM delegation WHERE delegator_id = @id AND competence_code = 'ASLL'", new { id = dep.Id }, default)));
    }

    [Fact]
    public async Task A_delegation_writes_its_audit_record_and_outbox_event_and_a_refused_one_writes_neither()
    {
        var dep = await DepartementParty("05");
        var ccas = await CcasParty("05061"); // Gap
        var gap = new { communeIds = new[] { ccas.Organisation.CommuneId } };
        var k = await SignedConvention([dep, ccas], ["ASE_PREVENTION"], gap, Jan2026, Dec2028);
        var d = await (await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, ccas, "ASE_PREVENTION", k, gap, Jan2026, Dec2028)).Ok(HttpStatusCode.Created)).Read<DelegationDto>();
        await (await dep.Client(Fx).PostJson("/v1/delegations", Delegation(dep, ccas, "ASE_PREVENTION", k, gap, Jan2026, Dec2028))).Problem(HttpStatusCode.Conflict, "delegations.overlap");

        await using var c = await Fx.Db.OpenAsync(default);
        var audits = (await c.QueryAsync<string>(Fx.Db.Command("SELECT action FROM audit_event WHERE resource_id = @id", new { id = d.Id }, default))).ToList();
        var events = (await c.QueryAsync<string>(Fx.Db.Command("SELECT event_type FROM outbox_event WHERE resource_id = @id", new { id = d.Id }, default))).ToList();
        Assert.Equal(["delegation.created"], audits);
        Assert.Equal(["delegation.created"], events);
        var count = await c.ExecuteScalarAsync<long>(Fx.Db.Command(
            "SELECT COUNT(*) FROM delegation WHERE delegator_id = @id AND competence_code = 'ASE_PREVENTION'", new { id = dep.Id }, default));
        Assert.Equal(1, count);
    }
}

[Collection(SqliteCollection.Name)] public sealed class DelegationTests_Sqlite(SqliteFixture f) : DelegationTests(f);
[Collection(PostgresCollection.Name)] public sealed class DelegationTests_Postgres(PostgresFixture f) : DelegationTests(f);
