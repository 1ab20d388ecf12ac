using CoordinationHub.Features.PersonalData;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Http;
using CoordinationHub.Platform.OpenApi;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace CoordinationHub.Features.Referrals;

public static class ReferralEndpoints
{
    private const string Categories =
        "Need categories and the competence that routes each: FOOD → AIDE_ALIMENTAIRE, ENERGY → FSL, HOUSING → FSL, "
        + "INCOME → RSA_INSTRUCTION, AUTONOMY → APA_EVALUATION, DISABILITY → PCH_INSTRUCTION, CHILD_PROTECTION → ASE_PREVENTION, "
        + "EMPLOYMENT → RSA_ACCOMPAGNEMENT, HEALTH → AIDE_SOCIALE_LEGALE_INSTRUCTION, MOBILITY → TRANSPORT_SOLIDAIRE, "
        + "ADMINISTRATIVE → DOMICILIATION, OTHER → AIDE_URGENCE. Statutory bases: RSA_ORIENTATION (CASF L262-29 ; L262-40), "
        + "CHILD_PROTECTION_INFORMATION (CASF L226-2-1 ; L226-2-2), APA_REQUEST (CASF L232-13), DOMICILIATION (CASF L264-1), "
        + "LEGAL_AID_FILING (CASF L123-5 ; R123-5), VULNERABLE_PERSONS_REGISTER (CASF L121-6-1), SHARED_SOCIAL_SECRECY (CASF L121-6-2).";

    public static void MapReferrals(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/referrals").WithTags("Referrals");

        group.MapPost("", async Task<Created<ReferralDto>> (CreateReferralCommand command, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var referral = await sender.Send(command, ct);
                return http.CreatedWithETag($"/v1/referrals/{referral.Id}", referral, referral.Version);
            })
            .WithName("CreateReferral")
            .WithSummary("Refer a person to the organisation responsible for a need (named, or resolved through the competence map)")
            .WithDescription("422 `referrals.nir-refused` when any text carries a NIR; `referrals.receiver-paused` (with `nextReceiver`) when "
                + "the receiver paused intake for the need; `referrals.consent-expired|consent-out-of-scope`; 409 `referrals.duplicate` "
                + "(`conflictingResource`) when an open referral for the same person, need and receiver exists, unless `force` with a "
                + "`forceReason`. The deadline comes from the convention between sender and receiver that sets one for the competence, "
                + "else from the urgency. " + Categories + " Honours `Idempotency-Key`.")
            .RequireAuthorization(Scopes.ReferralsWrite)
            .ServesPersonalData()
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(409).ProducesProblem(422);

        group.MapGet("/routing", async ([FromQuery] string? commune, [FromQuery] string? need, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetReferralRoutingQuery(commune ?? "", need ?? ""), ct)))
            .WithName("GetReferralRouting")
            .WithSummary("Who would receive a referral for this need in this commune today, its intake and its response delay")
            .WithDescription(Categories)
            .RequireAuthorization(Scopes.ReferralsRead)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(422);

        foreach (var box in Enum.GetValues<ReferralBox>())
        {
            var name = box == ReferralBox.SENT ? "Sent" : "Received";
            group.MapGet($"/{name.ToLowerInvariant()}", async ([FromQuery] ReferralStatus? status, [FromQuery] string? need,
                    [FromQuery] Urgency? urgency, [FromQuery] bool? overdue, [FromQuery] DateOnly? sentFrom, [FromQuery] DateOnly? sentTo,
                    [FromQuery] string? commune, [FromQuery] string? assignedAgent, [FromQuery] string? familyName, [FromQuery] string? givenNames,
                    [FromQuery] DateOnly? birthDate, [FromQuery] int? limit, [FromQuery] string? cursor, ISender sender, HttpRequest request,
                    CancellationToken ct) =>
                    TypedResults.Ok((await sender.Send(new ListReferralsQuery(box, status, need, urgency, overdue, sentFrom, sentTo, commune,
                        assignedAgent, familyName, givenNames, birthDate, limit, cursor), ct)).ToResponse(request)))
                .WithName($"List{name}Referrals")
                .WithSummary($"The referrals your organisation {name.ToLowerInvariant()}, newest first, with filters")
                .WithDescription("Each line names the person (logged as a read of personal data, with X-Agent and X-Purpose). "
                    + "familyName, givenNames and birthDate together find one person's referrals (matched on a keyed hash, never on plaintext).")
                .RequireAuthorization(Scopes.ReferralsRead)
                .ServesPersonalData()
                .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(422);
        }

