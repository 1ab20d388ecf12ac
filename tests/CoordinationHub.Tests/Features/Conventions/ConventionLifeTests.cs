using System.Net;
using CoordinationHub.Features.Conventions;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Http;
using Dapper;

namespace CoordinationHub.Tests.Features.Conventions;

public abstract class ConventionLifeTests(ApiFixture fx) : ConventionApiTests(fx)
{
    [Fact]
    public async Task A_convention_goes_from_draft_to_signed_in_force_and_expired_as_dates_pass()
    {
        var (a, b) = (await NewParty("Département test"), await NewParty("CCAS test"));
        var response = await a.Client.PostJson("/v1/conventions", Body(a, b, "2026-01-01", "2026-12-31")).Ok(HttpStatusCode.Created);
        var draft = await response.Read<ConventionDto>();
        Assert.Equal($"/v1/conventions/{draft.Id}", response.Headers.Location?.ToString());
        Assert.NotNull(response.Headers.ETag);
        Assert.Equal(ConventionStatus.DRAFT, draft.Status);
        Assert.StartsWith("CONV-", draft.Reference);
        Assert.Equal(["RSA_INSTRUCTION"], draft.Competences);

        var half = await Sign(a, draft.Id);
        Assert.Equal(ConventionStatus.DRAFT, half.RecordedStatus);
        Assert.Equal(new DateOnly(2025, 12, 15), half.Parties.Single(p => p.OrganisationId == a.Id).SignedOn);
        await (await a.Client.PostJson($"/v1/conventions/{draft.Id}/signatures", new { signerName = "Encore", signedOn = "2025-12-16" }))
            .Problem(HttpStatusCode.Conflict, "conventions.already-signed");

        var signed = await Sign(b, draft.Id);
        Assert.Equal(ConventionStatus.SIGNED, signed.RecordedStatus);
        Assert.Equal(ConventionStatus.SIGNED, (await Get(a, draft.Id, "2025-12-31")).Status);
        Assert.Equal(ConventionStatus.IN_FORCE, (await Get(a, draft.Id, "2026-01-01")).Status);
        Assert.Equal(ConventionStatus.IN_FORCE, (await Get(a, draft.Id, "2026-12-31")).Status);
        Assert.Equal(ConventionStatus.EXPIRED, (await Get(a, draft.Id, "2027-01-01")).Status);

        foreach (var (status, on, expected) in new[] { ("IN_FORCE", "2026-06-01", true), ("EXPIRED", "2026-06-01", false), ("EXPIRED", "2027-02-01", true), ("SIGNED", "2025-12-20", true) })
        {
            var page = await (await a.Client.GetAsync($"/v1/conventions?party={a.Id}&status={status}&statusOn={on}").Ok()).Read<PageResponse<ConventionDto>>();
            Assert.True(expected == page.Items.Any(x => x.Id == draft.Id), $"status={status} on {on} should {(expected ? "" : "not ")}list the convention");
        }
        await (await b.Client.PostJson($"/v1/conventions/{draft.Id}/signatures", new { signerName = "Encore" })).Problem(HttpStatusCode.Conflict, "conventions.nothing-to-sign");
    }

    [Fact]
    public async Task Tacit_renewals_extend_the_last_day()
    {
        var (a, b) = (await NewParty(), await NewParty());
        var body = Body(a, b, "2026-01-01", "2026-12-31");
        body["renewalMonths"] = 12;
        body["maxRenewals"] = 2;
        var convention = await CreateSigned(a, b, body);
        Assert.Equal(new DateOnly(2028, 12, 31), convention.LastDay);
        Assert.Equal(ConventionStatus.IN_FORCE, (await Get(a, convention.Id, "2028-12-31")).Status);
        Assert.Equal(ConventionStatus.EXPIRED, (await Get(a, convention.Id, "2029-01-01")).Status);
    }

