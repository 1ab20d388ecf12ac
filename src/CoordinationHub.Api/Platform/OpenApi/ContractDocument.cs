using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.Swagger;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CoordinationHub.Platform.OpenApi;

/// <summary>
/// The partner contract: served at /openapi/v1.json (Swagger UI at /swagger) and committed as
/// openapi/coordinationhub.v1.json; a test fails when the two differ.
/// </summary>
public static class ContractDocument
{
    public const string Name = "v1";
    public const string RegenerateCommand = "dotnet run --project src/CoordinationHub.Api -- openapi openapi/coordinationhub.v1.json";
    internal static readonly (string Name, string Description)[] Tags =
    [
        ("Directory", "The national directory: départements, communes and EPCI from the COG referential; CCAS, CIAS and partners registered by their owners."),
        ("Conventions", "Agreements between organisations: drafted, signed by every party, in force from their start date, changed only by numbered amendments, expired or terminated early; readable as they stood on any date."),
        ("Competences", "The catalogue of competences, each with its holder by law and its legal basis (CASF)."),
        ("Delegations", "Delegations of competence: A delegates competence C to B on communes T from d1 to d2 under convention K, checked against the law and the convention; every version kept."),
        ("Competence map", "Who is responsible for a competence in a commune on a date, and by which chain (law, delegation, sub-delegation); per commune or for a whole département or EPCI, as JSON or CSV."),
        ("Audit", "The append-only trail of every change to a convention or a delegation: who, when, before and after. Readable by the parties."),
        ("Webhooks", "Signed webhooks (Standard Webhooks) of the events your organisation may see, delivered at least once with retries; attempts, dead letters and redelivery."),
        ("Events", "The pull feed of the same events, in order, with long polling, for systems that accept no incoming call."),
    ];

    public static IServiceCollection AddContractDocument(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(c =>
        {
            c.SwaggerDoc(Name, new OpenApiInfo
            {
                Title = "CoordinationHub API",
                Version = "1.0.0",
                Description = """
                    The shared backbone through which communes, CCAS, CIAS, EPCI and départements coordinate local social action:
                    the directory of organisations, conventions, delegated competences and beneficiary referrals.

                    Every call carries an API key bound to one organisation: `Authorization: Bearer <key>`.
                    Errors are RFC 9457 problem details (`application/problem+json`) with a stable `type`.
                    Lists are cursor-paginated (`limit` ≤ 500, follow `next`). Single resources carry an `ETag`;
                    updates require `If-Match`. POSTs honour an `Idempotency-Key` header.
                    """,
                Contact = new OpenApiContact { Name = "CoordinationHub", Url = new Uri("https://coordinationhub.fr") },
                License = new OpenApiLicense { Name = "MIT", Url = new Uri("https://opensource.org/licenses/MIT") },
            });
            c.AddServer(new OpenApiServer { Url = "http://localhost:5080", Description = "Local development host" });
            c.AddSecurityDefinition("ApiKey", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "API key (chk_…)",
                Description = "An API key of your organisation, sent as `Authorization: Bearer chk_…`.",
            });
            c.OperationFilter<ContractOperationFilter>();
            c.SchemaFilter<ExampleSchemaFilter>();
            c.DocumentFilter<TagsDocumentFilter>();
            c.CustomSchemaIds(ContractNameAttribute.SchemaId);
            c.SupportNonNullableReferenceTypes();
            c.UseInlineDefinitionsForEnums();
        });
        return services;
    }

    public static void UseContractDocument(this WebApplication app)
    {
        app.UseSwagger(o =>
        {
            o.RouteTemplate = "openapi/{documentName}.json";
            o.OpenApiVersion = OpenApiSpecVersion.OpenApi3_0;
        });
        app.UseSwaggerUI(o =>
        {
            o.SwaggerEndpoint($"/openapi/{Name}.json", "CoordinationHub API v1");
            o.RoutePrefix = "swagger";
        });
    }

    /// <summary>The document exactly as /openapi/v1.json serves it.</summary>
    public static string Render(IServiceProvider services)
    {
        var document = services.GetRequiredService<ISwaggerProvider>().GetSwagger(Name);
        using var writer = new StringWriter();
        document.SerializeAsV3(new OpenApiJsonWriter(writer));
        return writer.ToString();
    }
}

/// <summary>Endpoint metadata: a POST that changes a versioned resource and so needs If-Match, as PUT does.</summary>
public sealed class RequiresIfMatch;

