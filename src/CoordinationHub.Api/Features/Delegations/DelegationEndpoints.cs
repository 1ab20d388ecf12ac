using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Http;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace CoordinationHub.Features.Delegations;

public static class DelegationEndpoints
{
    public static void MapDelegations(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/delegations").WithTags("Delegations");

        group.MapPost("", async Task<Created<DelegationDto>> (CreateDelegationCommand command, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var delegation = await sender.Send(command, ct);
                return http.CreatedWithETag($"/v1/delegations/{delegation.Id}", delegation, delegation.Version);
            })
            .WithName("CreateDelegation")
            .WithSummary("Delegate a competence on a territory for a period, under a convention")
            .WithDescription("Refused with 422 (rule named in `type`) when the delegator does not hold the competence on every commune at every date (by law, or by a delegation whose convention allows sub-delegation), or when the convention is not in force over the whole period, does not list both organisations as parties, or does not cover the competence and the territory; 409 `delegations.overlap` when a legal competence is already delegated by the same delegator on one of the communes over the period (`conflictingResource` names it). Honours `Idempotency-Key`.")
            .RequireAuthorization(Scopes.DelegationsWrite)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(409).ProducesProblem(422);

        group.MapGet("", async ([FromQuery] Guid? delegator, [FromQuery(Name = "delegate")] Guid? delegateId, [FromQuery] string? competence,
                [FromQuery] Guid? convention, [FromQuery] string? commune, [FromQuery] DateOnly? activeOn, [FromQuery] string? externalRef,
                [FromQuery] int? limit, [FromQuery] string? cursor, ISender sender, HttpRequest request, CancellationToken ct) =>
                TypedResults.Ok((await sender.Send(new SearchDelegationsQuery(delegator, delegateId, competence, convention, commune, activeOn, externalRef, limit, cursor), ct)).ToResponse(request)))
            .WithName("SearchDelegations")
            .WithSummary("Search delegations")
            .RequireAuthorization(Scopes.DelegationsRead)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403);

        group.MapGet("/{id:guid}", async (Guid id, [FromQuery] DateOnly? asOf, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var delegation = await sender.Send(new GetDelegationQuery(id, asOf), ct);
                return http.WithETag(delegation, delegation.Version);
            })
            .WithName("GetDelegation")
            .WithSummary("Get a delegation, as it is now or as it was recorded on a date")
            .RequireAuthorization(Scopes.DelegationsRead)
            .Produces<DelegationDto>(200).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapGet("/{id:guid}/versions", async (Guid id, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ListDelegationVersionsQuery(id), ct)))
            .WithName("ListDelegationVersions")
            .WithSummary("Every recorded version of a delegation")
            .RequireAuthorization(Scopes.DelegationsRead)
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapPut("/{id:guid}", async (Guid id, DelegationChanges changes, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var delegation = await sender.Send(new ChangeDelegationCommand(id, ETags.RequiredVersion(http.Request), changes), ct);
                return http.WithETag(delegation, delegation.Version);
            })
            .WithName("ChangeDelegation")
            .WithSummary("Change a delegation's period or territory (a new version; every rule is checked again)")
            .RequireAuthorization(Scopes.DelegationsWrite)
            .Produces<DelegationDto>(200)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).ProducesProblem(412).ProducesProblem(422).ProducesProblem(428);

        group.MapPost("/{id:guid}/end", async (Guid id, EndDelegationRequest request, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var delegation = await sender.Send(new EndDelegationCommand(id, ETags.RequiredVersion(http.Request), request), ct);
                return http.WithETag(delegation, delegation.Version);
            })
            .WithName("EndDelegation")
            .WithMetadata(new Platform.OpenApi.RequiresIfMatch())
            .WithSummary("End a delegation early (recorded as a new version)")
            .RequireAuthorization(Scopes.DelegationsWrite)
            .Produces<DelegationDto>(200)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(412).ProducesProblem(422).ProducesProblem(428);
    }
}
