using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Http;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace CoordinationHub.Features.ApiKeys;

public static class ApiKeyEndpoints
{
    public static IServiceCollection AddApiKeyManagement(this IServiceCollection services, bool runningAsServer)
    {
        services.AddSingleton<ApiKeyExpiry>();
        if (runningAsServer) services.AddHostedService<ApiKeyExpiryWatch>();
        return services;
    }

    public static void MapApiKeys(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/api-keys").WithTags("API keys").RequireAuthorization(Scopes.ApiKeysManage);

        group.MapPost("", async Task<Created<ApiKeySecretDto>> (CreateApiKeyCommand command, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var created = await sender.Send(command, ct);
                return http.CreatedWithETag($"/v1/api-keys/{created.ApiKey.Id}", created, created.ApiKey.Version);
            })
            .WithName("CreateApiKey")
            .WithSummary("Create a key for your organisation; the key is in this answer only")
            .WithDescription("An organisation's key holding `api-keys:manage` creates keys of its organisation with scopes it holds "
                + "itself (422 `api-keys.scope-not-held`); the platform administrator creates keys of any organisation (naming "
                + "`organisationId`) with any scope but `platform:admin`, `api-keys:manage` included: that is how it delegates "
                + "the management of an organisation's keys. `expiresAt` is optional; in its last 14 days every answer to the key "
                + "carries `Api-Key-Expires` and the organisation receives `api-key.expiring`.")
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(422);

        group.MapGet("", async ([FromQuery] Guid? organisationId, [FromQuery] int? limit, [FromQuery] string? cursor,
                ISender sender, HttpRequest request, CancellationToken ct) =>
                TypedResults.Ok((await sender.Send(new ListApiKeysQuery(organisationId, limit, cursor), ct)).ToResponse(request)))
            .WithName("ListApiKeys")
            .WithSummary("The keys of your organisation, revoked ones too (never the keys themselves)")
            .WithDescription("The platform administrator lists an organisation's keys (`organisationId`) or every key.")
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403);

        group.MapGet("/{id:guid}", async (Guid id, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var key = await sender.Send(new GetApiKeyQuery(id), ct);
                return http.WithETag(key, key.Version);
            })
            .WithName("GetApiKey")
            .WithSummary("A key of your organisation")
            .Produces<ApiKeyDto>(200).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapPatch("/{id:guid}", async (Guid id, ApiKeyChange change, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var key = await sender.Send(new ChangeApiKeyCommand(id, ETags.RequiredVersion(http.Request), change), ct);
                return http.WithETag(key, key.Version);
            })
            .WithName("ChangeApiKey")
            .WithSummary("Relabel a key, change its scopes or move its expiry; every instance applies it within a second")
            .Produces<ApiKeyDto>(200).ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404)
            .ProducesProblem(409).ProducesProblem(412).ProducesProblem(422).ProducesProblem(428);

        group.MapPost("/{id:guid}/rotation", async (Guid id, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new RotateApiKeyCommand(id), ct)))
            .WithName("RotateApiKey")
            .WithSummary("A new secret for the key, in this answer only; the old one stops working at once")
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409);

        group.MapDelete("/{id:guid}", async (Guid id, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new RevokeApiKeyCommand(id), ct)))
            .WithName("RevokeApiKey")
            .WithSummary("Revoke a key: refused by every instance within a second; it stays listed, revoked")
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);
    }

    public static void MapOrganisationAccess(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/organisations/{id:guid}/access").WithTags("API keys").RequireAuthorization(Scopes.ApiKeysManage);

        group.MapGet("", async (Guid id, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var access = await sender.Send(new GetOrganisationAccessQuery(id), ct);
                return http.WithETag(access, access.Version);
            })
            .WithName("GetOrganisationAccess")
            .WithSummary("What your organisation's agents and machine clients may do through an issuer's tokens")
            .Produces<OrganisationAccessDto>(200).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapPut("", async (Guid id, OrganisationAccessChange change, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var access = await sender.Send(new SetOrganisationAccessCommand(id, ETags.RequiredVersion(http.Request), change), ct);
                return http.WithETag(access, access.Version);
            })
            .WithName("SetOrganisationAccess")
            .WithSummary("Set the scopes your organisation's tokens may be granted, and whether reading the person's data "
                + "needs an authenticated agent")
            .WithDescription("A token gets the scopes it carries among these (or all of them, for an issuer configured with "
                + "`Scopes: Organisation`, such as ProConnect). With `requireAuthenticatedAgent`, reads of the person's data by "
                + "an API key or a machine client are refused 403 `auth.agent-required`.")
            .Produces<OrganisationAccessDto>(200).ProducesProblem(400).ProducesProblem(401).ProducesProblem(403)
            .ProducesProblem(404).ProducesProblem(412).ProducesProblem(422).ProducesProblem(428);
    }
}