    [Fact]
    public async Task Amendments_are_numbered_signed_by_all_and_change_the_terms_from_their_date()
    {
        var (a, b) = (await NewParty(), await NewParty());
        var convention = await CreateSigned(a, b, Body(a, b, "2026-01-01", "2027-12-31"));
        var url = $"/v1/conventions/{convention.Id}/amendments";
        var amendment = new { effectiveOn = "2027-01-01", summary = "Prolongation d'un an et nouvel objet", @object = "Objet modifié", endOn = "2028-12-31", competences = new[] { "RSA_INSTRUCTION", "FSL" } };

        await (await PostIfMatch(a, url, amendment, null)).Problem(HttpStatusCode.PreconditionRequired, "precondition-required");
        await (await PostIfMatch(a, url, amendment, "\"999\"")).Problem(HttpStatusCode.PreconditionFailed, "precondition-failed");
        var created = await PostIfMatch(a, url, amendment, await ETagOf(a, convention.Id)).Ok(HttpStatusCode.Created);
        var first = await created.Read<ConventionVersionDto>();
        Assert.Equal(1, first.AmendmentNo);
        Assert.Equal(VersionStatus.DRAFT, first.Status);
        await (await PostIfMatch(a, url, amendment, created.Headers.ETag!.ToString())).Problem(HttpStatusCode.Conflict, "conventions.amendment-pending");

        // Not applicable until every party signed it.
        Assert.Equal(0, (await Get(a, convention.Id, "2027-06-01")).AmendmentNo);
        await Sign(a, convention.Id, "2026-02-01");
        await Sign(b, convention.Id, "2026-02-02");

        var before = await Get(a, convention.Id, "2026-12-31");
        var after = await Get(a, convention.Id, "2027-01-01");
        Assert.Equal((0, "Instruction des demandes de RSA pour le compte du Département.", new DateOnly(2027, 12, 31)), (before.AmendmentNo, before.Object, before.EndOn));
        Assert.Equal((1, "Objet modifié", new DateOnly(2028, 12, 31)), (after.AmendmentNo, after.Object, after.EndOn));
        Assert.Equal(["FSL", "RSA_INSTRUCTION"], after.Competences);
        Assert.Equal(before.CommuneIds.Count, after.CommuneIds.Count); // territory kept when not given
        Assert.Equal(ConventionStatus.IN_FORCE, (await Get(a, convention.Id, "2028-06-01")).Status);

        var second = await (await PostIfMatch(b, url, new { effectiveOn = "2028-01-01", summary = "Préavis réduit", noticeDays = 30 }, await ETagOf(b, convention.Id)).Ok(HttpStatusCode.Created)).Read<ConventionVersionDto>();
        Assert.Equal(2, second.AmendmentNo);

        var history = await (await a.Client.GetAsync($"/v1/conventions/{convention.Id}/history").Ok()).Read<ConventionHistoryDto>();
        Assert.Equal([0, 1, 2], history.Versions.Select(v => v.AmendmentNo));
        Assert.Equal([VersionStatus.SIGNED, VersionStatus.SIGNED, VersionStatus.DRAFT], history.Versions.Select(v => v.Status));
        Assert.Equal(2, history.Versions[1].Signatures.Count);
        Assert.Equal(new DateOnly(2027, 1, 1), history.Versions[1].EffectiveOn);

        // A pending amendment is the parties' business.
        var outsider = await NewParty("Tiers");
        var seen = await (await outsider.Client.GetAsync($"/v1/conventions/{convention.Id}/history").Ok()).Read<ConventionHistoryDto>();
        Assert.Equal([0, 1], seen.Versions.Select(v => v.AmendmentNo));
        Assert.Null((await Get(outsider, convention.Id)).PendingAmendmentNo);
    }

    [Fact]
    public async Task Amendments_need_a_signed_convention_and_an_effective_date_within_its_period()
    {
        var (a, b) = (await NewParty(), await NewParty());
        var draft = await Create(a, Body(a, b, "2026-01-01", "2026-12-31"));
        await (await PostIfMatch(a, $"/v1/conventions/{draft.Id}/amendments", new { effectiveOn = "2026-06-01", summary = "x" }, await ETagOf(a, draft.Id)))
            .Problem(HttpStatusCode.Conflict, "conventions.not-amendable");

        var signed = await CreateSigned(a, b, Body(a, b, "2026-01-01", "2027-12-31"));
        await (await PostIfMatch(a, $"/v1/conventions/{signed.Id}/amendments", new { effectiveOn = "2028-06-01", summary = "x" }, await ETagOf(a, signed.Id)))
            .Problem(HttpStatusCode.UnprocessableEntity, "conventions.effective-outside-period");
        await (await PostIfMatch(a, $"/v1/conventions/{signed.Id}/amendments", new { effectiveOn = "2027-01-01", summary = "x", competences = new[] { "NOT_A_COMPETENCE" } }, await ETagOf(a, signed.Id)))
            .Problem(HttpStatusCode.UnprocessableEntity, "conventions.unknown-competence");
    }

