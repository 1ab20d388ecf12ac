namespace CoordinationHub.Platform.Data;

/// <summary>
/// Every event type the API emits, with its resource type and what it means: the one list the change log checks
/// each event against (an event not listed cannot be written) and the contract publishes (the <c>Event.type</c>
/// enum and <c>x-webhooks</c>). An event's body is always the thin <c>Event</c>: fetch the resource for its state.
/// </summary>
public static class EventCatalogue
{
    public sealed record Type(string Name, string ResourceType, string Description);

    public static readonly IReadOnlyList<Type> All =
    [
        new("convention.created", "convention", "A convention was drafted; its parties may sign it."),
        new("convention.signature-added", "convention", "A party signed the convention (or its pending amendment): every signature, the last one too (then followed by convention.signed or convention.amendment-signed)."),
        new("convention.signed", "convention", "Every party has signed: the convention is SIGNED (in force from its start date). Follows the last signature's convention.signature-added."),
        new("convention.amendment-proposed", "convention", "An amendment was drafted on a signed convention."),
        new("convention.amendment-signed", "convention", "Every party signed the amendment: it applies from its effective date. Follows the last signature's convention.signature-added."),
        new("convention.terminated", "convention", "The convention ends early; its delegations end the day before."),
        new("delegation.created", "delegation", "A delegation of competence was recorded."),
        new("delegation.changed", "delegation", "A delegation's territory, dates or convention changed (a new version)."),
        new("delegation.ended", "delegation", "A delegation was ended before its end date."),
        new("delegation.ended-with-convention", "delegation", "A delegation ended because its convention was terminated."),
        new("referral.sent", "referral", "A referral was sent to its receiver."),
        new("referral.received", "referral", "The receiver opened the referral (RECEIVED)."),
        new("referral.status-changed", "referral", "The referral's status changed (`data.status` says to what), whatever the path: an action, or a withdrawal of consent or an erasure request that ends the referral (after referral.consent-withdrawn; before referral.person-purged and referral.person-request)."),
        new("referral.transferred", "referral", "The receiver transferred the referral to another body."),
        new("referral.reoriented", "referral", "The referral was closed and a new one sent elsewhere (`reorientedToId`)."),
        new("referral.agent-assigned", "referral", "An agent of the receiver was assigned to the referral, on its own or with the acceptance (after its referral.status-changed)."),
        new("referral.message-posted", "referral", "A message was posted in the referral's thread."),
        new("referral.consent-withdrawn", "referral", "The person withdrew the consent the referral rested on."),
        new("referral.person-rectified", "referral", "The sender rectified the person's data (a new version)."),
        new("referral.person-request", "referral", "A request of the person (access, erasure, objection…) was recorded."),
        new("referral.person-purged", "referral", "The person's data was erased or purged; the referral remains without it."),
        new("api-key.created", "api_key", "A key of the organisation was created (never the key itself)."),
        new("api-key.changed", "api_key", "A key's label, scopes or expiry changed."),
        new("api-key.rotated", "api_key", "A key got a new secret; the old one no longer works."),
        new("api-key.revoked", "api_key", "A key was revoked."),
        new("api-key.expiring", "api_key", "A key expires within 14 days (`data.expiresAt`): create its successor and revoke it."),
        new("organisation.access-changed", "organisation_access", "The scopes an organisation's tokens may be granted, or its demand for authenticated agents, changed."),
        new("import.completed", "import", "A push of delegations finished (applied, validated or refused)."),
    ];

    private static readonly HashSet<string> Names = [.. All.Select(t => t.Name)];

    public static bool Contains(string eventType) => Names.Contains(eventType);
}
