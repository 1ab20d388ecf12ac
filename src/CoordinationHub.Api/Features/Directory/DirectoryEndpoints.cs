using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Http;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace CoordinationHub.Features.Directory;

public static class DirectoryEndpoints
{
    public static void MapDirectory(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1").WithTags("Directory");

        group.MapGet("/organisations", async (
                [FromQuery] OrganisationKind? kind, [FromQuery] string? departement, [FromQuery] string? epci, [FromQuery] string? commune,
                [FromQuery] bool? active, [FromQuery] string? q, [FromQuery] int? limit, [FromQuery] string? cursor,
                ISender sender, HttpRequest request, CancellationToken ct) =>
            TypedResults.Ok((await sender.Send(new SearchOrganisationsQuery(kind, departement, epci, commune, active, q, limit, cursor), ct)).ToResponse(request)))
            .WithName("SearchOrganisations")
            .WithSummary("Search the directory of organisations")
            .WithDescription("Filters combine with AND. `q` matches names without regard to accents, case or punctuation (\"saint etienne\" finds \"Saint-Étienne\"). `epci` (SIREN) returns the EPCI's member communes, its CIAS and their CCAS; `commune` (INSEE code) returns the commune and its CCAS. Ordered by name; follow `next` for the following page.")
            .RequireAuthorization(Scopes.DirectoryRead)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403);

        group.MapGet("/organisations/{id:guid}", async (Guid id, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var organisation = await sender.Send(new GetOrganisationQuery(id), ct);
                return http.WithETag(organisation, organisation.Version);
            })
            .WithName("GetOrganisation")
            .WithSummary("Get one organisation")
            .RequireAuthorization(Scopes.DirectoryRead)
            .Produces<OrganisationDto>(200).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapPost("/organisations", async Task<Created<OrganisationDto>> (RegisterOrganisationCommand command, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var organisation = await sender.Send(command, ct);
                return http.CreatedWithETag($"/v1/organisations/{organisation.Id}", organisation, organisation.Version);
            })
            .WithName("RegisterOrganisation")
            .WithSummary("Register a CCAS, a CIAS or a partner")
            .WithDescription("A CCAS is attached to its commune (`communeId`), a CIAS to its EPCI (`epciId`); a partner has a `partnerCategory`. The platform administrator registers any of them; a commune's key registers its own CCAS, an EPCI's key its own CIAS. Honours `Idempotency-Key`.")
            .RequireAuthorization(Scopes.DirectoryWrite)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(409).ProducesProblem(422);

        group.MapPut("/organisations/{id:guid}", async (Guid id, OrganisationChanges changes, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var organisation = await sender.Send(new UpdateOrganisationCommand(id, ETags.RequiredVersion(http.Request), changes), ct);
                return http.WithETag(organisation, organisation.Version);
            })
            .WithName("UpdateOrganisation")
            .WithSummary("Update a registered CCAS, CIAS or partner")
            .WithDescription("Replaces the changeable fields. Send the ETag you read in `If-Match`: 428 without it, 412 if the organisation changed since. Départements, communes and EPCI come from the referential and cannot be changed here (409).")
            .RequireAuthorization(Scopes.DirectoryWrite)
            .Produces<OrganisationDto>(200)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).ProducesProblem(412).ProducesProblem(422).ProducesProblem(428);

        group.MapGet("/departements/{code}/territory", async (string code, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetDepartementTerritoryQuery(code.ToUpperInvariant()), ct)))
            .WithName("GetDepartementTerritory")
            .WithSummary("The territory of a département: its EPCI and current communes")
            .RequireAuthorization(Scopes.DirectoryRead)
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);
    }
}
