namespace CoordinationHub.Platform.Auth;

/// <summary>
/// Who is calling, set once per request by the API-key authentication, read by handlers
/// (which never see HTTP). Anonymous until authenticated.
/// </summary>
public sealed class Caller
{
    public Guid KeyId { get; private set; }
    public Guid? OrganisationId { get; private set; }
    public bool IsPlatformAdmin { get; private set; }
    public IReadOnlySet<string> Scopes { get; private set; } = new HashSet<string>();
    public bool IsAuthenticated => KeyId != Guid.Empty;

    public void Set(ApiKeyIdentity identity)
    {
        KeyId = identity.Id;
        OrganisationId = identity.OrganisationId;
        IsPlatformAdmin = identity.IsPlatformAdmin;
        Scopes = identity.Scopes;
    }

    public bool Has(string scope) => IsPlatformAdmin || Scopes.Contains(scope);
    public bool Is(Guid organisationId) => OrganisationId == organisationId;
}

public sealed record ApiKeyIdentity(Guid Id, Guid? OrganisationId, bool IsPlatformAdmin, IReadOnlySet<string> Scopes);
