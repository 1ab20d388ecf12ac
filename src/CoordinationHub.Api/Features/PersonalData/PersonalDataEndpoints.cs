using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Http;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace CoordinationHub.Features.PersonalData;

/// <summary>Endpoint metadata: the answer may carry a person's data, so the read is logged (X-Agent, X-Purpose, 503).</summary>
public sealed class ServesPersonalData;

public static class PersonalDataEndpoints
{
    public static RouteHandlerBuilder ServesPersonalData(this RouteHandlerBuilder builder) =>
        builder.WithMetadata(new ServesPersonalData()).ProducesProblem(503);

    public static void MapPersonalData(this IEndpointRouteBuilder app)
    {
        var referrals = app.MapGroup("/v1/referrals").WithTags("Personal data");

        referrals.MapGet("/{id:guid}/access-log", async (Guid id, [FromQuery] int? limit, [FromQuery] string? cursor, ISender sender,
                HttpRequest request, CancellationToken ct) =>
                TypedResults.Ok((await sender.Send(new ListReferralAccessLogQuery(id, limit, cursor), ct)).ToResponse(request)))
            .WithName("ListReferralAccessLog")
            .WithSummary("Who read the person's data of this referral: organisation, key, agent, time, operation, purpose")
            .RequireAuthorization(Scopes.ReferralsRead)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        referrals.MapGet("/{id:guid}/dossier", async (Guid id, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetReferralDossierQuery(id), ct)))
            .WithName("GetReferralDossier")
            .WithSummary("Everything held on the referral for the person (right of access): data and versions, history, thread, reads, requests")
            .WithDescription("For the sender and the current receiver, to hand over to the person. The read is logged.")
            .RequireAuthorization(Scopes.ReferralsRead)
            .ServesPersonalData()
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        referrals.MapPut("/{id:guid}/person", async (Guid id, RectifyReferralPersonCommand command, ISender sender, HttpContext http,
                CancellationToken ct) =>
            {
                command.Id = id;
                command.ExpectedVersion = ETags.RequiredVersion(http.Request);
                var referral = await sender.Send(command, ct);
                return http.WithETag(referral, referral.Version);
            })
            .WithName("RectifyReferralPerson")
            .WithSummary("Correct the person's data (sender; right to rectification): a new version, the changed fields named in the thread")
            .WithDescription("If-Match is required. 422 `referrals.commune-unchanged` when the commune differs (it routed the referral), "
                + "`referrals.nothing-to-rectify` when nothing differs; 409 once the data was purged.")
            .Produces<Referrals.ReferralDto>(200)
            .RequireAuthorization(Scopes.ReferralsWrite)
            .ServesPersonalData()
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).ProducesProblem(412)
            .ProducesProblem(422).ProducesProblem(428);

        referrals.MapGet("/{id:guid}/person/versions", async (Guid id, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ListReferralPersonVersionsQuery(id), ct)))
            .WithName("ListReferralPersonVersions")
            .WithSummary("Every version of the person's data, each with the fields it changed")
            .RequireAuthorization(Scopes.ReferralsRead)
            .ServesPersonalData()
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        referrals.MapPost("/{id:guid}/person/requests", async Task<Created<PersonRequestDto>> (Guid id, RecordPersonRequestCommand command,
                ISender sender, CancellationToken ct) =>
            {
                var request = await sender.Send(command with { Id = id }, ct);
                return TypedResults.Created($"/v1/referrals/{id}/dossier", request);
            })
            .WithName("RecordPersonRequest")
            .WithSummary("Record the person's erasure or objection request, received by the sender or the current receiver, and answer it")
            .WithDescription("On consent: consent withdrawn (before acceptance the referral is withdrawn) and the person's data purged now "
                + "(`ERASED`). On a statutory basis: recorded and refused with its legal reference (`REFUSED_STATUTORY`); the data is "
                + "purged at the end of the retention period.")
            .RequireAuthorization(Scopes.ReferralsWrite)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        app.MapGet("/v1/access-log", async ([FromQuery] DateOnly from, [FromQuery] DateOnly to, [FromQuery] int? limit,
                [FromQuery] string? cursor, ISender sender, HttpRequest request, CancellationToken ct) =>
                TypedResults.Ok((await sender.Send(new ExportPersonAccessLogQuery(from, to, limit, cursor), ct))
                    .ToResponse(request)))
            .WithTags("Personal data")
            .WithName("ExportPersonAccessLog")
            .WithSummary("Every read of personal data in a period, platform-wide, oldest first (for the data protection officer)")
            .RequireAuthorization(Scopes.PlatformAdmin)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403);
    }
}
