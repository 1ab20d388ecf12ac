using System.Net;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Auth;

namespace CoordinationHub.Tests.Features.Directory;

public abstract class RegistrationTests(ApiFixture fx) : ApiTests(fx)
{
    [Fact]
    public async Task A_commune_registers_its_own_CCAS_which_takes_the_communes_departement()
    {
        var commune = await Commune("62041"); // Arras
        var key = await Fx.KeyFor(commune.Id, Scopes.DirectoryRead, Scopes.DirectoryWrite);
        var siret = NewSiret();
        var response = await Fx.Client(key).PostJson("/v1/organisations", new { kind = "CCAS", name = "CCAS d'Arras", communeId = commune.Id, siret, email = "ccas@arras.fr" }).Ok(HttpStatusCode.Created);

        var ccas = await response.Read<OrganisationDto>();
        Assert.Equal($"/v1/organisations/{ccas.Id}", response.Headers.Location?.ToString());
        Assert.NotNull(response.Headers.ETag);
        Assert.Equal(OrganisationKind.CCAS, ccas.Kind);
        Assert.Equal(commune.Id, ccas.CommuneId);
        Assert.Equal("62", ccas.DepartementCode);
        Assert.Equal(siret[..9], ccas.Siren);
        Assert.Equal(7, ccas.Id.Version);
    }