    [Fact]
    public async Task Termination_by_one_party_respects_the_notice_period_and_by_agreement_any_date_from_today()
    {
        var (a, b) = (await NewParty(), await NewParty());
        var convention = await CreateSigned(a, b, Body(a, b, "2026-01-01", "2027-12-31", noticeDays: 90));
        var url = $"/v1/conventions/{convention.Id}/termination";
        Fx.Clock.Set(new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero));
        try
        {
            var early = new { effectiveOn = "2026-04-01", reason = "Réorganisation", agreedByAllParties = false };
            await (await PostIfMatch(a, url, early, null)).Problem(HttpStatusCode.PreconditionRequired, "precondition-required");
            await (await PostIfMatch(a, url, early, "\"999\"")).Problem(HttpStatusCode.PreconditionFailed, "precondition-failed");
            var etag = await ETagOf(a, convention.Id);
            await (await PostIfMatch(a, url, early, etag)).Problem(HttpStatusCode.UnprocessableEntity, "conventions.notice-period");
            await (await PostIfMatch(a, url, new { effectiveOn = "2026-02-01", reason = "x", agreedByAllParties = true }, etag)).Problem(HttpStatusCode.UnprocessableEntity, "conventions.termination-in-past");
            await (await PostIfMatch(a, url, new { effectiveOn = "2026-04-01", reason = "", agreedByAllParties = true }, etag)).Problem(HttpStatusCode.BadRequest, "validation");

            var terminated = await (await PostIfMatch(a, url, early with { agreedByAllParties = true }, etag).Ok()).Read<ConventionDto>();
            Assert.Equal(ConventionStatus.TERMINATED, terminated.RecordedStatus);
            Assert.Equal(ConventionStatus.IN_FORCE, terminated.Status); // still in force today
            Assert.Equal(new DateOnly(2026, 4, 1), terminated.TerminatedOn);
            Assert.Equal(new DateOnly(2026, 3, 31), terminated.LastDay);
            Assert.Equal(ConventionStatus.TERMINATED, (await Get(b, convention.Id, "2026-04-01")).Status);
            Assert.Equal(ConventionStatus.IN_FORCE, (await Get(b, convention.Id, "2026-03-31")).Status);

            await (await PostIfMatch(b, url, early, await ETagOf(b, convention.Id))).Problem(HttpStatusCode.Conflict, "conventions.already-terminated");
            var history = await (await a.Client.GetAsync($"/v1/conventions/{convention.Id}/history").Ok()).Read<ConventionHistoryDto>();
            Assert.Equal("Réorganisation", history.Termination?.Reason);
            Assert.Equal(a.Id, history.Termination?.TerminatedBy);

            // With the notice given, one party alone may end it.
            var other = await CreateSigned(a, b, Body(a, b, "2026-01-01", "2027-12-31", noticeDays: 90));
            var alone = await (await PostIfMatch(b, $"/v1/conventions/{other.Id}/termination", new { effectiveOn = "2026-05-30", reason = "Fin", agreedByAllParties = false }, await ETagOf(b, other.Id)).Ok()).Read<ConventionDto>();
            Assert.Equal(new DateOnly(2026, 5, 30), alone.TerminatedOn);

            var draft = await Create(a, Body(a, b));
            await (await PostIfMatch(a, $"/v1/conventions/{draft.Id}/termination", early with { agreedByAllParties = true }, await ETagOf(a, draft.Id)))
                .Problem(HttpStatusCode.UnprocessableEntity, "conventions.not-signed");
        }
        finally
        {
            Fx.Clock.Reset();
        }
    }

    [Fact]
    public async Task A_whole_departement_is_expanded_to_its_active_communes()
    {
        var (a, b) = (await NewParty(), await NewParty());
        var body = Body(a, b);
        body["departementCodes"] = new[] { "59" };
        body["epciSirens"] = new[] { "200093201" }; // the MEL, inside the Nord: no duplicates
        var convention = await Create(a, body);
        await using var c = await Fx.Db.OpenAsync(default);
        var active = await c.QuerySingleAsync<long>(Fx.Db.Command("SELECT COUNT(*) FROM organisation WHERE kind = 'COMMUNE' AND departement_code = @d AND is_active = @active", new { d = "59", active = true }, default));
        Assert.True(active > 600);
        Assert.Equal(active, convention.CommuneIds.Count);
        Assert.Equal(convention.CommuneIds.Count, convention.CommuneIds.Distinct().Count());
    }

    [Fact]
    public async Task A_failure_after_the_change_leaves_neither_the_change_nor_audit_nor_outbox_rows()
    {
        var (a, b) = (await NewParty(), await NewParty());
        var convention = await CreateSigned(a, b, Body(a, b, "2026-01-01", "2027-12-31"));
        var trigger = "test_fail_outbox_" + convention.Id.ToString("N")[..12];
        // A real failure in the last statement of the transaction: the outbox insert is refused by the database itself.
        var create = Fx.Provider == DatabaseProvider.Sqlite
            ? [$"CREATE TRIGGER {trigger} BEFORE INSERT ON outbox_event WHEN NEW.resource_id = '{convention.Id}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END"]
            : new[]
            {
                $"CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
                $"CREATE TRIGGER {trigger} BEFORE INSERT ON outbox_event FOR EACH ROW WHEN (NEW.resource_id = '{convention.Id}') EXECUTE FUNCTION {trigger}()",
            };
        await using var c = await Fx.Db.OpenAsync(default);
        foreach (var sql in create) await c.ExecuteAsync(sql);
        Fx.Clock.Set(new DateTimeOffset(2026, 6, 1, 8, 0, 0, TimeSpan.Zero));
        try
        {
            var etag = await ETagOf(a, convention.Id);
            var response = await PostIfMatch(a, $"/v1/conventions/{convention.Id}/termination", new { effectiveOn = "2026-06-01", reason = "Accord", agreedByAllParties = true }, etag);
            await response.Problem(HttpStatusCode.InternalServerError, "internal");

            var after = await a.Client.GetAsync($"/v1/conventions/{convention.Id}").Ok();
            Assert.Equal(etag, after.Headers.ETag!.ToString());
            Assert.Equal(ConventionStatus.SIGNED, (await after.Read<ConventionDto>()).RecordedStatus);
            var audit = await c.QuerySingleAsync<long>(Fx.Db.Command("SELECT COUNT(*) FROM audit_event WHERE resource_id = @id AND action = 'convention.terminated'", new { id = convention.Id }, default));
            var outbox = await c.QuerySingleAsync<long>(Fx.Db.Command("SELECT COUNT(*) FROM outbox_event WHERE resource_id = @id AND event_type = 'convention.terminated'", new { id = convention.Id }, default));
            Assert.Equal((0L, 0L), (audit, outbox));
        }
        finally
        {
            Fx.Clock.Reset();
            if (Fx.Provider == DatabaseProvider.Sqlite) await c.ExecuteAsync($"DROP TRIGGER {trigger}");
            else { await c.ExecuteAsync($"DROP TRIGGER {trigger} ON outbox_event"); await c.ExecuteAsync($"DROP FUNCTION {trigger}()"); }
        }
        // Without the failure the same request goes through, with its audit and outbox rows.
        Fx.Clock.Set(new DateTimeOffset(2026, 6, 1, 8, 0, 0, TimeSpan.Zero));
        try { await PostIfMatch(a, $"/v1/conventions/{convention.Id}/termination", new { effectiveOn = "2026-06-01", reason = "Accord", agreedByAllParties = true }, await ETagOf(a, convention.Id)).Ok(); }
        finally { Fx.Clock.Reset(); }
        var events = await c.QuerySingleAsync<long>(Fx.Db.Command("SELECT COUNT(*) FROM outbox_event WHERE resource_id = @id AND event_type = 'convention.terminated'", new { id = convention.Id }, default));
        Assert.Equal(1L, events);
    }
}

[Collection(SqliteCollection.Name)] public sealed class ConventionLifeTests_Sqlite(SqliteFixture f) : ConventionLifeTests(f);
[Collection(PostgresCollection.Name)] public sealed class ConventionLifeTests_Postgres(PostgresFixture f) : ConventionLifeTests(f);
