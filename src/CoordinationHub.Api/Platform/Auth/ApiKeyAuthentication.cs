using System.Security.Claims;
using System.Text.Encodings.Web;
using CoordinationHub.Platform.Errors;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace CoordinationHub.Platform.Auth;

/// <summary><c>Authorization: Bearer chk_…</c>. No key or a bad key: 401; a key without the scope: 403.</summary>
public sealed class ApiKeyAuthentication(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    ApiKeyStore keys, TimeProvider clock)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header)) return AuthenticateResult.NoResult();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return AuthenticateResult.Fail("The Authorization header must be 'Bearer <api key>'.");
        var identity = await keys.AuthenticateAsync(header["Bearer ".Length..].Trim(), Context.RequestAborted);
        if (identity is null) return AuthenticateResult.Fail("The API key is unknown or revoked.");

        Context.RequestServices.GetRequiredService<Caller>().Set(identity);
        Features.ApiKeys.ApiKeyExpiry.Mark(Context, identity.ExpiresAt, clock.GetUtcNow());
        var claims = new List<Claim> { new("key_id", identity.Id.ToString()) };
        if (identity.OrganisationId is { } org) claims.Add(new Claim("organisation_id", org.ToString()));
        if (identity.IsPlatformAdmin) claims.Add(new Claim("scope", Scopes.PlatformAdmin));
        claims.AddRange(identity.Scopes.Select(s => new Claim("scope", s)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties) =>
        await AuthProblems.UnauthorizedAsync(Context, (await HandleAuthenticateOnceSafeAsync()).Failure?.Message);

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) => AuthProblems.ForbiddenAsync(Context);
}

/// <summary>The 401 and 403 problems, whichever scheme (API key or an issuer's token) refused.</summary>
public static class AuthProblems
{
    public static Task UnauthorizedAsync(HttpContext http, string? failure)
    {
        http.Response.StatusCode = 401;
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails
            {
                Status = 401, Type = ProblemExceptionHandler.TypeBase + "unauthenticated", Title = "Authentication required",
                Detail = failure ?? "Send your API key, or a token of a configured issuer, as 'Authorization: Bearer <key or token>'.",
            },
        }).AsTask();
    }

    public static Task ForbiddenAsync(HttpContext http)
    {
        var scope = http.GetEndpoint()?.Metadata.GetMetadata<IAuthorizeData>()?.Policy;
        http.Response.StatusCode = 403;
        return http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails
            {
                Status = 403, Type = ProblemExceptionHandler.TypeBase + "insufficient-scope", Title = "The API key lacks a scope",
                Detail = scope is null ? "This API key may not call this operation." : $"This operation needs the scope '{scope}'.",
            },
        }).AsTask();
    }
}

public static class AuthSetup
{
    public static IServiceCollection AddApiKeyAuth(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddScoped<Caller>();
        services.AddSingleton<ApiKeyStore>();
        var authentication = services.AddAuthentication(OidcIssuers.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthentication>(ApiKeyAuthentication.SchemeName, null);
        OidcIssuers.Add(services, authentication, configuration);
        services.AddAuthorization(o =>
        {
            // One policy per scope, named by the scope: RequireAuthorization(Scopes.DirectoryWrite).
            foreach (var scope in Scopes.All)
                o.AddPolicy(scope, p => p.RequireAuthenticatedUser().RequireAssertion(c =>
                    c.User.HasClaim("scope", scope) || c.User.HasClaim("scope", Scopes.PlatformAdmin)));
        });
        return services;
    }
}
