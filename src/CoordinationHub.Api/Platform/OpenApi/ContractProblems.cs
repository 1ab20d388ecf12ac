using System.Text.Json.Nodes;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Errors;
using Microsoft.OpenApi;

namespace CoordinationHub.Platform.OpenApi;

/// <summary>
/// The problem document as the server writes it: RFC 9457 members always sent, the extension members typed, and every
/// problem <c>type</c> with its status (<c>x-problem-types</c>). A test scans the handlers for codes this list misses.
/// </summary>
public static class ContractProblems
{
    /// <summary>Every problem code (the end of <c>type</c>) with the status it comes with.</summary>
    public static readonly (string Code, int Status)[] Types =
    [
        ("bad-request", 400),
        ("header-too-long", 400),
        ("imports.bad-gzip", 400),
        ("indicators.period", 400),
        ("imports.competences", 400),
        ("imports.competences-required", 400),
        ("imports.delegator-required", 400),
        ("imports.effective-on", 400),
        ("imports.confirm-ended", 400),
        ("imports.unknown-competences", 400),
        ("invalid-cursor", 400),
        ("invalid-idempotency-key", 400),
        ("malformed-json", 400),
        ("unknown-competence", 400),
        ("validation", 400),
        ("unauthenticated", 401),
        ("auth.agent-required", 403),
        ("conventions.not-a-party", 403),
        ("forbidden", 403),
        ("insufficient-scope", 403),
        ("not-found", 404),
        ("method-not-allowed", 405),
        ("api-keys.revoked", 409),
        ("conventions.already-signed", 409),
        ("conventions.already-terminated", 409),
        ("conventions.amendment-pending", 409),
        ("conventions.not-amendable", 409),
        ("conventions.nothing-to-sign", 409),
        ("conventions.reference-taken", 409),
        ("conventions.terminated", 409),
        ("delegations.external-ref-taken", 409),
        ("delegations.overlap", 409),
        ("directory.ccas-exists", 409),
        ("directory.cias-exists", 409),
        ("directory.referential-read-only", 409),
        ("directory.siren-taken", 409),
        ("directory.siret-taken", 409),
        ("idempotency-in-progress", 409),
        ("idempotency-replay-erased", 409),
        ("referrals.duplicate", 409),
        ("referrals.illegal-transition", 409),
        ("referrals.person-purged", 409),
        ("webhooks.delivery-not-pending", 409),
        ("webhooks.delivery-pending", 409),
        ("precondition-failed", 412),
        ("payload-too-large", 413),
        ("unsupported-media-type", 415),
        ("api-keys.expiry-past", 422),
        ("api-keys.organisation-required", 422),
        ("api-keys.scope-not-held", 422),
        ("api-keys.unknown-organisation", 422),
        ("api-keys.unknown-scope", 422),
        ("auth.agent-mismatch", 422),
        ("conventions.effective-outside-period", 422),
        ("conventions.end-before-start", 422),
        ("conventions.inactive-party", 422),
        ("conventions.not-signed", 422),
        ("conventions.notice-period", 422),
        ("conventions.payer-not-a-party", 422),
        ("conventions.renewal-incomplete", 422),
        ("conventions.response-days-not-covered", 422),
        ("conventions.signature-in-future", 422),
        ("conventions.termination-after-end", 422),
        ("conventions.termination-in-past", 422),
        ("conventions.territory-required", 422),
        ("conventions.unknown-commune", 422),
        ("conventions.unknown-competence", 422),
        ("conventions.unknown-departement", 422),
        ("conventions.unknown-epci", 422),
        ("conventions.unknown-party", 422),
        ("delegations.competence-not-covered", 422),
        ("delegations.convention-not-in-force", 422),
        ("delegations.convention-not-signed", 422),
        ("delegations.delegator-does-not-hold", 422),
        ("delegations.end-before-start", 422),
        ("delegations.not-an-early-end", 422),
        ("delegations.not-parties", 422),
        ("delegations.subdelegation-not-allowed", 422),
        ("delegations.territory-not-covered", 422),
        ("delegations.unknown-commune", 422),
        ("delegations.unknown-competence", 422),
        ("delegations.unknown-delegate", 422),
        ("delegations.unknown-delegator", 422),
        ("delegations.unknown-departement", 422),
        ("delegations.unknown-epci", 422),
        ("directory.commune-required", 422),
        ("directory.epci-required", 422),
        ("directory.inactive-parent", 422),
        ("directory.partner-category-forbidden", 422),
        ("directory.partner-category-required", 422),
        ("directory.unknown-departement", 422),
        ("idempotency-key-reused", 422),
        ("imports.identity-changed", 422),
        ("imports.delegate-mismatch", 422),
        ("imports.empty-snapshot", 422),
        ("imports.invalid-field", 422),
        ("imports.missing-field", 422),
        ("imports.outside-territory", 422),
        ("imports.refused", 422),
        ("imports.snapshot-ends-too-many", 422),
        ("imports.unknown-commune", 422),
        ("imports.unknown-convention", 422),
        ("imports.unknown-delegate", 422),
        ("imports.unknown-delegator", 422),
        ("referrals.commune-unchanged", 422),
        ("referrals.consent-expired", 422),
        ("referrals.consent-in-future", 422),
        ("referrals.consent-out-of-scope", 422),
        ("referrals.invalid-suggestion", 422),
        ("referrals.legal-competence-cannot-pause", 422),
        ("referrals.nir-refused", 422),
        ("referrals.nothing-to-rectify", 422),
        ("referrals.receiver-paused", 422),
        ("referrals.self-referral", 422),
        ("referrals.unknown-commune", 422),
        ("referrals.unknown-need", 422),
        ("referrals.unknown-receiver", 422),
        ("webhooks.organisation-required", 422),
        ("webhooks.url-forbidden-address", 422),
        ("webhooks.url-not-https", 422),
        ("webhooks.url-unresolvable", 422),
        ("precondition-required", 428),
        ("rate-limited", 429),
        ("cancelled", 499),
        ("internal", 500),
        ("access-log-unavailable", 503),
        ("unavailable", 503),
        ("map-min-generation", 400),
        ("conventions.amendment-orphans-delegation", 409),
        ("referrals.transfer-to-self", 422),
        ("uri-too-long", 414),
        ("headers-too-large", 431),
        ("request-timeout", 408),
        ("http-version-not-supported", 505),
    ];

