namespace CoordinationHub.Platform.Auth;

/// <summary>
/// Who is calling, set once per request by the authentication (an API key or an issuer's token), read by handlers
/// (which never see HTTP). Anonymous until authenticated.
/// </summary>
public sealed class Caller
{
    /// <summary>The API key; for a token, a stable id of its issuer and subject (the key of idempotency records, rate limits).</summary>
    public Guid KeyId { get; private set; }
    public Guid? OrganisationId { get; private set; }
    public bool IsPlatformAdmin { get; private set; }
    public IReadOnlySet<string> Scopes { get; private set; } = new HashSet<string>();
    /// <summary>When the API key stops working (null: never, or a token).</summary>
    public DateTimeOffset? ExpiresAt { get; private set; }
    /// <summary>The agent an issuer's token proves (null: an API key or a machine client; any agent is then declared).</summary>
    public AuthenticatedAgent? Agent { get; private set; }
    public bool IsAuthenticated => KeyId != Guid.Empty;

    public void Set(ApiKeyIdentity identity)
    {
        KeyId = identity.Id;
        OrganisationId = identity.OrganisationId;
        IsPlatformAdmin = identity.IsPlatformAdmin;
        Scopes = identity.Scopes;
        ExpiresAt = identity.ExpiresAt;
    }

    public void Set(ApiKeyIdentity identity, AuthenticatedAgent? agent)
    {
        Set(identity);
        Agent = agent;
    }

    public bool Has(string scope) => IsPlatformAdmin || Scopes.Contains(scope);
    public bool Is(Guid organisationId) => OrganisationId == organisationId;
}

public sealed record ApiKeyIdentity(
    Guid Id, Guid? OrganisationId, bool IsPlatformAdmin, IReadOnlySet<string> Scopes, DateTimeOffset? ExpiresAt = null);

/// <summary>An agent proven by an OpenID Connect issuer: its subject there, name and e-mail from the token.</summary>
public sealed record AuthenticatedAgent(string Issuer, string Subject, string? Name, string? Email)
{
    /// <summary>The agent's reference in the hub: its e-mail when the token gives one (what people recognise), else its subject.</summary>
    public string Reference => Email ?? Subject;
    public string DisplayName => Name ?? Reference;

    /// <summary>Whether a declared agent reference names this agent (its e-mail or its subject, case aside).</summary>
    public bool Matches(string declared) =>
        string.Equals(declared.Trim(), Subject, StringComparison.Ordinal)
        || (Email is not null && string.Equals(declared.Trim(), Email, StringComparison.OrdinalIgnoreCase));
}
