using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace CoordinationHub.Platform.Auth;

/// <summary>Where a token's organisation comes from: a SIRET (as ProConnect gives it) or the hub's organisation id.</summary>
public enum OrganisationClaimKind { Siret, Id }

/// <summary>Where a token's scopes come from: the token's own (intersected with the organisation's grants), or the
/// organisation's grants alone (an identity federation like ProConnect grants no API scope).</summary>
public enum TokenScopes { Token, Organisation }

/// <summary>One OpenID Connect issuer whose tokens the API accepts (<c>Auth:Issuers:n</c>).</summary>
public sealed class IssuerOptions
{
    /// <summary>A short name, shown in the access log ("authenticated by proconnect").</summary>
    public string Name { get; set; } = "";
    /// <summary>The <c>iss</c> of its tokens; its discovery document is read from <c>{Issuer}/.well-known/openid-configuration</c>.</summary>
    public string Issuer { get; set; } = "";
    public string? MetadataAddress { get; set; }
    /// <summary>The audiences a token must carry one of (the API's client id at the issuer).</summary>
    public string[] Audiences { get; set; } = [];
    public string OrganisationClaim { get; set; } = "siret";
    public OrganisationClaimKind OrganisationClaimKind { get; set; } = OrganisationClaimKind.Siret;
    public TokenScopes Scopes { get; set; } = TokenScopes.Token;
    /// <summary>Machine clients (client-credential tokens): client id → organisation (its id or SIRET).</summary>
    public Dictionary<string, string> Clients { get; set; } = [];
    public bool RequireHttpsMetadata { get; set; } = true;
    /// <summary>How often, at most, a token with an unknown key id makes the issuer's keys be fetched again.</summary>
    public TimeSpan KeyRefreshMinimum { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    public string Scheme => "oidc:" + Name;
}

/// <summary>
/// Bearer tokens of the configured issuers beside API keys, under one scheme that looks at the credential: a
/// <c>chk_</c> key (or none) goes to the API keys, a JWT to the issuer named by its (not yet trusted) <c>iss</c>,
/// which then validates it: signature by a key of the issuer's JWKS, issuer, audience, lifetime, algorithm.
/// </summary>
public static class OidcIssuers
{
    public const string SchemeName = "Bearer";

    /// <summary>Asymmetric algorithms only: an HMAC token "signed" with an issuer's public key is refused.</summary>
    private static readonly string[] Algorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    public static void Add(IServiceCollection services, AuthenticationBuilder authentication, IConfiguration configuration)
    {
        var issuers = configuration.GetSection("Auth:Issuers").Get<List<IssuerOptions>>() ?? [];
        foreach (var issuer in issuers)
            if (issuer.Name.Length == 0 || issuer.Issuer.Length == 0 || issuer.Audiences.Length == 0)
                throw new InvalidOperationException("Each Auth:Issuers entry needs a Name, an Issuer and at least one audience.");
        services.AddSingleton<OrganisationAccessStore>();
        services.AddHttpClient(nameof(IssuerKeys));
        authentication.AddPolicyScheme(SchemeName, "API key or token", o => o.ForwardDefaultSelector = http => Select(http, issuers));
        foreach (var issuer in issuers)
        {
            services.AddKeyedSingleton(issuer.Name, (sp, _) => new IssuerKeys(issuer, sp.GetRequiredService<IHttpClientFactory>()));
            authentication.AddJwtBearer(issuer.Scheme, o => Configure(o, issuer));
            // The keys of this issuer as they are now (a rollover replaced them), read per token.
            services.AddOptions<JwtBearerOptions>(issuer.Scheme).Configure<IServiceProvider>((o, sp) =>
            {
                var keys = sp.GetRequiredKeyedService<IssuerKeys>(issuer.Name);
                o.TokenValidationParameters.IssuerSigningKeyResolver = (_, _, _, _) => keys.Keys;
            });
        }
    }

