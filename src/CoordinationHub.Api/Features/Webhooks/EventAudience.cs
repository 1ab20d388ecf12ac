using System.Data.Common;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.Webhooks;

/// <summary>
/// Who is entitled to see an event: the one place that answers it, per resource type, for events
/// not addressed when written. A referral's events are addressed in the transaction that writes them
/// (<c>ReferralVisibility.Audience</c>: whom it involves then changes with a transfer, and must not
/// depend on how late the sequencer runs); the parties of a convention, a delegation or an import do
/// not change, so theirs are resolved here, when sequenced. The webhook subscriptions and the feed
/// both read the audience recorded when the event is sequenced.
/// </summary>
public sealed class EventAudience(Db db)
{
    /// <summary>IN lists are cut to this size (SQL Server takes 2,100 parameters a statement).</summary>
    private const int Chunk = 500;

    /// <summary>
    /// The audience of each resource, read with one query per resource type and 500 resources (a bulk push's events
    /// are a thousand delegations); a resource type with no audience, or a resource that is gone, has none.
    /// </summary>
    public async Task<Dictionary<(string Type, Guid Id), IReadOnlyList<Guid>>> ResolveAsync(DbConnection c, DbTransaction tx,
        IEnumerable<(string Type, Guid Id)> resources, CancellationToken ct)
    {
        var audiences = new Dictionary<(string Type, Guid Id), IReadOnlyList<Guid>>();
        foreach (var type in resources.Distinct().GroupBy(r => r.Type, StringComparer.Ordinal))
        {
            foreach (var r in type) audiences[r] = [];
            var sql = type.Key switch
            {
                // The parties of the convention.
                "convention" => ConventionSql,
                // The delegator and the delegate.
                "delegation" => DelegationSql,
                // Events written before they were addressed: the sender and the current receiver.
                "referral" => ReferralSql,
                // The delegator whose delegations were pushed, and the organisation that pushed them.
                "import" => ImportSql,
                // The organisation of the key (the platform administrator's keys have none).
                "api_key" => ApiKeySql,
                // The organisation whose access changed.
                "organisation_access" => OrganisationAccessSql,
                _ => null,
            };
            if (sql is null) continue;
            foreach (var ids in type.Select(r => r.Id).Chunk(Chunk))
                foreach (var resource in (await c.QueryAsync<AudienceRow>(db.Command(sql, new { ids }, ct, tx))).GroupBy(a => a.ResourceId))
                    audiences[(type.Key, resource.Key)] = resource.Select(a => a.OrganisationId).Distinct().ToList();
        }
        return audiences;
    }

    /// <summary>The audience an event was addressed to when written (ids, comma-separated).</summary>
    public static IReadOnlyList<Guid> Parse(string audience) =>
        [.. audience.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(Guid.Parse)];

    private sealed class AudienceRow { public Guid ResourceId { get; init; } public Guid OrganisationId { get; init; } }

    private const string ReferralSql = """
        SELECT id AS resource_id, sender_id AS organisation_id FROM referral WHERE id {in:ids}
        UNION
        SELECT id, receiver_id FROM referral WHERE id {in:ids}
        """;
    private const string ApiKeySql = """
        SELECT id AS resource_id, organisation_id FROM api_key WHERE id {in:ids} AND organisation_id IS NOT NULL
        """;
    private const string OrganisationAccessSql = """
        SELECT organisation_id AS resource_id, organisation_id FROM organisation_access WHERE organisation_id {in:ids}
        """;
    private const string ImportSql = """
        SELECT id AS resource_id, delegator_id AS organisation_id FROM import_job WHERE id {in:ids}
        UNION
        SELECT id, organisation_id FROM import_job WHERE id {in:ids} AND organisation_id IS NOT NULL
        """;
    private const string ConventionSql = """
        SELECT convention_id AS resource_id, organisation_id FROM convention_party WHERE convention_id {in:ids}
        """;
    private const string DelegationSql = """
        SELECT id AS resource_id, delegator_id AS organisation_id FROM delegation WHERE id {in:ids}
        UNION
        SELECT id, delegate_id FROM delegation WHERE id {in:ids}
        """;
}