/// <summary>Security, the standard headers and a ProblemDetails example on every operation.</summary>
public sealed class ContractOperationFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
        if (metadata.OfType<IAuthorizeData>().FirstOrDefault() is { } authorize)
        {
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("ApiKey", context.Document)] = [] });
            if (authorize.Policy is not null)
                operation.Description = $"{operation.Description}{(string.IsNullOrEmpty(operation.Description) ? "" : "\n\n")}Scope: `{authorize.Policy}`.";
        }
        if (string.IsNullOrEmpty(operation.Description)) operation.Description = operation.Summary;

        var method = context.ApiDescription.HttpMethod;
        if (method == "POST")
            AddHeader(operation, "Idempotency-Key", "Replays the first response for a repeated request with the same key (kept 24 h); the same key with another body answers 422.", required: false);
        if (method is "PUT" or "PATCH" || metadata.OfType<RequiresIfMatch>().Any())
            AddHeader(operation, "If-Match", "The ETag last read. 412 if the resource changed since, 428 if missing.", required: true);

        if (operation.Responses is null) return;
        foreach (var (status, response) in operation.Responses)
        {
            if (response is not OpenApiResponse r) continue;
            if (r.Content is not null && r.Content.TryGetValue("application/problem+json", out var media) && media is OpenApiMediaType m && int.TryParse(status, out var code))
                m.Example = ExampleSchemaFilter.Problem(code);
            if (r.Content is not null && r.Content.TryGetValue("text/csv", out var csv) && csv is OpenApiMediaType c)
            {
                c.Schema = new OpenApiSchema { Type = JsonSchemaType.String };
                c.Example = JsonValue.Create(ContractExamples.MapCsv);
            }
            if (status is "200" && method == "GET" && operation.OperationId?.StartsWith("Get", StringComparison.Ordinal) == true && !context.ApiDescription.RelativePath!.EndsWith("territory", StringComparison.Ordinal))
            {
                r.Headers ??= new Dictionary<string, IOpenApiHeader>();
                r.Headers["ETag"] = new OpenApiHeader { Description = "Version of the resource, for If-Match.", Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
            }
        }
    }

    private static void AddHeader(OpenApiOperation operation, string name, string description, bool required)
    {
        operation.Parameters ??= [];
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = name, In = ParameterLocation.Header, Required = required, Description = description,
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = name == "Idempotency-Key" ? 100 : null },
        });
    }
}

public sealed class TagsDocumentFilter : IDocumentFilter
{
    public void Apply(OpenApiDocument document, DocumentFilterContext context)
    {
        document.Tags = new HashSet<OpenApiTag>(ContractDocument.Tags.Select(t => new OpenApiTag { Name = t.Name, Description = t.Description }));
    }
}

/// <summary>Schema examples from <see cref="ContractExamples"/>, serialized as the API serializes.</summary>
public sealed class ExampleSchemaFilter(IOptions<JsonOptions> json) : ISchemaFilter
{

    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        // OpenAPI 3.0: a nullable enum must list null among its values, or null fails validation.
        foreach (var property in schema.Properties?.Values.OfType<OpenApiSchema>() ?? [])
            if (property.Enum is { Count: > 0 } values && property.Type?.HasFlag(JsonSchemaType.Null) == true && !values.Any(v => v is null))
                values.Add(null!);
        // OpenAPI 3.0 cannot mark a $ref nullable: wrap it (allOf + nullable) where the member may be null.
        if (schema is OpenApiSchema { Properties: { Count: > 0 } properties } && context.Type.IsClass)
        {
            var nullability = new System.Reflection.NullabilityInfoContext(); // not thread-safe: one per call
            foreach (var member in context.Type.GetProperties())
            {
                var name = char.ToLowerInvariant(member.Name[0]) + member.Name[1..];
                if (properties.TryGetValue(name, out var property) && property is OpenApiSchemaReference reference
                    && nullability.Create(member).ReadState == System.Reflection.NullabilityState.Nullable)
                    properties[name] = new OpenApiSchema { AllOf = [reference], Type = JsonSchemaType.Object | JsonSchemaType.Null };
            }
        }
        if (schema is OpenApiSchema s && ContractExamples.For(context.Type) is { } example)
            s.Examples = [JsonSerializer.SerializeToNode(example, context.Type, json.Value.SerializerOptions)!];
    }

    public static JsonNode Problem(int status) => new JsonObject
    {
        ["type"] = ProblemType(status),
        ["title"] = status switch
        {
            400 => "The request is invalid", 401 => "Authentication required", 403 => "The API key lacks a scope",
            404 => "Resource not found", 409 => "Conflict with the current state", 412 => "The resource has changed",
            422 => "A business rule refuses the request", 428 => "If-Match is required", _ => "Error",
        },
        ["status"] = status,
        ["detail"] = status switch
        {
            400 => "One or more fields are invalid; see errors.", 401 => "Send your API key as 'Authorization: Bearer <key>'.",
            403 => "This operation needs the scope 'directory:write'.", 404 => "No organisation with id '0199a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b' is visible to you.",
            409 => "The commune Lille already has a CCAS.", 412 => "The organisation is at version 3, not 2; read it again.",
            422 => "0199a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b is not a COMMUNE of the directory.", 428 => "Send the ETag you last read in an If-Match header.",
            _ => "",
        },
        ["traceId"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    }.Also(o => { if (status == 400) o["errors"] = new JsonObject { ["siret"] = new JsonArray("A SIRET is 14 digits with a valid check digit (Luhn).") }; });

    private static string ProblemType(int status) => Errors.ProblemExceptionHandler.TypeBase + status switch
    {
        400 => "validation", 401 => "unauthenticated", 403 => "insufficient-scope", 404 => "not-found", 409 => "directory.ccas-exists",
        412 => "precondition-failed", 422 => "directory.commune-required", 428 => "precondition-required", _ => "internal",
    };
}

internal static class JsonNodeExtensions
{
    public static JsonObject Also(this JsonObject o, Action<JsonObject> act) { act(o); return o; }
}
