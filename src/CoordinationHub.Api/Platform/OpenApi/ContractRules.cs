using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json.Serialization;
using CoordinationHub.Platform.Http;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CoordinationHub.Platform.OpenApi;

/// <summary>
/// The rules every schema follows, whoever adds it: <c>required</c> from C# nullability (a non-nullable
/// property, or a <c>required</c> member, is always sent and must be sent); open objects (a client must accept
/// fields added later); the limits of the validators (<see cref="ContractLimits"/>).
/// </summary>
public sealed class ContractRulesSchemaFilter(ContractLimits limits) : ISchemaFilter
{
    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is not OpenApiSchema s) return;
        // Fields may be added within /v1: a strict client must not reject them.
        if (s.AdditionalPropertiesAllowed == false) s.AdditionalPropertiesAllowed = true;
        if (s.Properties is not { Count: > 0 } properties) return;
        var nullability = new NullabilityInfoContext(); // not thread-safe: one per call
        foreach (var member in context.Type.GetProperties(BindingFlags.Instance | BindingFlags.Public))
        {
            if (member.GetCustomAttribute<JsonIgnoreAttribute>() is not null) continue;
            var name = JsonName(member);
            if (!properties.TryGetValue(name, out var property)) continue;
            var required = IsRequired(member, nullability);
            if (required) (s.Required ??= new HashSet<string>()).Add(name);
            // A free JSON document (JsonElement: audit snapshots) is an object; say when it may be null.
            if (property is OpenApiSchema { Type: null, AllOf: null } free
                && (Nullable.GetUnderlyingType(member.PropertyType) ?? member.PropertyType) == typeof(System.Text.Json.JsonElement))
                free.Type = required ? JsonSchemaType.Object : JsonSchemaType.Object | JsonSchemaType.Null;
            if (property is OpenApiSchema inline && (limits.For(context.Type, member.Name) ?? Paging(context.Type, member.Name)) is { } limit)
                ContractLimits.Write(inline, limit);
        }
    }

    public static string JsonName(PropertyInfo member) =>
        member.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? char.ToLowerInvariant(member.Name[0]) + member.Name[1..];

    public static bool IsRequired(PropertyInfo member, NullabilityInfoContext nullability) =>
        member.GetCustomAttribute<RequiredMemberAttribute>() is not null
        || (member.PropertyType.IsValueType
            ? Nullable.GetUnderlyingType(member.PropertyType) is null
            : nullability.Create(member).ReadState == NullabilityState.NotNull);

    /// <summary>A page (a list's, the event feed's) holds at most the largest limit a list accepts.</summary>
    private static ContractLimits.Limit? Paging(Type type, string property) =>
        property == nameof(PageResponse<int>.Items)
        && ((type.IsGenericType && type.GetGenericTypeDefinition() == typeof(PageResponse<>)) || type.Name.EndsWith("Page", StringComparison.Ordinal))
            ? new ContractLimits.Limit { MaxItems = Cursor.MaxLimit }
            : null;
}

/// <summary>Default bounds on every inline schema of the document, once every filter has run.</summary>
public sealed class ContractDefaultsFilter : IDocumentFilter
{
    public void Apply(OpenApiDocument document, DocumentFilterContext context)
    {
        foreach (var schema in document.Components?.Schemas?.Values ?? []) ContractLimits.Defaults(schema);
        foreach (var header in document.Components?.Headers?.Values ?? []) ContractLimits.Defaults(header.Schema);
        foreach (var operation in document.Paths?.Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? []) ?? [])
        {
            foreach (var parameter in operation.Parameters ?? []) ContractLimits.Defaults(parameter.Schema);
            foreach (var media in operation.RequestBody?.Content?.Values ?? []) ContractLimits.Defaults(media.Schema);
            foreach (var response in operation.Responses?.Values.AsEnumerable() ?? [])
            {
                foreach (var media in response.Content?.Values ?? []) ContractLimits.Defaults(media.Schema);
                foreach (var header in response.Headers?.Values ?? []) ContractLimits.Defaults(header.Schema);
            }
        }
    }
}

/// <summary>
/// What an answer always carries, declared so: every property of a schema read only in answers is
/// <c>required</c> (the server writes each one, null where the schema says nullable), and the problem
/// document's members are typed. A schema also read in requests keeps its optional members: there
/// <c>required</c> says what a client must send.
/// </summary>
public sealed class ResponseRequiredFilter : IDocumentFilter
{
    public void Apply(OpenApiDocument document, DocumentFilterContext context)
    {
        var schemas = document.Components?.Schemas;
        if (schemas is null) return;
        var requests = new HashSet<string>();
        var responses = new HashSet<string>();
        foreach (var operation in document.Paths?.Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? []) ?? [])
        {
            foreach (var parameter in operation.Parameters ?? []) Reach(parameter.Schema, schemas, requests);
            foreach (var media in operation.RequestBody?.Content?.Values ?? []) Reach(media.Schema, schemas, requests);
            foreach (var response in operation.Responses?.Values.AsEnumerable() ?? [])
            foreach (var media in response.Content?.Values ?? [])
                Reach(media.Schema, schemas, responses);
        }
        foreach (var name in responses.Except(requests))
            if (schemas[name] is OpenApiSchema { Properties.Count: > 0 } schema)
                schema.Required = new HashSet<string>(schema.Properties.Keys);
        schemas["ProblemDetails"] = ContractProblems.Schema(document);
        ContractEvents.Apply(document);
    }

    private static void Reach(IOpenApiSchema? schema, IDictionary<string, IOpenApiSchema> schemas, HashSet<string> found)
    {
        switch (schema)
        {
            case OpenApiSchemaReference reference:
                if (reference.Reference.Id is { } id && found.Add(id) && schemas.TryGetValue(id, out var target))
                    Reach(target, schemas, found);
                break;
            case OpenApiSchema s:
                foreach (var property in s.Properties?.Values ?? []) Reach(property, schemas, found);
                Reach(s.Items, schemas, found);
                Reach(s.AdditionalProperties, schemas, found);
                foreach (var part in (s.AllOf ?? []).Concat(s.AnyOf ?? []).Concat(s.OneOf ?? [])) Reach(part, schemas, found);
                break;
        }
    }
}