    private static string Select(HttpContext http, List<IssuerOptions> issuers)
    {
        var header = http.Request.Headers.Authorization.ToString();
        if (issuers.Count == 0 || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return ApiKeyAuthentication.SchemeName;
        var credential = header["Bearer ".Length..].Trim();
        if (credential.StartsWith(ApiKeyStore.Prefix, StringComparison.Ordinal)) return ApiKeyAuthentication.SchemeName;
        string? iss = null;
        try { iss = new JsonWebToken(credential).Issuer; }
        catch (ArgumentException) { } // not a JWT: the first issuer refuses it as malformed
        return (issuers.FirstOrDefault(i => i.Issuer == iss) ?? issuers[0]).Scheme;
    }

    private static void Configure(JwtBearerOptions o, IssuerOptions issuer)
    {
        o.MapInboundClaims = false;
        o.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = issuer.Issuer,
            ValidAudiences = issuer.Audiences,
            ValidAlgorithms = Algorithms,
            ClockSkew = issuer.ClockSkew,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            NameClaimType = "name",
        };
        o.Events = new JwtBearerEvents
        {
            OnMessageReceived = async context =>
            {
                var keys = context.HttpContext.RequestServices.GetRequiredKeyedService<IssuerKeys>(issuer.Name);
                string? kid = null;
                // The handler reads the header after this event: the token is read here to know its key id.
                var header = context.Request.Headers.Authorization.ToString();
                var token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
                try { kid = token is null ? null : new JsonWebToken(token).Kid; }
                catch (ArgumentException) { return; } // refused as malformed by the validation
                try { await keys.EnsureAsync(kid, context.HttpContext.RequestAborted); }
                catch (Exception e) when (e is not OperationCanceledException || !context.HttpContext.RequestAborted.IsCancellationRequested)
                {
                    if (!keys.HasKeys) context.Fail($"The keys of the issuer '{issuer.Name}' could not be fetched; try again later.");
                }
            },
            OnTokenValidated = async context =>
            {
                var failure = await MapAsync(context, issuer);
                if (failure is not null) context.Fail(failure);
            },
            OnChallenge = async context =>
            {
                context.HandleResponse();
                await AuthProblems.UnauthorizedAsync(context.HttpContext, context.AuthenticateFailure is { } e ? Reason(e, issuer) : null);
            },
            OnForbidden = context => AuthProblems.ForbiddenAsync(context.HttpContext),
        };
    }

    /// <summary>Why a token was refused, in words an integrator can act on (the library's messages hide their details).</summary>
    private static string Reason(Exception e, IssuerOptions issuer) => e switch
    {
        SecurityTokenExpiredException x => $"The token expired at {x.Expires:u}.",
        SecurityTokenNotYetValidException x => $"The token is not valid before {x.NotBefore:u}.",
        SecurityTokenInvalidAudienceException => $"The token's audience is not this API ({string.Join(", ", issuer.Audiences)}).",
        SecurityTokenInvalidIssuerException => "The token's issuer is not one this API accepts.",
        SecurityTokenSignatureKeyNotFoundException => $"The token's key id is not among the keys of the issuer '{issuer.Name}'.",
        SecurityTokenInvalidAlgorithmException => "The token's algorithm is not accepted (asymmetric signatures only).",
        SecurityTokenInvalidSignatureException => "The token's signature is missing or invalid.",
        SecurityTokenNoExpirationException => "The token has no expiry.",
        SecurityTokenMalformedException or ArgumentException => "The bearer credential is neither an API key nor a well-formed token.",
        SecurityTokenException => "The token was refused: " + e.GetType().Name.Replace("SecurityToken", "").Replace("Exception", "") + ".",
        _ => e.Message,
    };

