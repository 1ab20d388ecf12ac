using System.Text.Json.Nodes;
using CoordinationHub.Platform.Data;
using Microsoft.OpenApi;

namespace CoordinationHub.Platform.OpenApi;

/// <summary>
/// Every event the API emits, from <see cref="EventCatalogue"/>: <c>Event.type</c> and <c>EventData.resourceType</c>
/// are enums, and <c>x-webhooks</c> (the shape of OpenAPI 3.1's <c>webhooks</c>, kept in an extension while the
/// contract is 3.0 for its generators) describes each type with its payload, the <c>Event</c> schema.
/// </summary>
public static class ContractEvents
{
    /// <summary>Strings the server fills from an enumeration: declared as that enumeration.</summary>
    private static readonly (string Schema, string Property, string[] Values)[] StringEnums =
    [
        ("ChainStep", "kind", Enum.GetNames<Features.Directory.OrganisationKind>()),
        ("ChainStep", "via", ["LAW", "DELEGATION"]),
        ("MapOrganisation", "kind", Enum.GetNames<Features.Directory.OrganisationKind>()),
        ("ReferralOrganisation", "kind", Enum.GetNames<Features.Directory.OrganisationKind>()),
    ];

    public static void Apply(OpenApiDocument document)
    {
        var schemas = document.Components!.Schemas!;
        foreach (var (name, property, values) in StringEnums)
            if (schemas.TryGetValue(name, out var owner) && owner is OpenApiSchema { Properties: { } members }
                && members.TryGetValue(property, out var member) && member is OpenApiSchema m)
            {
                m.Enum = [.. values.Select(v => (JsonNode)JsonValue.Create(v))];
                m.MaxLength = null;
            }
        if (schemas.TryGetValue("Event", out var e) && e is OpenApiSchema { Properties: { } properties }
            && properties.TryGetValue("type", out var type) && type is OpenApiSchema t)
        {
            t.Enum = [.. EventCatalogue.All.Select(x => (JsonNode)JsonValue.Create(x.Name))];
            t.MaxLength = null;
            t.Description = "The event's type: one of `x-webhooks`.";
        }
        if (schemas.TryGetValue("EventData", out var d) && d is OpenApiSchema { Properties: { } data }
            && data.TryGetValue("resourceType", out var resource) && resource is OpenApiSchema r)
        {
            r.Enum = [.. EventCatalogue.All.Select(x => x.ResourceType).Distinct().Select(x => (JsonNode)JsonValue.Create(x))];
            r.MaxLength = null;
        }
        var webhooks = new JsonObject();
        foreach (var x in EventCatalogue.All)
            webhooks[x.Name] = new JsonObject
            {
                ["post"] = new JsonObject
                {
                    ["summary"] = x.Description,
                    ["description"] = $"Sent to the subscriptions whose `eventTypes` match `{x.Name}` (Standard Webhooks signature), "
                        + "and listed by `GET /v1/events`. The body is the thin `Event`; fetch the "
                        + $"{x.ResourceType} with your key for its state. Events of one resource are sent in order: a failing "
                        + "delivery holds back the later events of the same resource until it succeeds or is dead-lettered.",
                    ["requestBody"] = new JsonObject
                    {
                        ["required"] = true,
                        ["content"] = new JsonObject
                        {
                            ["application/json"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = "#/components/schemas/Event" } },
                        },
                    },
                    ["responses"] = new JsonObject
                    {
                        ["2XX"] = new JsonObject { ["description"] = "Received: any 2xx acknowledges the event." },
                    },
                },
            };
        document.Extensions ??= new Dictionary<string, IOpenApiExtension>();
        document.Extensions["x-webhooks"] = new JsonNodeExtension(webhooks);
    }
}
