using System.Net;
using CoordinationHub.Features.Conventions;
using CoordinationHub.Platform.Http;

namespace CoordinationHub.Tests.Features.Conventions;

public abstract class ConventionAccessTests(ApiFixture fx) : ConventionApiTests(fx)
{
    [Fact]
    public async Task A_draft_is_invisible_to_non_parties()
    {
        var (a, b, outsider) = (await NewParty(), await NewParty(), await NewParty("Tiers"));
        var draft = await Create(a, Body(a, b));
        await (await outsider.Client.GetAsync($"/v1/conventions/{draft.Id}")).Problem(HttpStatusCode.NotFound, "not-found");
        await (await outsider.Client.GetAsync($"/v1/conventions/{draft.Id}/history")).Problem(HttpStatusCode.NotFound, "not-found");
        await (await outsider.Client.PostJson($"/v1/conventions/{draft.Id}/signatures", new { signerName = "Intrus" })).Problem(HttpStatusCode.NotFound, "not-found");
        var page = await (await outsider.Client.GetAsync($"/v1/conventions?party={a.Id}").Ok()).Read<PageResponse<ConventionDto>>();
        Assert.Empty(page.Items);
        Assert.Equal(ConventionStatus.DRAFT, (await Get(b, draft.Id)).Status);
    }

    [Fact]
    public async Task A_non_party_reads_a_signed_convention_but_cannot_sign_amend_or_terminate_it()
    {
        var (a, b, outsider) = (await NewParty(), await NewParty(), await NewParty("Tiers"));
        var convention = await CreateSigned(a, b, Body(a, b, "2026-01-01", "2027-12-31"));
        var etag = await ETagOf(outsider, convention.Id);
        await (await outsider.Client.PostJson($"/v1/conventions/{convention.Id}/signatures", new { signerName = "Intrus" })).Problem(HttpStatusCode.Forbidden, "conventions.not-a-party");
        await (await PostIfMatch(outsider, $"/v1/conventions/{convention.Id}/amendments", new { effectiveOn = "2027-01-01", summary = "x" }, etag)).Problem(HttpStatusCode.Forbidden, "conventions.not-a-party");
        await (await PostIfMatch(outsider, $"/v1/conventions/{convention.Id}/termination", new { effectiveOn = "2027-06-01", reason = "x", agreedByAllParties = true }, etag)).Problem(HttpStatusCode.Forbidden, "conventions.not-a-party");
    }

    [Fact]
    public async Task The_administrator_cannot_sign_for_a_party_and_a_creator_must_be_a_party()
    {
        var (a, b, outsider) = (await NewParty(), await NewParty(), await NewParty("Tiers"));
        var draft = await Create(a, Body(a, b));
        await (await Fx.Admin().PostJson($"/v1/conventions/{draft.Id}/signatures", new { signerName = "Admin" })).Problem(HttpStatusCode.Forbidden, "conventions.not-a-party");
        await (await outsider.Client.PostJson("/v1/conventions", Body(a, b))).Problem(HttpStatusCode.Forbidden, "conventions.not-a-party");
        // The administrator drafts on behalf of the parties.
        await Fx.Admin().PostJson("/v1/conventions", Body(a, b)).Ok(HttpStatusCode.Created);
    }

    [Fact]
    public async Task Invalid_requests_are_400_naming_each_field()
    {
        var (a, b) = (await NewParty(), await NewParty());
        var body = Body(a, b, "2026-12-31", "2026-01-01");
        body["parties"] = new[] { new { organisationId = a.Id, role = "Seul" } };
        body["renewalMonths"] = 12;
        var problem = await (await a.Client.PostJson("/v1/conventions", body)).Problem(HttpStatusCode.BadRequest, "validation");
        var errors = problem.GetProperty("errors");
        foreach (var field in new[] { "parties", "endOn", "maxRenewals" })
            Assert.True(errors.TryGetProperty(field, out _), $"errors should name {field}: {errors}");

        var same = Body(a, b);
        same["parties"] = new[] { new { organisationId = a.Id, role = "Un" }, new { organisationId = a.Id, role = "Deux" } };
        await (await a.Client.PostJson("/v1/conventions", same)).Problem(HttpStatusCode.BadRequest, "validation");

        var wrongType = Body(a, b);
        wrongType["type"] = "MARRIAGE";
        var enumProblem = await (await a.Client.PostJson("/v1/conventions", wrongType)).Problem(HttpStatusCode.BadRequest, "malformed-json");
        Assert.Contains("PARTNERSHIP", enumProblem.GetProperty("detail").GetString());
        await (await a.Client.GetAsync("/v1/conventions?status=ALIVE")).Problem(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Unknown_competences_parties_and_territories_are_refused_with_422()
    {
        var (a, b) = (await NewParty(), await NewParty());
        var body = Body(a, b);
        body["competences"] = new[] { "TELEPORTATION" };
        await (await a.Client.PostJson("/v1/conventions", body)).Problem(HttpStatusCode.UnprocessableEntity, "conventions.unknown-competence");

        var ghost = Body(a, b);
        ghost["parties"] = new[] { new { organisationId = a.Id, role = "Un" }, new { organisationId = Guid.CreateVersion7(), role = "Fantôme" } };
        await (await a.Client.PostJson("/v1/conventions", ghost)).Problem(HttpStatusCode.UnprocessableEntity, "conventions.unknown-party");

        var nowhere = Body(a, b);
        nowhere["departementCodes"] = Array.Empty<string>();
        await (await a.Client.PostJson("/v1/conventions", nowhere)).Problem(HttpStatusCode.UnprocessableEntity, "conventions.territory-required");

        var notCommunes = Body(a, b, communes: [a.Id]);
        await (await a.Client.PostJson("/v1/conventions", notCommunes)).Problem(HttpStatusCode.UnprocessableEntity, "conventions.unknown-commune");

        var reference = Body(a, b);
        reference["reference"] = "TEST-" + Guid.NewGuid().ToString("N")[..10];
        await Create(a, reference);
        await (await a.Client.PostJson("/v1/conventions", reference)).Problem(HttpStatusCode.Conflict, "conventions.reference-taken");
    }
}

[Collection(SqliteCollection.Name)] public sealed class ConventionAccessTests_Sqlite(SqliteFixture f) : ConventionAccessTests(f);
[Collection(PostgresCollection.Name)] public sealed class ConventionAccessTests_Postgres(PostgresFixture f) : ConventionAccessTests(f);
