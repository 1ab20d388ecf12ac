using CoordinationHub.Platform.Http;

namespace CoordinationHub.Features.Webhooks;

/// <summary>The contract's examples for the webhook and feed bodies (read by ContractExamples).</summary>
public static class WebhookExamples
{
    private static readonly Guid SubscriptionId = Guid.Parse("019a1b2c-3d4e-7f50-8a6b-7c8d9e0f1a2b");
    private static readonly Guid CcasId = Guid.Parse("0199a1b3-1a2b-7c3d-9e4f-5a6b7c8d9e0f");
    private static readonly Guid ConventionId = Guid.Parse("0199b2c3-4d5e-7f60-8a1b-2c3d4e5f6a7b");
    private static readonly Guid EventId = Guid.Parse("019a1b2d-0e1f-7a2b-8c3d-4e5f6a7b8c9d");
    private static readonly Guid DeliveryId = Guid.Parse("019a1b2d-1f2a-7b3c-9d4e-5f6a7b8c9d0e");
    private static readonly DateTimeOffset At = new(2026, 3, 2, 9, 30, 0, TimeSpan.Zero);

    private static readonly WebhookSubscriptionDto Subscription = new()
    {
        Id = SubscriptionId, OrganisationId = CcasId, Url = "https://orientation.ccas-lille.fr/webhooks/coordinationhub",
        EventTypes = ["convention.*", "referral.*"], Description = "Logiciel d'orientation du CCAS", Status = WebhookSubscriptionStatus.ACTIVE,
        Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Version = 1, CreatedAt = At, UpdatedAt = At,
    };

    private static readonly EventDto Event = new(EventId, "convention.signed", At, new EventData("convention", ConventionId, "SIGNED"));

    private static readonly WebhookDeliveryDto Delivery = new()
    {
        Id = DeliveryId, EventId = EventId, EventType = "convention.signed", Status = WebhookDeliveryStatus.DEAD, Attempts = 7,
        NextAttemptAt = At.AddHours(18), LastStatusCode = 503, LastError = "HTTP 503", CreatedAt = At,
    };

    private static readonly WebhookAttemptDto Attempt = new()
    {
        Id = Guid.Parse("019a1b2d-2a3b-7c4d-8e5f-6a7b8c9d0e1f"), DeliveryId = DeliveryId, EventId = EventId, AttemptNo = 2,
        AttemptedAt = At.AddSeconds(5), Outcome = WebhookAttemptOutcome.FAILED, StatusCode = 503, LatencyMs = 84,
        Error = "HTTP 503", ResponseExcerpt = "Service temporairement indisponible",
    };

    private static readonly Dictionary<Type, object> Examples = new()
    {
        [typeof(CreateWebhookSubscriptionCommand)] = new CreateWebhookSubscriptionCommand(Subscription.Url, Subscription.EventTypes, Subscription.Description),
        [typeof(WebhookSubscriptionDto)] = Subscription,
        [typeof(PageResponse<WebhookSubscriptionDto>)] = new PageResponse<WebhookSubscriptionDto>([Subscription with { Secret = null }], null, null),
        [typeof(WebhookSecretRotation)] = new WebhookSecretRotation(24),
        [typeof(WebhookDeliveryDto)] = Delivery,
        [typeof(PageResponse<WebhookDeliveryDto>)] = new PageResponse<WebhookDeliveryDto>([Delivery], null, null),
        [typeof(WebhookAttemptDto)] = Attempt,
        [typeof(PageResponse<WebhookAttemptDto>)] = new PageResponse<WebhookAttemptDto>([Attempt], null, null),
        [typeof(EventDto)] = Event,
        [typeof(EventData)] = Event.Data,
        [typeof(EventFeedPage)] = new EventFeedPage([Event], "WyI0MiJd"),
    };

    public static object? For(Type type) => Examples.GetValueOrDefault(type);
}
