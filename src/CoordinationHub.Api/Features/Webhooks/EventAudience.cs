using System.Data.Common;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.Webhooks;

/// <summary>
/// Who is entitled to see an event: the one place that answers it, per resource type. The webhook
/// subscriptions and the feed both read the audience recorded when the event is sequenced.
/// </summary>
public sealed class EventAudience(Db db)
{
    public async Task<IReadOnlyList<Guid>> ResolveAsync(DbConnection c, DbTransaction tx, string resourceType, Guid resourceId, CancellationToken ct)
    {
        var sql = resourceType switch
        {
            // The parties of the convention.
            "convention" => ConventionSql,
            // The delegator and the delegate.
            "delegation" => DelegationSql,
            // The sender and the current receiver (one that transferred it learns no more of it).
            "referral" => ReferralSql,
            // The delegator whose delegations were pushed, and the organisation that pushed them.
            "import" => ImportSql,
            _ => null,
        };
        if (sql is null) return [];
        var ids = await c.QueryAsync<Guid>(db.Command(sql, new { id = resourceId }, ct, tx));
        return ids.Distinct().ToList();
    }

    private const string ReferralSql = """
        SELECT sender_id FROM referral WHERE id = @id
        UNION
        SELECT receiver_id FROM referral WHERE id = @id
        """;
    private const string ImportSql = """
        SELECT delegator_id FROM import_job WHERE id = @id
        UNION
        SELECT organisation_id FROM import_job WHERE id = @id AND organisation_id IS NOT NULL
        """;
    private const string ConventionSql = "SELECT organisation_id FROM convention_party WHERE convention_id = @id";
    private const string DelegationSql = """
        SELECT delegator_id FROM delegation WHERE id = @id
        UNION
        SELECT delegate_id FROM delegation WHERE id = @id
        """;
}
