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
    /// <summary>The contract's version: raised with an openapi/CHANGELOG.md entry at every change of the contract.</summary>
    public const string Version = "1.3.1";
    public const string RegenerateCommand = "dotnet run --project src/CoordinationHub.Api -- openapi openapi/coordinationhub.v1.json";
    internal static readonly (string Name, string Description)[] Tags =
    [
        ("Directory", "The national directory: départements, communes and EPCI from the COG referential; CCAS, CIAS and partners registered by their owners."),
        ("Conventions", "Agreements between organisations: drafted, signed by every party, in force from their start date, changed only by numbered amendments, expired or terminated early; readable as they stood on any date."),
        ("Competences", "The catalogue of competences, each with its holder by law and its legal basis (CASF)."),
        ("Delegations", "Delegations of competence: A delegates competence C to B on communes T from d1 to d2 under convention K, checked against the law and the convention; every version kept."),
        ("Competence map", "Who is responsible for a competence in a commune on a date, and by which chain (law, delegation, sub-delegation); per commune or for a whole département or EPCI, as JSON or CSV."),
        ("Imports", "Bulk pushes of a département's delegations: upsert or snapshot by the département's own external references, all or nothing, with a report of every refused record."),
        ("Referrals", "Referrals of a person from one organisation to another for a need: routed through the competence map, with deadlines, receiver capacity, consent as data, a thread and a closed loop. Only the organisations involved see one."),
        ("Personal data", "The person's data as the law wants it: sealed at rest, every read logged (X-Agent, X-Purpose) and readable by the organisations involved, the dossier for the right of access, rectification by the sender, erasure and objection requests, and the purge at the end of the retention period."),
        ("Audit", "The append-only trail of every change to a convention or a delegation: who, when, before and after. Readable by the parties."),
        ("Webhooks", "Signed webhooks (Standard Webhooks) of the events your organisation may see, delivered at least once with retries; attempts, dead letters and redelivery."),
        ("API keys", "Organisations run their own access: their keys (create, scope, rotate, revoke, expiry), and what their agents' and machine clients' tokens may do."),
        ("Events", "The pull feed of the same events, in order, with long polling, for systems that accept no incoming call."),
        ("Indicators", "The social needs analysis from the coordination itself: referrals by need, territory and period, how they were answered, and the coverage of delegations. Open data without a key, under statistical secrecy; an organisation's own figures unsuppressed with its key."),
    ];

    public static IServiceCollection AddContractDocument(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSingleton<ContractLimits>();
        services.AddSwaggerGen(c =>
        {
            c.SwaggerDoc(Name, new OpenApiInfo
            {
                Title = "CoordinationHub API",
                Version = Version,
                Description = """
                    The shared backbone through which communes, CCAS, CIAS, EPCI and départements coordinate local social action:
                    the directory of organisations, conventions, delegated competences and beneficiary referrals.

                    Every call carries an API key bound to one organisation: `Authorization: Bearer <key>`.
                    Errors are RFC 9457 problem details (`application/problem+json`) with a stable `type`, including what
                    the HTTP server refuses before any operation is known (over HTTP/1.1): a request line or header it
                    cannot parse, a `%00` in the path, a bad or missing `Host` (400 `bad-request`), a version other than
                    HTTP/1.0 or 1.1 (505), a head over its limits (414, 431) or too slow to arrive (408); the connection
                    is then closed. Where the server terminates TLS itself, or speaks HTTP/2, these refusals keep the
                    HTTP server's empty answer: deployments terminate TLS in front of it.
                    Enumerated query values are read whatever their case (`mode=upsert`); an unknown one is a 400 `validation`
                    problem naming the parameter and listing its values.
                    Lists are cursor-paginated (`limit` ≤ 500, follow `next`). Single resources carry an `ETag`;
                    updates require `If-Match`. POSTs honour an `Idempotency-Key` header.

                    **The NIR.** The social security number is reserved by law: a NIR-shaped number (its key checked
                    modulo 97, however spaced, dotted or dashed, in any Unicode digits or spaces) is refused with 422
                    `referrals.nir-refused` wherever it comes: a body, a free-text header, the query string, the path, a
                    pushed record. The problem names where (`field`, `source`: body, header, query, path, record), never
                    the number. Answers that may carry a person's data are sent with `Cache-Control: no-store`.

                    **Compatibility within /v1.** Operations, optional request fields and response fields may be added:
                    ignore fields you do not know. Nothing is removed, retyped, made newly required in a request, or
                    made optional or nullable in a response; no enum gains a value a response may carry. Such changes
                    come only with /v2. Every change is listed in `openapi/CHANGELOG.md`, with the contract's version.
                    A property listed in `required` is always sent (and must be sent); `nullable` says where null may be.

                    **Rate limits.** Each API key has a token bucket (by default 100 requests at once, refilled by 10 a
                    second; larger for the platform administrator). Every answer carries `RateLimit-Policy` and `RateLimit`
                    (IETF httpapi draft); beyond the bucket the answer is 429 with `Retry-After` and a problem document.

                    **CORS.** A server-to-server API: browsers are refused unless the deployment configures an allowlist
                    of origins (`Cors:AllowedOrigins`).

                    **Guides.** Read with this contract: one per audience (pushing delegation data, referrals and the
                    person's data, generating a client, operating the API…), served as Markdown beside it at
                    [/guides](/guides).

                    """ + "\n" + ContractLimits.DefaultsDescription,
                Contact = new OpenApiContact { Name = "CoordinationHub", Url = new Uri("https://coordinationhub.fr") },
                License = new OpenApiLicense { Name = "MIT", Url = new Uri("https://opensource.org/licenses/MIT") },
            });
            c.AddServer(new OpenApiServer
            {
                Url = "https://{host}",
                Description = "Your deployment behind TLS (production, staging). Local development listens on http://localhost:5080.",
                Variables = new Dictionary<string, OpenApiServerVariable>
                {
                    ["host"] = new() { Default = "coordinationhub.example", Description = "Host name (and port) of the deployment." },
                },
            });
            c.AddSecurityDefinition("ApiKey", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "API key (chk_…) or JWT",
                Description = "An API key of your organisation, sent as `Authorization: Bearer chk_…`; or, where the deployment "
                    + "configures OpenID Connect issuers, a token of one of them (an agent's, or a machine client's): "
                    + "see the guide identity-and-keys.md.",
            });
            c.OperationFilter<ContractOperationFilter>();
            c.SchemaFilter<ContractRulesSchemaFilter>();
            c.SchemaFilter<ExampleSchemaFilter>();
            c.DocumentFilter<TagsDocumentFilter>();
            c.DocumentFilter<ContractHeaders>();
            c.DocumentFilter<ResponseRequiredFilter>();
            c.DocumentFilter<ContractDefaultsFilter>();
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

/// <summary>
/// Operations that answer a versioned resource with its ETag, besides those that need If-Match (which answer
/// the resource they changed): the response validator fails a test when the server and this list disagree.
/// </summary>
public static class ETagOperations
{
    public static readonly HashSet<string> All =
    [
        "GetOrganisation", "RegisterOrganisation", "GetDelegation", "CreateDelegation", "GetConvention", "CreateConvention", "SignConvention",
        "GetConventionHistory", "GetReferral", "CreateReferral", "GetWebhookSubscription", "CreateWebhookSubscription",
        "GetApiKey", "CreateApiKey", "GetOrganisationAccess",
    ];
}

/// <summary>
/// Reads of resources public by design (the directory, the catalogue, delegations and the competence map): any
/// organisation's key with the scope reads them, whoever they belong to. Declared <c>x-public</c>; the suite's
/// cross-organisation matrix expects 404 from every other read of another organisation's resource.
/// </summary>
public static class PublicOperations
{
    public static readonly HashSet<string> All =
    [
        "SearchOrganisations", "GetOrganisation", "GetDepartementTerritory", "ListCompetences", "GetCompetenceMap",
        "ExportCompetenceMap", "SearchDelegations", "GetDelegation", "ListDelegationVersions",
        // Open data (#26): read without a key at all.
        "GetNeedIndicators", "GetAnswerIndicators", "GetDelegationCoverage",
    ];
}

/// <summary>Endpoint metadata: a PUT that replaces a setting whole, without a version: no If-Match, the last write wins.</summary>
public sealed class LastWriteWins;

/// <summary>Endpoint metadata: a POST that changes a versioned resource and so needs If-Match, as PUT does.</summary>
public sealed class RequiresIfMatch;

/// <summary>Security, the standard headers and a ProblemDetails example on every operation.</summary>
public sealed class ContractOperationFilter(ContractLimits limits) : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        ContractHeaders.Declare(operation, context);
        var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
        if (metadata.OfType<IAuthorizeData>().FirstOrDefault() is { } authorize)
        {
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("ApiKey", context.Document)] = [] });
            if (authorize.Policy is not null)
            {
                operation.Description = $"{operation.Description}{(string.IsNullOrEmpty(operation.Description) ? "" : "\n\n")}Scope: `{authorize.Policy}`.";
                // Read by the suite's authorization matrix: a key without this scope is refused with 403.
                operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
                operation.Extensions["x-scope"] = new JsonNodeExtension(JsonValue.Create(authorize.Policy));
            }
        }
        if (string.IsNullOrEmpty(operation.Description)) operation.Description = operation.Summary;
        if (PublicOperations.All.Contains(operation.OperationId ?? ""))
        {
            if (metadata.OfType<IAuthorizeData>().Any())
                operation.Description += "\n\nPublic by design: any organisation reads it, whoever it belongs to.";
            operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
            operation.Extensions["x-public"] = new JsonNodeExtension(JsonValue.Create(true));
        }

        var method = context.ApiDescription.HttpMethod;
        if (method == "POST")
            AddHeader(operation, "Idempotency-Key", "Replays the first response for a repeated request with the same key (kept 24 h); the same key with another body answers 422.", required: false, maxLength: 100);
        var ifMatch = (method is "PUT" or "PATCH" && !metadata.OfType<LastWriteWins>().Any()) || metadata.OfType<RequiresIfMatch>().Any();
        if (ifMatch)
            AddHeader(operation, "If-Match", "The ETag last read. 412 if the resource changed since, 428 if missing.", required: true, maxLength: 100);

        if (metadata.OfType<Features.PersonalData.ServesPersonalData>().Any())
        {
            AddHeader(operation, Features.PersonalData.AccessContext.AgentHeader, "The agent who reads, as your software knows them (at most "
                + $"{Features.PersonalData.AccessContext.AgentMax} characters): written to the access log of the person's data. "
                + "With an agent's token, the authenticated agent is logged instead, and an `X-Agent` naming another is refused "
                + "(422 `auth.agent-mismatch`). "
                + Http.HeaderText.Description, required: false, Features.PersonalData.AccessContext.AgentMax);
            AddHeader(operation, Features.PersonalData.AccessContext.PurposeHeader, "Why the agent reads (at most "
                + $"{Features.PersonalData.AccessContext.PurposeMax} characters); else the operation's default purpose. Written to the access log. "
                + Http.HeaderText.Description, required: false, Features.PersonalData.AccessContext.PurposeMax);
            operation.Description += "\n\nThe answer may carry a person's data: the read is logged (organisation, key, `X-Agent`, time, operation, "
                + "`X-Purpose`) before it is served; 503 `access-log-unavailable` when the log cannot be written."
                + (method == "POST" ? " A replay (`Idempotency-Key`) of an answer whose person was since erased or purged answers 409 "
                    + "`idempotency-replay-erased`: the stored answer was sealed with the referral's data key, destroyed with the person." : "");
            operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
            operation.Extensions["x-personal-data"] = new JsonNodeExtension(JsonValue.Create(true));
        }

        LimitParameters(operation);
        if (operation.RequestBody?.Content is { } requestContent)
            foreach (var (type, media) in requestContent)
                if (type is "text/csv" or "application/x-ndjson" && media is OpenApiMediaType m)
                {
                    // A push is up to 200,000 records: the bound is the endpoint's body limit, not a promise of size.
                    m.Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 256 * 1024 * 1024 };
                    m.Example = JsonValue.Create(type == "text/csv" ? ContractExamples.Text(operation.OperationId, request: true) : ContractExamples.PushNdjson);
                }
                else if (type == "application/json" && operation.OperationId == "PushDelegations" && media is OpenApiMediaType json
                    && json.Schema is OpenApiSchema { Type: JsonSchemaType.Array } array)
                    array.MaxItems = Features.Imports.PushDelegationsHandler.MaxRecords;

        if (operation.Responses is null) return;
        foreach (var (status, response) in operation.Responses)
        {
            if (response is not OpenApiResponse r) continue;
            if (r.Content is not null && r.Content.TryGetValue("application/problem+json", out var media) && media is OpenApiMediaType m && int.TryParse(status, out var code))
                m.Example = ExampleSchemaFilter.Problem(code);
            if (r.Content is not null && r.Content.TryGetValue("text/csv", out var csv) && csv is OpenApiMediaType c)
            {
                // A département's export is a few MB; the bound is documented, not a promise of size.
                c.Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 100 * 1024 * 1024 };
                c.Example = JsonValue.Create(ContractExamples.Text(operation.OperationId, request: false) ?? ContractExamples.MapCsv);
            }
            if (status.StartsWith('2') && (ifMatch || ETagOperations.All.Contains(operation.OperationId ?? "")))
            {
                r.Headers ??= new Dictionary<string, IOpenApiHeader>();
                r.Headers["ETag"] = new OpenApiHeader
                {
                    // An idempotent replay restores the first answer's ETag with its status, Location and body.
                    Description = method == "POST"
                        ? "Version of the resource, for If-Match. A replayed answer (`Idempotent-Replayed: true`) carries the first "
                            + "answer's: if the resource changed since, If-Match with it answers 412."
                        : "Version of the resource, for If-Match.",
                    Required = true,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 100, Pattern = "^(W/)?\"[0-9]+\"$" },
                };
            }
            if (status is "200" or "304" && operation.Tags?.Any(t => t.Name == "Indicators") == true)
            {
                // Indicators are cacheable: an ETag of the bytes, and public or private caching (IndicatorEndpoints).
                r.Headers ??= new Dictionary<string, IOpenApiHeader>();
                r.Headers["ETag"] = new OpenApiHeader
                {
                    Description = "A digest of the answer's bytes: send it as `If-None-Match` to get 304 while it has not changed.",
                    Required = true,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 34, Pattern = "^\"[0-9a-f]{32}\"$" },
                };
                r.Headers["Cache-Control"] = new OpenApiHeader
                {
                    Description = "`public, max-age=300` for open data, `private, no-cache` for an organisation's own figures.",
                    Required = true,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 50 },
                };
            }
            if (method == "POST")
            {
                r.Headers ??= new Dictionary<string, IOpenApiHeader>();
                r.Headers["Idempotent-Replayed"] = new OpenApiHeader
                {
                    Description = "`true` when this answer is the stored answer to an earlier request with the same `Idempotency-Key`.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("true")] },
                };
            }
            if (status is "201" or "202")
            {
                r.Headers ??= new Dictionary<string, IOpenApiHeader>();
                r.Headers["Location"] = new OpenApiHeader
                {
                    Description = status == "201" ? "The path of the resource created." : "The path to follow for the outcome.",
                    Required = true,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uri-reference", MaxLength = 2000 },
                };
            }
        }
    }

    /// <summary>Query and path parameters take the limits of the use case's validator ({operationId}Query/Command).</summary>
    private void LimitParameters(OpenApiOperation operation)
    {
        var request = operation.OperationId is { } id
            ? typeof(ContractDocument).Assembly.GetTypes().FirstOrDefault(t => t.IsClass && ContractOperationsAttribute.Of(t).Contains(id))
            : null;
        foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>() ?? [])
        {
            if (parameter.Schema is not OpenApiSchema schema) continue;
            var property = request?.GetProperty(parameter.Name!, System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public
                | System.Reflection.BindingFlags.IgnoreCase);
            if (property is not null && limits.For(request!, property.Name) is { } limit)
            {
                ContractLimits.Write(schema, limit);
                // A value the use case cannot do without (non-nullable, NotEmpty) is a required parameter.
                if (limit.MinLength >= 1 && !property.PropertyType.IsValueType
                    && new System.Reflection.NullabilityInfoContext().Create(property).ReadState == System.Reflection.NullabilityState.NotNull)
                    parameter.Required = true;
            }
        }
    }

    private static void AddHeader(OpenApiOperation operation, string name, string description, bool required, int maxLength)
    {
        operation.Parameters ??= [];
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = name, In = ParameterLocation.Header, Required = required, Description = description,
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = maxLength },
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
            413 => "Content Too Large", 415 => "Unsupported Media Type",
            422 => "A business rule refuses the request", 428 => "If-Match is required", 429 => "Too many requests",
            500 => "An unexpected error occurred", _ => "Error",
        },
        ["status"] = status,
        ["detail"] = status switch
        {
            400 => "One or more fields are invalid; see errors.", 401 => "Send your API key as 'Authorization: Bearer <key>'.",
            403 => "This operation needs the scope 'directory:write'.", 404 => "No organisation with id '0199a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b' is visible to you.",
            409 => "The commune Lille already has a CCAS.", 412 => "The organisation is at version 3, not 2; read it again.",
            422 => "0199a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b is not a COMMUNE of the directory.", 428 => "Send the ETag you last read in an If-Match header.",
            429 => "This API key has used its requests; retry in 2 seconds.", 500 => "Quote the traceId to the support.",
            413 => "The request body is 2000000 bytes; the limit is 1048576.", 415 => "Content-Type 'text/plain' is not accepted here. Accepted: application/json.",
            _ => "",
        },
        ["traceId"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    }.Also(o => { if (status == 400) o["errors"] = new JsonObject { ["siret"] = new JsonArray("A SIRET is 14 digits with a valid check digit (Luhn).") }; });

    private static string ProblemType(int status) => Errors.ProblemExceptionHandler.TypeBase + status switch
    {
        400 => "validation", 401 => "unauthenticated", 403 => "insufficient-scope", 404 => "not-found", 409 => "directory.ccas-exists",
        412 => "precondition-failed", 422 => "directory.commune-required", 428 => "precondition-required", 429 => "rate-limited",
        413 => "payload-too-large", 415 => "unsupported-media-type", _ => "internal",
    };
}

internal static class JsonNodeExtensions
{
    public static JsonObject Also(this JsonObject o, Action<JsonObject> act) { act(o); return o; }
}
