using CoordinationHub.Features.CompetenceMap;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CoordinationHub.Platform.OpenApi;

/// <summary>
/// What every operation answers whoever wrote it: the rate-limit headers on every response, 429 and 500 as
/// problem documents, and the CORS header (sent only when an allowlist is configured). Also marks the servers.
/// </summary>
public sealed class ContractHeaders : IDocumentFilter
{
    private static readonly (string Name, string Description)[] Headers =
    [
        ("RateLimit-Policy", "The caller's quota (IETF httpapi draft): `\"per-key\";q=<bucket size>;w=<seconds to refill it>`."),
        ("RateLimit", "What is left of it: `\"per-key\";r=<requests left>;t=<seconds until the next one>`."),
        (Features.ApiKeys.ApiKeyExpiry.Header, "Sent when the API key expires within 14 days: when it stops working (an HTTP-date). "
            + "Create its successor (`POST /v1/api-keys`) and revoke it."),
        ("Access-Control-Allow-Origin", "Sent only when the deployment configures a CORS allowlist (`Cors:AllowedOrigins`) and the " +
            "request's `Origin` is on it. CoordinationHub is a server-to-server API: by default browsers are refused."),
    ];

    public void Apply(OpenApiDocument document, DocumentFilterContext context)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.Headers ??= new Dictionary<string, IOpenApiHeader>();
        foreach (var (name, description) in Headers)
            document.Components.Headers[name] = new OpenApiHeader
            {
                Description = description, Schema = Text(200), Required = name.StartsWith("RateLimit", StringComparison.Ordinal),
            };
        document.Components.Headers[MapChanges.Header] = new OpenApiHeader
        {
            Description = "The competence map generation this answer wrote or read; absent when it did neither. Send it back as " +
                "`Map-Min-Generation` to read your write through any instance behind a load balancer.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64", Minimum = "0" },
        };
        document.Components.Headers["Cache-Control"] = new OpenApiHeader
        {
            Description = "`no-store`: the answer may carry a person's data (or who read it) or a key's secret; no cache, proxy or client "
                + "library may keep it.",
            Schema = Text(50),
        };
        document.Components.Headers["Retry-After"] = new OpenApiHeader
        {
            Description = "Seconds to wait before the next request.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "0", Maximum = "86400" },
            Required = true,
        };
        foreach (var server in document.Servers ?? [])
        {
            server.Extensions ??= new Dictionary<string, IOpenApiExtension>();
            server.Extensions["x-internal"] = new JsonNodeExtension(JsonValue.Create(false));
        }
    }

    public static void Declare(OpenApiOperation operation, OperationFilterContext context)
    {
        operation.Responses ??= new OpenApiResponses();
        var problem = context.SchemaGenerator.GenerateSchema(typeof(ProblemDetails), context.SchemaRepository);
        OpenApiResponse Problem(string description) => new()
        {
            Description = description,
            Content = new Dictionary<string, IOpenApiMediaType> { ["application/problem+json"] = new OpenApiMediaType { Schema = problem } },
        };
        if (!operation.Responses.ContainsKey("429"))
            operation.Responses["429"] = Problem("Too many requests for this API key: wait `Retry-After` seconds.");
        // The NIR guard reads every operation's free-text headers, query string and path (Platform/Security/NirGuard).
        operation.Responses.TryAdd("422", Problem("A business rule refuses the request. On any operation: "
            + "`referrals.nir-refused` when a free-text header (`X-Agent`, `X-Purpose`, `Idempotency-Key`), the query "
            + "string or the path carries a NIR."));
        // Any request can be malformed (a header, a query value, a body, or what the transport refuses).
        operation.Responses.TryAdd("400", Problem("The request is malformed or invalid; `errors` names the fields when it can."));
        operation.Responses.TryAdd("414", Problem($"The path and query are longer than {Http.RequestLimits.MaxTargetLength} characters."));
        operation.Responses.TryAdd("431", Problem($"The request headers are larger than {Http.RequestLimits.MaxHeaderBytes} bytes."));
        // Every call reads the database, if only to know the key: down, it answers 503 with Retry-After.
        operation.Responses.TryAdd("503", Problem("The database is unavailable (`unavailable`): retry after `Retry-After` seconds."));
        if (!operation.Responses.ContainsKey("500"))
            operation.Responses["500"] = Problem("An unexpected error; the problem carries the `traceId` to quote.");
        if (context.ApiDescription.ParameterDescriptions.Any(p => p.Source == Microsoft.AspNetCore.Mvc.ModelBinding.BindingSource.Body))
        {
            operation.Responses.TryAdd("413", Problem("The body is larger than the deployment accepts (1 MB by default)."));
            operation.Responses.TryAdd("415", Problem("The body is not `application/json`."));
        }
        // The competence map's consistency token: read by lookups, written by what changes the map.
        var tags = operation.Tags?.Select(t => t.Name).ToHashSet() ?? [];
        var readsMap = tags.Contains("Competence map");
        if (readsMap)
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = MapChanges.MinHeader, In = ParameterLocation.Header, Required = false,
                Description = "Answer from a map at least at this generation (a `Map-Generation` you were given): this instance catches up first.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64", Minimum = "0" },
            });
        }
        var personal = Features.PersonalData.NoStore.IsPersonalPath("/" + context.ApiDescription.RelativePath)
            || context.ApiDescription.ActionDescriptor.EndpointMetadata
                .OfType<Features.PersonalData.ServesPersonalData>().Any();
        foreach (var (status, response) in operation.Responses)
        {
            if (response is not OpenApiResponse r) continue;
            r.Headers ??= new Dictionary<string, IOpenApiHeader>();
            foreach (var (name, _) in Headers) r.Headers[name] = new OpenApiHeaderReference(name, context.Document);
            if (personal) r.Headers["Cache-Control"] = new OpenApiHeaderReference("Cache-Control", context.Document);
            // Any operation may route through the map (a referral does): whatever answer read or wrote it says so.
            r.Headers[MapChanges.Header] = new OpenApiHeaderReference(MapChanges.Header, context.Document);
            if (status is "429" or "503") r.Headers["Retry-After"] = new OpenApiHeaderReference("Retry-After", context.Document);
        }
    }

    private static OpenApiSchema Text(int maxLength) => new() { Type = JsonSchemaType.String, MaxLength = maxLength };
}
