namespace CoordinationHub.Platform.Auth;

public static class Scopes
{
    public const string DirectoryRead = "directory:read";
    public const string DirectoryWrite = "directory:write";
    public const string ConventionsRead = "conventions:read";
    public const string ConventionsWrite = "conventions:write";
    public const string DelegationsRead = "delegations:read";
    public const string DelegationsWrite = "delegations:write";
    /// <summary>Bulk pushes of one's delegations (a département's information system).</summary>
    public const string DelegationsImport = "delegations:import";
    public const string ReferralsRead = "referrals:read";
    public const string ReferralsWrite = "referrals:write";
    /// <summary>Webhook subscriptions of the key's organisation: create, rotate, list attempts, redeliver.</summary>
    public const string WebhooksManage = "webhooks:manage";
    /// <summary>The pull feed of the events the key's organisation is entitled to see.</summary>
    public const string EventsRead = "events:read";
    /// <summary>The keys of the key's organisation (create, scope, rotate, revoke), and its access through tokens.</summary>
    public const string ApiKeysManage = "api-keys:manage";
    /// <summary>Platform administration: directory management and every other scope.</summary>
    public const string PlatformAdmin = "platform:admin";

    public static readonly IReadOnlySet<string> All = new HashSet<string>
    {
        DirectoryRead, DirectoryWrite, ConventionsRead, ConventionsWrite,
        DelegationsRead, DelegationsWrite, DelegationsImport, ReferralsRead, ReferralsWrite, WebhooksManage, EventsRead, ApiKeysManage, PlatformAdmin,
    };
}