    [Fact]
    public async Task A_commune_cannot_register_the_CCAS_of_another_commune()
    {
        var arras = await Commune("62041");
        var lens = await Commune("62498");
        var key = await Fx.KeyFor(arras.Id, Scopes.DirectoryWrite);
        var response = await Fx.Client(key).PostJson("/v1/organisations", new { kind = "CCAS", name = "CCAS de Lens", communeId = lens.Id });
        await response.Problem(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task A_second_CCAS_for_the_same_commune_is_refused_with_409_naming_the_first()
    {
        var first = await RegisterCcas("80021"); // Amiens
        var commune = await Commune("80021");
        var response = await Fx.Admin().PostJson("/v1/organisations", new { kind = "CCAS", name = "Autre CCAS d'Amiens", communeId = commune.Id });
        var problem = await response.Problem(HttpStatusCode.Conflict, "directory.ccas-exists");
        Assert.Equal($"/v1/organisations/{first.Id}", problem.GetProperty("conflictingResource").GetString());
    }

    [Fact]
    public async Task An_EPCI_registers_its_CIAS_and_the_member_CCAS_remain()
    {
        var commune = await Commune("59350");
        var ccas = await RegisterCcas("59350");
        var epci = await (await Fx.Admin().GetAsync($"/v1/organisations/{commune.EpciId}").Ok()).Read<OrganisationDto>();
        var key = await Fx.KeyFor(epci.Id, Scopes.DirectoryWrite);
        var response = await Fx.Client(key).PostJson("/v1/organisations", new { kind = "CIAS", name = $"CIAS {epci.Name}", epciId = epci.Id });
        if (response.StatusCode != HttpStatusCode.Conflict) await Task.FromResult(response).Ok(HttpStatusCode.Created);
        Assert.True((await (await Fx.Admin().GetAsync($"/v1/organisations/{ccas.Id}").Ok()).Read<OrganisationDto>()).IsActive);
    }

    [Fact]
    public async Task Registration_checks_fields_and_names_each_invalid_one()
    {
        var response = await Fx.Admin().PostJson("/v1/organisations", new { kind = "CCAS", name = "", siret = "12345678901234", siren = "12345678", email = "not-an-email" });
        var problem = await response.Problem(HttpStatusCode.BadRequest, "validation");
        var errors = problem.GetProperty("errors");
        foreach (var field in new[] { "communeId", "name", "siret", "siren", "email" })
            Assert.True(errors.TryGetProperty(field, out _), $"errors should name {field}: {errors}");
    }

    [Theory]
    [InlineData("COMMUNE")]
    [InlineData("DEPARTEMENT")]
    [InlineData("EPCI")]
    public async Task Referential_kinds_cannot_be_registered_through_the_API(string kind)
    {
        var response = await Fx.Admin().PostJson("/v1/organisations", new { kind, name = "Nouvelle commune" });
        var problem = await response.Problem(HttpStatusCode.BadRequest, "validation");
        Assert.Contains("referential", problem.GetProperty("errors").GetProperty("kind")[0].GetString());
    }

    [Fact]
    public async Task A_SIRET_is_registered_once()
    {
        var siret = NewSiret();
        await Fx.Admin().PostJson("/v1/organisations", new { kind = "PARTNER", name = "CAF du Nord", partnerCategory = "CAF", departementCode = "59", siret }).Ok(HttpStatusCode.Created);
        var again = await Fx.Admin().PostJson("/v1/organisations", new { kind = "PARTNER", name = "CAF du Nord bis", partnerCategory = "CAF", siret });
        await again.Problem(HttpStatusCode.Conflict, "directory.siret-taken");
    }

    [Fact]
    public async Task A_CCAS_cannot_reuse_the_SIREN_of_its_commune()
    {
        var commune = await Commune("76540"); // Rouen
        var response = await Fx.Admin().PostJson("/v1/organisations", new { kind = "CCAS", name = "CCAS de Rouen", communeId = commune.Id, siren = commune.Siren });
        await response.Problem(HttpStatusCode.Conflict, "directory.siren-taken");
    }

    [Fact]
    public async Task Only_the_administrator_registers_partners()
    {
        var commune = await Commune("62041");
        var key = await Fx.KeyFor(commune.Id, Scopes.DirectoryWrite);
        var response = await Fx.Client(key).PostJson("/v1/organisations", new { kind = "PARTNER", name = "Association X", partnerCategory = "ASSOCIATION" });
        await response.Problem(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task A_CCAS_attached_to_something_that_is_not_a_commune_is_refused_with_422()
    {
        var departement = await Departement("59");
        var response = await Fx.Admin().PostJson("/v1/organisations", new { kind = "CCAS", name = "CCAS fantôme", communeId = departement.Id });
        await response.Problem(HttpStatusCode.UnprocessableEntity, "directory.commune-required");
        var unknown = await Fx.Admin().PostJson("/v1/organisations", new { kind = "CCAS", name = "CCAS fantôme", communeId = Guid.CreateVersion7() });
        await unknown.Problem(HttpStatusCode.UnprocessableEntity, "directory.commune-required");
    }

    [Fact]
    public async Task Updating_needs_the_current_ETag()
    {
        var ccas = await RegisterCcas("14118"); // Caen
        var url = $"/v1/organisations/{ccas.Id}";
        var read = await Fx.Admin().GetAsync(url).Ok();
        var etag = read.Headers.ETag!.ToString();
        var changes = new { name = "CCAS de la ville de Caen", email = "contact@ccas-caen.fr", isActive = true, siret = ccas.Siret };

        await (await Fx.Admin().PutJson(url, changes, ifMatch: null)).Problem(HttpStatusCode.PreconditionRequired, "precondition-required");
        await (await Fx.Admin().PutJson(url, changes, ifMatch: "\"999\"")).Problem(HttpStatusCode.PreconditionFailed, "precondition-failed");

        var updated = await Fx.Admin().PutJson(url, changes, etag).Ok();
        Assert.NotEqual(etag, updated.Headers.ETag!.ToString());
        Assert.Equal("CCAS de la ville de Caen", (await updated.Read<OrganisationDto>()).Name);

        // The first ETag is now stale: a second writer holding it loses.
        await (await Fx.Admin().PutJson(url, changes, etag)).Problem(HttpStatusCode.PreconditionFailed, "precondition-failed");
    }

    [Fact]
    public async Task Communes_are_read_only_through_the_API()
    {
        var commune = await Commune("62041");
        var read = await Fx.Admin().GetAsync($"/v1/organisations/{commune.Id}").Ok();
        var response = await Fx.Admin().PutJson($"/v1/organisations/{commune.Id}", new { name = "Arras-sur-Scarpe", isActive = true }, read.Headers.ETag!.ToString());
        await response.Problem(HttpStatusCode.Conflict, "directory.referential-read-only");
    }
}

[Collection(SqliteCollection.Name)] public sealed class RegistrationTests_Sqlite(SqliteFixture f) : RegistrationTests(f);
[Collection(PostgresCollection.Name)] public sealed class RegistrationTests_Postgres(PostgresFixture f) : RegistrationTests(f);
