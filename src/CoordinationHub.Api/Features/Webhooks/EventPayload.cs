using System.Text.Json;
using CoordinationHub.Platform.OpenApi;

namespace CoordinationHub.Features.Webhooks;

/// <summary>
/// An event as a webhook body and as a feed item: thin, built from the outbox row's columns and its
/// status only, never the stored state (which may hold a person's data); the receiver fetches details
/// with its own key. <c>id</c> is the outbox event's id, sent as <c>webhook-id</c> too.
/// </summary>
[ContractName("Event")]
public sealed record EventDto(Guid Id, string Type, DateTimeOffset Timestamp, EventData Data);

/// <param name="Status">The resource's status after the change, when it has one (e.g. SIGNED).</param>
[ContractName("EventData")]
public sealed record EventData(string ResourceType, Guid ResourceId, string? Status);

/// <summary>The outbox columns an event is built from.</summary>
public sealed class OutboxRow
{
    public Guid Id { get; init; }
    public long Position { get; init; }
    public DateTimeOffset OccurredAt { get; init; }
    public string EventType { get; init; } = "";
    public string ResourceType { get; init; } = "";
    public Guid ResourceId { get; init; }
    public string Payload { get; init; } = "";
    /// <summary>Who may see it, when addressed as it was written (ids, comma-separated); else null.</summary>
    public string? Audience { get; init; }

    public EventDto ToEvent() => new(Id, EventType, OccurredAt, new EventData(ResourceType, ResourceId, StatusOf(Payload)));

    /// <summary>Only the top-level status string of the recorded state, nothing else of it.</summary>
    private static string? StatusOf(string payload)
    {
        try
        {
            using var doc = JsonDocument.Parse(payload);
            if (doc.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object)
                foreach (var name in (string[])["status", "recordedStatus"])
                    if (data.TryGetProperty(name, out var s) && s.ValueKind == JsonValueKind.String) return s.GetString();
        }
        catch (JsonException) { }
        return null;
    }
}

/// <summary>Event type patterns: exact (<c>convention.signed</c>), a family (<c>referral.*</c>) or everything (<c>*</c>).</summary>
public static class EventTypes
{
    public const string Pattern = @"^(\*|[a-z]+\.\*|[a-z]+\.[a-z-]+)$";

    public static bool Matches(IEnumerable<string> patterns, string eventType) => patterns.Any(p =>
        p == "*" || p == eventType || (p.EndsWith(".*", StringComparison.Ordinal) && eventType.StartsWith(p[..^1], StringComparison.Ordinal)));
}