    public static OpenApiSchema Schema(OpenApiDocument document)
    {
        static OpenApiSchema Text(int max, string description) => new() { Type = JsonSchemaType.String, MaxLength = max, Description = description };
        static OpenApiSchema Enum<T>() where T : struct, System.Enum => new()
        {
            Type = JsonSchemaType.String,
            Enum = [.. System.Enum.GetNames<T>().Select(n => (JsonNode)JsonValue.Create(n))],
        };
        var allowed = Enum<ReferralAction>();
        var table = string.Join("\n", Types.Select(t => $"| `{t.Code}` | {t.Status} |"));
        return new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "An RFC 9457 problem document. `type` is stable: switch on it. Every type, with its status:\n\n"
                + "| type (after `" + ProblemExceptionHandler.TypeBase + "`) | status |\n|---|---|\n" + table,
            Required = new HashSet<string> { "type", "title", "status", "detail", "traceId" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["type"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.String, MaxLength = 200, Pattern = "^https://coordinationhub\\.fr/problems/[a-z0-9.-]+$",
                    Description = $"`{ProblemExceptionHandler.TypeBase}<code>`, one of the codes listed on the schema.",
                },
                ["title"] = Text(200, "A short summary of the problem type, in English."),
                ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "400", Maximum = "599" },
                ["detail"] = Text(4000, "What went wrong with this request, for a person to read."),
                ["instance"] = Text(4000, "Not sent today; reserved by RFC 9457."),
                ["traceId"] = Text(200, "The W3C trace id of the request: quote it to the support."),
                ["errors"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object, Description = "Type `validation` only: the messages for each invalid field (its JSON path).",
                    MaxProperties = 1000,
                    AdditionalProperties = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Array, MaxItems = 100,
                        Items = Text(4000, "A message for a person."),
                    },
                },
                ["conflictingResource"] = Text(200, "Conflicts and business rules: the path of the resource the request collided with."),
                ["referralStatus"] = Enum<ReferralStatus>().Also(s => s.Description = "Type `referrals.illegal-transition`: the referral's status."),
                ["allowedActions"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Array, MaxItems = 100, Items = allowed,
                    Description = "Type `referrals.illegal-transition`: what your organisation may do on the referral now.",
                },
                ["nextReceiver"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object | JsonSchemaType.Null,
                    AllOf = [new OpenApiSchemaReference("ReferralOrganisation", document)],
                    Description = "Type `referrals.receiver-paused`: the body that acts for the need while the receiver is paused, if any.",
                },
                ["pausedUntil"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.String | JsonSchemaType.Null, Format = "date", MaxLength = 10,
                    Description = "Type `referrals.receiver-paused`: the last day of the pause, if it has one.",
                },
                ["report"] = new OpenApiSchema
                {
                    AllOf = [new OpenApiSchemaReference("ImportReport", document)],
                    Description = "Type `imports.refused`: the push's report, every refused record with its reason.",
                },
                ["field"] = Text(200, "Type `referrals.nir-refused`: the JSON path of the field that holds what looks like a NIR."),
                ["source"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.String, Enum = [.. new[] { "body", "header", "query", "path", "record" }.Select(n => (JsonNode)JsonValue.Create(n))],
                    Description = "Type `referrals.nir-refused`: where the NIR was found (`field` names the body path, header, parameter or record).",
                },
            },
            Extensions = new Dictionary<string, IOpenApiExtension>
            {
                ["x-problem-types"] = new JsonNodeExtension(new JsonArray([.. Types.Select(t => (JsonNode)new JsonObject
                {
                    ["type"] = ProblemExceptionHandler.TypeBase + t.Code, ["status"] = t.Status,
                })])),
            },
        };
    }

    private static OpenApiSchema Also(this OpenApiSchema schema, Action<OpenApiSchema> act) { act(schema); return schema; }
}
