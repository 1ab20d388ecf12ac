using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Http;
using Mediator;
using Microsoft.AspNetCore.Mvc;

namespace CoordinationHub.Features.Audit;

public static class AuditEndpoints
{
    public static void MapAudit(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1").WithTags("Audit");

        group.MapGet("/audit-events", async (
                [FromQuery] AuditResourceType resourceType, [FromQuery] Guid resourceId, [FromQuery] int? limit, [FromQuery] string? cursor,
                ISender sender, HttpRequest request, CancellationToken ct) =>
            TypedResults.Ok((await sender.Send(new ListAuditEventsQuery(resourceType, resourceId, limit, cursor), ct)).ToResponse(request)))
            .WithName("ListAuditEvents")
            .WithSummary("The audit trail of a convention or a delegation")
            .WithDescription("Every change, oldest first: when, by which organisation and API key, the action (the event type, e.g. `convention.signed`), and the state before and after. Readable by the parties of the convention (for a delegation, of its convention); 404 to anyone else.")
            .RequireAuthorization(Scopes.ConventionsRead)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);
    }
}
