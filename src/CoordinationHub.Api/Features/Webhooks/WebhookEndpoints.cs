using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Http;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace CoordinationHub.Features.Webhooks;

public static class WebhookEndpoints
{
    public static IServiceCollection AddWebhooks(this IServiceCollection services, IConfiguration configuration, bool runningAsServer)
    {
        services.Configure<WebhookOptions>(configuration.GetSection("Webhooks"));
        // The binder appends a configured array to a non-empty default: a configured schedule replaces it instead.
        services.PostConfigure<WebhookOptions>(o =>
        {
            if (configuration.GetSection("Webhooks:Backoff").Get<TimeSpan[]>() is { Length: > 0 } backoff) o.Backoff = backoff;
        });
        services.AddSingleton<EventAudience>();
        services.AddSingleton<EventSignal>();
        services.AddSingleton<EventSequencer>();
        services.AddSingleton<UrlGuard>();
        if (runningAsServer) services.AddHostedService<WebhookDispatcher>();
        return services;
    }

    public static void MapWebhooks(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/webhook-subscriptions").WithTags("Webhooks").RequireAuthorization(Scopes.WebhooksManage);

        group.MapPost("", async Task<Created<WebhookSubscriptionDto>> (CreateWebhookSubscriptionCommand command, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var subscription = await sender.Send(command, ct);
                return http.CreatedWithETag($"/v1/webhook-subscriptions/{subscription.Id}", subscription, subscription.Version);
            })
            .WithName("CreateWebhookSubscription")
            .WithSummary("Subscribe a URL to event types; the signing secret is in this answer only")
            .WithDescription("Deliveries follow Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). The URL must be https and resolve to public addresses only (422 `webhooks.url-not-https`, `webhooks.url-forbidden-address`, `webhooks.url-unresolvable`). Only events the organisation is entitled to see are sent.")
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(422);

        group.MapGet("", async ([FromQuery] int? limit, [FromQuery] string? cursor, ISender sender, HttpRequest request, CancellationToken ct) =>
                TypedResults.Ok((await sender.Send(new ListWebhookSubscriptionsQuery(limit, cursor), ct)).ToResponse(request)))
            .WithName("ListWebhookSubscriptions")
            .WithSummary("The webhook subscriptions of your organisation")
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(422);

        group.MapGet("/{id:guid}", async (Guid id, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var subscription = await sender.Send(new GetWebhookSubscriptionQuery(id), ct);
                return http.WithETag(subscription, subscription.Version);
            })
            .WithName("GetWebhookSubscription")
            .WithSummary("A webhook subscription, with why it was disabled if it was")
            .Produces<WebhookSubscriptionDto>(200).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapDelete("/{id:guid}", async (Guid id, ISender sender, CancellationToken ct) =>
            {
                await sender.Send(new DeleteWebhookSubscriptionCommand(id), ct);
                return TypedResults.NoContent();
            })
            .WithName("DeleteWebhookSubscription")
            .WithSummary("Delete a webhook subscription: no delivery is attempted after this")
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapPost("/{id:guid}/secret-rotation", async (Guid id, WebhookSecretRotation request, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new RotateWebhookSecretCommand(id, request), ct)))
            .WithName("RotateWebhookSecret")
            .WithSummary("Replace the signing secret; the old one keeps signing beside it during the overlap")
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapPost("/{id:guid}/enable", async (Guid id, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new EnableWebhookSubscriptionCommand(id), ct)))
            .WithName("EnableWebhookSubscription")
            .WithSummary("Resume a subscription disabled after failing for days")
            .WithDescription("Deliveries resume with the events created from now on. The events created while the subscription "
                + "was disabled are not sent (a receiver back after days would get them in a flood): read them from the pull feed "
                + "(`GET /v1/events`, kept 30 days) from the last event you processed.")
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapGet("/{id:guid}/deliveries", async (Guid id, [FromQuery] WebhookDeliveryStatus? status, [FromQuery] int? limit, [FromQuery] string? cursor,
                ISender sender, HttpRequest request, CancellationToken ct) =>
                TypedResults.Ok((await sender.Send(new ListWebhookDeliveriesQuery(id, status, limit, cursor), ct)).ToResponse(request)))
            .WithName("ListWebhookDeliveries")
            .WithSummary("The deliveries of a subscription: pending (with what each holds back), delivered, dead-lettered (status=DEAD) or skipped")
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapPost("/{id:guid}/deliveries/{deliveryId:guid}/redelivery", async (Guid id, Guid deliveryId, ISender sender, CancellationToken ct) =>
                TypedResults.Accepted($"/v1/webhook-subscriptions/{id}/deliveries", await sender.Send(new RedeliverWebhookCommand(id, deliveryId), ct)))
            .WithName("RedeliverWebhook")
            .WithSummary("Send a dead-lettered or delivered event again, with a fresh retry schedule")
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409);

        group.MapPost("/{id:guid}/deliveries/{deliveryId:guid}/skip", async (Guid id, Guid deliveryId, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new SkipWebhookDeliveryCommand(id, deliveryId), ct)))
            .WithName("SkipWebhookDelivery")
            .WithSummary("Skip a pending delivery that holds back the later events of its resource: it is SKIPPED, the next one goes")
            .WithDescription("Events of one resource are delivered in order: a failing delivery holds back the later ones of its resource "
                + "for its whole retry schedule (about 17.5 h) before it is dead-lettered. `heldBack` in the deliveries' list shows "
                + "how many wait behind it. Skipping it marks it SKIPPED (it can be sent again with `redelivery`) and lets the next "
                + "one go. Only a pending delivery can be skipped: 409 `webhooks.delivery-not-pending` otherwise.")
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409);

        group.MapGet("/{id:guid}/attempts", async (Guid id, [FromQuery] int? limit, [FromQuery] string? cursor, ISender sender, HttpRequest request, CancellationToken ct) =>
                TypedResults.Ok((await sender.Send(new ListWebhookAttemptsQuery(id, limit, cursor), ct)).ToResponse(request)))
            .WithName("ListWebhookAttempts")
            .WithSummary("Every attempt of a subscription, newest first: status, latency, response excerpt")
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        app.MapGet("/v1/events", async ([FromQuery] string? after, [FromQuery] string? types, [FromQuery] int? wait, [FromQuery] int? limit,
                ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ListEventsQuery(after, types, wait, limit), ct)))
            .WithTags("Events")
            .WithName("ListEvents")
            .WithSummary("The events your organisation may see, in order, after a cursor; wait=30 holds the call until one comes")
            .WithDescription("The same events, with the same ids, as the webhooks: for systems that accept no incoming call. Start without `after`, then send back `next`. `types` filters by comma-separated types or families (`referral.*`). Events stay in the feed for 30 days (configurable).")
            .RequireAuthorization(Scopes.EventsRead)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403);
    }
}