    /// <summary>The caller a valid token stands for: its organisation, scopes and (for an agent's token) the agent.</summary>
    private static async Task<string?> MapAsync(TokenValidatedContext context, IssuerOptions issuer)
    {
        if (context.SecurityToken is not JsonWebToken token) return "The token could not be read.";
        var organisations = context.HttpContext.RequestServices.GetRequiredService<OrganisationAccessStore>();
        var ct = context.HttpContext.RequestAborted;
        var subject = Claim(token, "sub");
        var client = Claim(token, "client_id") ?? Claim(token, "azp");
        var organisationClaim = Claim(token, issuer.OrganisationClaim);
        OrganisationAccessStore.Access? organisation;
        AuthenticatedAgent? agent = null;
        if (organisationClaim is not null)
        {
            if (subject is null) return "The token names no subject (sub).";
            organisation = await organisations.FindAsync(issuer.OrganisationClaimKind, organisationClaim, ct);
            if (organisation is null)
                return $"The token's organisation ({issuer.OrganisationClaim} {organisationClaim}) is not in the directory.";
            var name = Claim(token, "name") ?? string.Join(' ', new[] { Claim(token, "given_name"), Claim(token, "usual_name") ?? Claim(token, "family_name") }
                .Where(n => !string.IsNullOrWhiteSpace(n)));
            agent = new AuthenticatedAgent(issuer.Name, subject, name.Length == 0 ? null : Truncate(name), Claim(token, "email") is { } e ? Truncate(e) : null);
        }
        else if (client is not null && issuer.Clients.TryGetValue(client, out var mapped))
        {
            organisation = await organisations.FindAsync(
                Guid.TryParse(mapped, out _) ? OrganisationClaimKind.Id : OrganisationClaimKind.Siret, mapped, ct);
            if (organisation is null) return $"The client '{client}' is mapped to an organisation not in the directory ({mapped}).";
        }
        else return $"The token names no organisation (claim '{issuer.OrganisationClaim}') and its client is not mapped to one.";

        var tokenScopes = (Claim(token, "scope") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Concat(token.Claims.Where(c => c.Type == "scp").SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        var granted = (issuer.Scopes == TokenScopes.Organisation ? organisation.Scopes : organisation.Scopes.Intersect(tokenScopes))
            .Where(s => s != Auth.Scopes.PlatformAdmin).ToHashSet();
        var who = agent?.Subject ?? client!;
        var identity = new ApiKeyIdentity(StableId(issuer.Issuer, who), organisation.Id, false, granted);
        context.HttpContext.RequestServices.GetRequiredService<Caller>().Set(identity, agent);
        var claims = new List<Claim> { new("key_id", identity.Id.ToString()), new("organisation_id", organisation.Id.ToString()), new("iss_name", issuer.Name) };
        claims.AddRange(granted.Select(s => new Claim("scope", s)));
        context.Principal = new ClaimsPrincipal(new ClaimsIdentity(claims, issuer.Scheme));
        return null;
    }

    private static string? Claim(JsonWebToken token, string type) =>
        token.TryGetPayloadValue<object>(type, out var value) && value?.ToString() is { Length: > 0 } text ? text : null;

    private static string Truncate(string text) => text.Length <= 100 ? text : text[..100];

    /// <summary>The id standing for a token's caller where a key id is kept (idempotency records, rate limits, audit).</summary>
    public static Guid StableId(string issuer, string subject) =>
        new(SHA256.HashData(Encoding.UTF8.GetBytes(issuer + "\n" + subject)).AsSpan(0, 16));
}

/// <summary>
/// An issuer's signing keys, from its discovery document and JWKS: fetched at the first token, again when a token
/// names a key id they lack (a rollover; at most every <see cref="IssuerOptions.KeyRefreshMinimum"/>) and every hour.
/// The fetch is awaited by the request that needs it, so the first token signed with a new key is accepted.
/// </summary>
public sealed class IssuerKeys(IssuerOptions issuer, IHttpClientFactory http)
{
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromHours(1);
    private sealed record Snapshot(IReadOnlyList<SecurityKey> Keys, HashSet<string> Ids, DateTimeOffset FetchedAt);
    private volatile Snapshot? current;
    private DateTimeOffset lastAttempt = DateTimeOffset.MinValue;
    private readonly SemaphoreSlim fetching = new(1, 1);

    public IEnumerable<SecurityKey> Keys => current?.Keys ?? [];
    public bool HasKeys => current is not null;

    public async Task EnsureAsync(string? kid, CancellationToken ct)
    {
        if (Fresh(current, kid)) return;
        await fetching.WaitAsync(ct);
        try
        {
            var snapshot = current;
            if (Fresh(snapshot, kid)) return;
            // An unknown key id fetches again at most every KeyRefreshMinimum: random key ids cannot make us hammer the issuer.
            if (snapshot is not null && DateTimeOffset.UtcNow - lastAttempt < issuer.KeyRefreshMinimum
                && DateTimeOffset.UtcNow - snapshot.FetchedAt < RefreshEvery) return;
            lastAttempt = DateTimeOffset.UtcNow;
            var retriever = new HttpDocumentRetriever(http.CreateClient(nameof(IssuerKeys))) { RequireHttps = issuer.RequireHttpsMetadata };
            var address = issuer.MetadataAddress ?? issuer.Issuer.TrimEnd('/') + "/.well-known/openid-configuration";
            var configuration = await OpenIdConnectConfigurationRetriever.GetAsync(address, retriever, ct);
            var keys = configuration.SigningKeys.ToList();
            current = new Snapshot(keys, [.. keys.Select(k => k.KeyId).Where(k => k is not null)], DateTimeOffset.UtcNow);
        }
        finally
        {
            fetching.Release();
        }
    }

    private static bool Fresh(Snapshot? s, string? kid) =>
        s is not null && (kid is null || s.Ids.Contains(kid)) && DateTimeOffset.UtcNow - s.FetchedAt < RefreshEvery;
}
