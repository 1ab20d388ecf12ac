using CoordinationHub.Platform.OpenApi;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Delegations;

/// <summary>Every recorded version of a delegation, oldest first.</summary>
public sealed record ListDelegationVersionsQuery(Guid Id) : IQuery<IReadOnlyList<DelegationVersionDto>>;

[ContractName("DelegationVersion")]
public sealed class DelegationVersionDto
{
    public int VersionNo { get; init; }
    public DateOnly StartOn { get; init; }
    public DateOnly EndOn { get; init; }
    public DelegationChange Change { get; init; }
    public string? Reason { get; init; }
    public DateTimeOffset RecordedAt { get; init; }
    public int Communes { get; init; }
}

public sealed class ListDelegationVersionsHandler(Db db) : IQueryHandler<ListDelegationVersionsQuery, IReadOnlyList<DelegationVersionDto>>
{
    public async ValueTask<IReadOnlyList<DelegationVersionDto>> Handle(ListDelegationVersionsQuery query, CancellationToken ct)
    {
        var versions = await db.RetryAsync(async (c, t) => (await c.QueryAsync<DelegationVersionDto>(db.Command(Sql, new { query.Id }, t))).ToList(), ct);
        return versions.Count == 0 ? throw new NotFoundException("delegation", query.Id) : versions;
    }

    private const string Sql = """
        SELECT v.version_no, v.start_on, v.end_on, v.change, v.reason, v.recorded_at,
               (SELECT COUNT(*) FROM delegation_commune dc WHERE dc.delegation_id = v.delegation_id AND dc.version_no = v.version_no) AS communes
        FROM delegation_version v
        WHERE v.delegation_id = @id
        ORDER BY v.version_no
        """;
}
