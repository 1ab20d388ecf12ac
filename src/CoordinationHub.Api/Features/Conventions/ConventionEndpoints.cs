using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Http;
using CoordinationHub.Platform.OpenApi;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace CoordinationHub.Features.Conventions;

public static class ConventionEndpoints
{
    public static void MapConventions(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1").WithTags("Conventions");

        group.MapPost("/conventions", async Task<Created<ConventionDto>> (CreateConventionCommand command, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var convention = await sender.Send(command, ct);
                return http.CreatedWithETag($"/v1/conventions/{convention.Id}", convention, convention.Version);
            })
            .WithName("CreateConvention")
            .WithSummary("Draft a convention between two or more organisations")
            .WithDescription("The convention is a DRAFT until every party signs it. The caller's organisation must be a party (the platform administrator may draft for others). The territory is the union of `communeIds` and of the active communes of `departementCodes` and `epciSirens`. `reference` is generated (`CONV-<year>-<8 hex>`) when absent. Honours `Idempotency-Key`.")
            .RequireAuthorization(Scopes.ConventionsWrite)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(409).ProducesProblem(422);

        group.MapGet("/conventions/{id:guid}", async (Guid id, [FromQuery] DateOnly? asOf, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var convention = await sender.Send(new GetConventionQuery(id, asOf), ct);
                return http.WithETag(convention, convention.Version);
            })
            .WithName("GetConvention")
            .WithSummary("Get a convention as it stood on a date")
            .WithDescription("`asOf` (default today) picks the terms then applicable (the latest amendment signed and effective) and the status on that day: DRAFT, SIGNED (not yet started), IN_FORCE, EXPIRED (after the end date and every renewal) or TERMINATED. A draft is visible to its parties only (404 to others).")
            .RequireAuthorization(Scopes.ConventionsRead)
            .Produces<ConventionDto>(200).ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapGet("/conventions", async (
                [FromQuery] Guid? party, [FromQuery] OrganisationKind? partyKind, [FromQuery] string? departement, [FromQuery] string? competence,
                [FromQuery] ConventionStatus? status, [FromQuery] DateOnly? statusOn, [FromQuery] string? commune,
                [FromQuery] int? limit, [FromQuery] string? cursor, ISender sender, HttpRequest request, CancellationToken ct) =>
            TypedResults.Ok((await sender.Send(new SearchConventionsQuery(party, partyKind, departement, competence, status, statusOn, commune, limit, cursor), ct)).ToResponse(request)))
            .WithName("SearchConventions")
            .WithSummary("Search conventions")
            .WithDescription("Filters combine with AND and apply on `statusOn` (default today): `status` is the status that day, `competence` and `commune` (INSEE code) match the terms applicable that day. `party` is an organisation id, `partyKind` the kind of any party, `departement` matches a party based in it or a covered commune. Drafts are listed to their parties only. Ordered by creation; follow `next` for the following page.")
            .RequireAuthorization(Scopes.ConventionsRead)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403);

        group.MapPost("/conventions/{id:guid}/signatures", async (Guid id, SignConventionCommand command, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var convention = await sender.Send(command with { Id = id }, ct);
                return http.WithETag(convention, convention.Version);
            })
            .WithName("SignConvention")
            .WithSummary("Sign the pending version for your organisation")
            .WithDescription("Signs the convention, or its latest amendment when one is pending, on behalf of the caller's organisation, which must be a party: nobody signs for another party, not even the platform administrator (403 `conventions.not-a-party`). A party signs a version once (409). When every party has signed, the version is SIGNED and applies from its effective date. Each signature is an audit event: `convention.signature-added` while parties are still to sign, then `convention.signed` (or `convention.amendment-signed`) with the last one.")
            .RequireAuthorization(Scopes.ConventionsWrite)
            .Produces<ConventionDto>(200)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422);

        group.MapPost("/conventions/{id:guid}/amendments", async Task<Created<ConventionVersionDto>> (Guid id, AmendConventionCommand command, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var amendment = await sender.Send(command with { Id = id, ExpectedVersion = ETags.RequiredVersion(http.Request) }, ct);
                return http.CreatedWithETag($"/v1/conventions/{id}/history", amendment, amendment.ConventionVersion);
            })
            .WithName("AmendConvention")
            .WithSummary("Propose an amendment (avenant)")
            .WithDescription("Creates amendment n+1 as a DRAFT: the current terms with the fields given changed (any of `communeIds`, `departementCodes`, `epciSirens` replaces the territory). It applies from `effectiveOn`, which must fall within the convention's period, once every party has signed it (POST …/signatures). Only on a signed convention, before or while in force; one pending amendment at a time (409). Send the convention's ETag in `If-Match`.")
            .RequireAuthorization(Scopes.ConventionsWrite)
            .WithMetadata(new RequiresIfMatch())
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).ProducesProblem(412).ProducesProblem(422).ProducesProblem(428);

        group.MapPost("/conventions/{id:guid}/termination", async (Guid id, TerminateConventionCommand command, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var convention = await sender.Send(command with { Id = id, ExpectedVersion = ETags.RequiredVersion(http.Request) }, ct);
                return http.WithETag(convention, convention.Version);
            })
            .WithName("TerminateConvention")
            .WithSummary("Terminate a convention early")
            .WithDescription("A party ends the convention from `effectiveOn` (its first day no longer in force); its delegations end the day before. Alone, a party gives the notice of the terms in force: `effectiveOn` ≥ today + `noticeDays` (422 `conventions.notice-period`); with `agreedByAllParties`, any date from today. Not on a draft (422), not twice (409). Send the convention's ETag in `If-Match`.")
            .RequireAuthorization(Scopes.ConventionsWrite)
            .WithMetadata(new RequiresIfMatch())
            .Produces<ConventionDto>(200)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).ProducesProblem(412).ProducesProblem(422).ProducesProblem(428);

        group.MapGet("/conventions/{id:guid}/history", async (Guid id, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var history = await sender.Send(new GetConventionHistoryQuery(id), ct);
                return http.WithETag(history, history.Version);
            })
            .WithName("GetConventionHistory")
            .WithSummary("Every version of a convention, with signatures and termination")
            .WithDescription("Version 0 is the convention as first signed, version n the n-th amendment, each with its effective date and signatures; plus the termination, if any. Amendments not yet signed by every party are shown to the parties only.")
            .RequireAuthorization(Scopes.ConventionsRead)
            .Produces<ConventionHistoryDto>(200).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);
    }
}