        group.MapGet("/counts", async ([FromQuery] ReferralBox? box, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new CountReferralsQuery(box ?? ReferralBox.RECEIVED), ct)))
            .WithName("CountReferrals")
            .WithSummary("How many referrals of a box are in each status, and how many are overdue")
            .RequireAuthorization(Scopes.ReferralsRead)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403);

        group.MapPut("/intake/{competence}", async (string competence, SetReferralIntakeCommand command, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(command with { Competence = competence }, ct)))
            .WithName("SetReferralIntake")
            .WithSummary("Pause or resume your intake for a facultative competence, or publish your expected response delay")
            .WithDescription("Replaces your intake setting for the competence whole: no If-Match, the last write wins.")
            .WithMetadata(new LastWriteWins())
            .RequireAuthorization(Scopes.ReferralsWrite)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(422);

        group.MapGet("/{id:guid}", async (Guid id, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var referral = await sender.Send(new GetReferralQuery(id), ct);
                return http.WithETag(referral, referral.Version);
            })
            .WithName("GetReferral")
            .WithSummary("Read a referral (the receiver's first read records it as RECEIVED)")
            .WithDescription("Only the sender, the current receiver and earlier receivers read a referral; anyone else gets 404. An earlier "
                + "receiver sees it as TRANSFERRED, without the person.")
            .RequireAuthorization(Scopes.ReferralsRead)
            .ServesPersonalData()
            .Produces<ReferralDto>(200).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapPost("/{id:guid}/receipt", async (Guid id, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var referral = await sender.Send(new ReceiveReferralCommand { Id = id, ExpectedVersion = ETags.RequiredVersion(http.Request) }, ct);
                return http.WithETag(referral, referral.Version);
            })
            .WithName("ReceiveReferral")
            .WithSummary("Acknowledge a referral (SENT → RECEIVED)")
            .Transition();

        Act<RequestReferralInformationCommand>(group, "information-requests", "RequestReferralInformation",
            "Ask the sender a question (NEEDS_INFO; the deadline clock stops)");
        Act<AnswerReferralInformationCommand>(group, "information-answers", "AnswerReferralInformation",
            "Answer the receiver's question (back to RECEIVED; the deadline moves by the time waited)");
        Act<AcceptReferralCommand>(group, "acceptance", "AcceptReferral", "Accept a referral, optionally naming the assigned agent");
        Act<DeclineReferralCommand>(group, "decline", "DeclineReferral", "Decline a referral with a reason, optionally suggesting a receiver");
        Act<StartReferralCommand>(group, "start", "StartReferral", "Start working with the person (ACCEPTED → IN_PROGRESS)");
        Act<CompleteReferralCommand>(group, "completion", "CompleteReferral", "Close the loop with an outcome (IN_PROGRESS → COMPLETED)");
        Act<CloseReferralWithoutOutcomeCommand>(group, "closure", "CloseReferralWithoutOutcome",
            "Close without outcome (the person did not come…)");
        Act<CancelReferralCommand>(group, "cancellation", "CancelReferral", "Cancel a referral before it is accepted (sender)");
        Act<TransferReferralCommand>(group, "transfer", "TransferReferral",
            "Transfer the referral to another organisation (receiver); you keep only that you transferred it");
        Act<WithdrawReferralConsentCommand>(group, "consent/revocation", "WithdrawReferralConsent",
            "Record that the person withdrew consent: withdrawn before acceptance, no transfer or re-orientation after");

        group.MapPost("/{id:guid}/reorientation", async Task<Created<ReferralDto>> (Guid id, ReorientReferralCommand command, ISender sender,
                HttpContext http, CancellationToken ct) =>
            {
                command.Id = id;
                command.ExpectedVersion = ETags.RequiredVersion(http.Request);
                var referral = await sender.Send(command, ct);
                return http.CreatedWithETag($"/v1/referrals/{referral.Id}", referral, referral.Version);
            })
            .WithName("ReorientReferral")
            .WithSummary("After a decline, send a new referral linked to it (to the suggested receiver or another), thread carried over")
            .Transition(created: true);

        group.MapPut("/{id:guid}/assigned-agent", async (Guid id, AssignReferralAgentCommand command, ISender sender, HttpContext http,
                CancellationToken ct) =>
            {
                command.Id = id;
                command.ExpectedVersion = ETags.RequiredVersion(http.Request);
                var referral = await sender.Send(command, ct);
                return http.WithETag(referral, referral.Version);
            })
            .WithName("AssignReferralAgent")
            .WithSummary("Name or change the agent in charge of the referral inside the receiver")
            .Transition();

        group.MapGet("/{id:guid}/assignments", async (Guid id, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ListReferralAssignmentsQuery(id), ct)))
            .WithName("ListReferralAssignments")
            .WithSummary("Every agent assigned to the referral, in order")
            .RequireAuthorization(Scopes.ReferralsRead)
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapGet("/{id:guid}/messages", async (Guid id, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ListReferralMessagesQuery(id), ct)))
            .WithName("ListReferralMessages")
            .WithSummary("The referral's thread in order: messages and the texts of each transition")
            .RequireAuthorization(Scopes.ReferralsRead)
            .ServesPersonalData()
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapPost("/{id:guid}/messages", async Task<Created<ThreadMessage>> (Guid id, PostReferralMessageCommand command, ISender sender,
                CancellationToken ct) =>
            {
                var message = await sender.Send(command with { Id = id }, ct);
                return TypedResults.Created($"/v1/referrals/{id}/messages", message);
            })
            .WithName("PostReferralMessage")
            .WithSummary("Post a message in the referral's thread (sender or current receiver)")
            .RequireAuthorization(Scopes.ReferralsWrite)
            .ServesPersonalData()
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422);
    }

    private static void Act<T>(RouteGroupBuilder group, string path, string name, string summary) where T : ReferralCommand =>
        group.MapPost($"/{{id:guid}}/{path}", async (Guid id, T command, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                command.Id = id;
                command.ExpectedVersion = ETags.RequiredVersion(http.Request);
                var referral = await sender.Send(command, ct);
                return http.WithETag(referral, referral.Version);
            })
            .WithName(name)
            .WithSummary(summary)
            .Transition();

    /// <summary>What every action on a referral declares: If-Match, the scope, and each way it can be refused.</summary>
    private static RouteHandlerBuilder Transition(this RouteHandlerBuilder builder, bool created = false) => (created ? builder : builder.Produces<ReferralDto>(200))
        .WithDescription("If-Match is required (428 without it, 412 when stale). 409 `referrals.illegal-transition` lists the "
            + "`allowedActions`; 403 when the other party's action; 404 to anyone who is neither sender nor receiver.")
        .WithMetadata(new RequiresIfMatch())
        .RequireAuthorization(Scopes.ReferralsWrite)
        .ServesPersonalData()
        .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409)
        .ProducesProblem(412).ProducesProblem(422).ProducesProblem(428);
}
