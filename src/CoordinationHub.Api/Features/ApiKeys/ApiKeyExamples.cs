using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Http;

namespace CoordinationHub.Features.ApiKeys;

/// <summary>The contract's examples for the key management bodies (read by ContractExamples).</summary>
public static class ApiKeyExamples
{
    private static readonly Guid NordId = Guid.Parse("0199a1b2-0000-7000-8000-000000000059");
    private static readonly DateTimeOffset At = new(2026, 3, 2, 9, 30, 0, TimeSpan.Zero);

    private static readonly ApiKeyDto Key = new()
    {
        Id = Guid.Parse("019a1c3d-4e5f-7a6b-8c7d-9e0f1a2b3c4d"), OrganisationId = NordId, Label = "Logiciel RSA du Nord",
        Prefix = "chk_Zm9vYmFy", Scopes = [Scopes.DirectoryRead, Scopes.ReferralsRead, Scopes.ReferralsWrite], CreatedAt = At,
        ExpiresAt = At.AddYears(1), LastUsedAt = At.AddDays(3), Version = 1,
    };

    private static readonly OrganisationAccessDto Access = new()
    {
        OrganisationId = NordId, Scopes = [Scopes.DirectoryRead, Scopes.ReferralsRead, Scopes.ReferralsWrite],
        RequireAuthenticatedAgent = true, Version = 2, UpdatedAt = At,
    };

    private static readonly Dictionary<Type, object> Examples = new()
    {
        [typeof(CreateApiKeyCommand)] = new CreateApiKeyCommand(Key.Label, Key.Scopes, Key.ExpiresAt, null),
        [typeof(ApiKeyDto)] = Key,
        [typeof(ApiKeySecretDto)] = new ApiKeySecretDto { ApiKey = Key, Key = "chk_Zm9vYmFyYmF6cXV4LXNob3duLW9uY2Utb25seS1leGFtcGxl" },
        [typeof(PageResponse<ApiKeyDto>)] = new PageResponse<ApiKeyDto>([Key], null, null),
        [typeof(ApiKeyChange)] = new ApiKeyChange(null, [Scopes.DirectoryRead, Scopes.ReferralsRead], At.AddMonths(6)),
        [typeof(OrganisationAccessDto)] = Access,
        [typeof(OrganisationAccessChange)] = new OrganisationAccessChange(Access.Scopes, true),
    };

    public static object? For(Type type) => Examples.GetValueOrDefault(type);
}
