using CoordinationHub.Platform.OpenApi;
using System.Data.Common;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.Delegations;

public enum DelegationChange { CREATED, CHANGED, ENDED, ENDED_WITH_CONVENTION }

/// <summary>A delegation of competence as one of its versions recorded it.</summary>
[ContractName("Delegation")]
public sealed class DelegationDto
{
    public Guid Id { get; init; }
    public Guid DelegatorId { get; init; }
    public Guid DelegateId { get; init; }
    public string Competence { get; init; } = "";
    public Guid ConventionId { get; init; }
    public string? ExternalRef { get; init; }
    public DateOnly StartOn { get; init; }
    /// <summary>Last day (inclusive). Before <see cref="StartOn"/> when it ended before it began.</summary>
    public DateOnly EndOn { get; init; }
    public IReadOnlyList<Guid> CommuneIds { get; init; } = [];
    /// <summary>The version shown: 1 when created, +1 at each change.</summary>
    public int VersionNo { get; init; }
    public DelegationChange LastChange { get; init; }
    public string? Reason { get; init; }
    public DateTimeOffset RecordedAt { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    [System.Text.Json.Serialization.JsonIgnore] public int Version { get; init; }
}

/// <summary>A delegation's current span on one of its communes, as the rule and map queries read it.</summary>
public sealed class DelegationCommuneRow
{
    public Guid Id { get; init; }
    public Guid DelegatorId { get; init; }
    public Guid DelegateId { get; init; }
    public Guid ConventionId { get; init; }
    public DateOnly StartOn { get; init; }
    public DateOnly EndOn { get; init; }
    public Guid CommuneId { get; init; }
    public string CompetenceCode { get; init; } = "";

    public bool Overlaps(DateOnly startOn, DateOnly endOn) => StartOn <= endOn && EndOn >= startOn && StartOn <= EndOn;
    public DelegationSpan ToSpan() => new(Id, DelegatorId, DelegateId, ConventionId, StartOn, EndOn);
}

public static class DelegationStore
{
    /// <summary>The delegation at its current version, or as recorded at <paramref name="recordedBy"/>.</summary>
    public static async Task<DelegationDto?> LoadAsync(Db db, DbConnection c, DbTransaction? tx, Guid id, DateTimeOffset? recordedBy, CancellationToken ct)
    {
        var head = await c.QuerySingleOrDefaultAsync<HeadRow>(db.Command(HeadSql, new { id }, ct, tx));
        if (head is null) return null;
        var version = recordedBy is { } at
            ? await c.QuerySingleOrDefaultAsync<VersionRow>(db.Command(VersionAsOfSql, new { id, at }, ct, tx))
            : await c.QuerySingleOrDefaultAsync<VersionRow>(db.Command(VersionSql, new { id, versionNo = head.CurrentVersion }, ct, tx));
        if (version is null) return null;
        var communes = (await c.QueryAsync<Guid>(db.Command(CommunesSql, new { id, versionNo = version.VersionNo }, ct, tx))).ToList();
        return ToDto(head, version, communes);
    }

    private static DelegationDto ToDto(HeadRow head, VersionRow version, IReadOnlyList<Guid> communes) => new()
    {
        Id = head.Id, DelegatorId = head.DelegatorId, DelegateId = head.DelegateId, Competence = head.CompetenceCode, ConventionId = head.ConventionId,
        ExternalRef = head.ExternalRef, StartOn = version.StartOn, EndOn = version.EndOn, CommuneIds = communes, VersionNo = version.VersionNo,
        LastChange = Enum.Parse<DelegationChange>(version.Change), Reason = version.Reason, RecordedAt = version.RecordedAt, CreatedAt = head.CreatedAt,
        Version = head.Version,
    };

    /// <summary>The current version of many delegations, in the order of <paramref name="ids"/> (unknown ids are skipped).</summary>
    public static async Task<IReadOnlyList<DelegationDto>> LoadCurrentAsync(Db db, DbConnection c, DbTransaction? tx, IReadOnlyCollection<Guid> ids,
        CancellationToken ct)
    {
        var found = new Dictionary<Guid, DelegationDto>();
        foreach (var chunk in ids.Distinct().Chunk(500))
        {
            var communes = (await c.QueryAsync<CommuneRow>(db.Command(CurrentCommunesSql, new { ids = chunk }, ct, tx)))
                .ToLookup(r => r.DelegationId, r => r.CommuneId);
            var rows = await c.QueryAsync<HeadRow, VersionRow, (HeadRow Head, VersionRow Version)>(
                db.Command(CurrentSql, new { ids = chunk }, ct, tx), (head, version) => (head, version), splitOn: "version_no");
            foreach (var (head, version) in rows) found[head.Id] = ToDto(head, version, [.. communes[head.Id].Order()]);
        }
        return [.. ids.Where(found.ContainsKey).Select(id => found[id])];
    }

    private sealed class CommuneRow { public Guid DelegationId { get; init; } public Guid CommuneId { get; init; } }

    private sealed class HeadRow
    {
        public Guid Id { get; init; }
        public Guid DelegatorId { get; init; }
        public Guid DelegateId { get; init; }
        public string CompetenceCode { get; init; } = "";
        public Guid ConventionId { get; init; }
        public string? ExternalRef { get; init; }
        public int CurrentVersion { get; init; }
        public int Version { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
    }

    internal sealed class VersionRow
    {
        public int VersionNo { get; init; }
        public DateOnly StartOn { get; init; }
        public DateOnly EndOn { get; init; }
        public string Change { get; init; } = "";
        public string? Reason { get; init; }
        public DateTimeOffset RecordedAt { get; init; }
    }

    private const string HeadSql = """
        SELECT id, delegator_id, delegate_id, competence_code, convention_id, external_ref, current_version, version, created_at
        FROM delegation WHERE id = @id
        """;
    private const string VersionSql = """
        SELECT version_no, start_on, end_on, change, reason, recorded_at
        FROM delegation_version WHERE delegation_id = @id AND version_no = @versionNo
        """;
    private const string VersionAsOfSql = """
        SELECT version_no, start_on, end_on, change, reason, recorded_at
        FROM delegation_version
        WHERE delegation_id = @id AND version_no = (SELECT MAX(v.version_no) FROM delegation_version v WHERE v.delegation_id = @id AND v.recorded_at <= @at)
        """;
    private const string CurrentSql = """
        SELECT d.id, d.delegator_id, d.delegate_id, d.competence_code, d.convention_id, d.external_ref, d.current_version, d.version, d.created_at,
               v.version_no, v.start_on, v.end_on, v.change, v.reason, v.recorded_at
        FROM delegation d
        JOIN delegation_version v ON v.delegation_id = d.id AND v.version_no = d.current_version
        WHERE d.id {in:ids}
        """;
    private const string CurrentCommunesSql = """
        SELECT dc.delegation_id, dc.commune_id
        FROM delegation d
        JOIN delegation_commune dc ON dc.delegation_id = d.id AND dc.version_no = d.current_version
        WHERE d.id {in:ids}
        """;
    private const string CommunesSql = "SELECT commune_id FROM delegation_commune WHERE delegation_id = @id AND version_no = @versionNo ORDER BY commune_id";
}

/// <summary>
/// A delegator's own reference of a delegation: what a push is keyed by and its export writes back. One line of at most
/// <see cref="MaxLength"/> characters, no control character, no space at either end; <c>CH-&lt;id&gt;</c> when none is given.
/// </summary>
public static class ExternalRefs
{
    public const int MaxLength = 100;
    public const string Rule = "An external reference is 1 to 100 characters on one line (no control character), without spaces at either end.";

    public static bool IsWellFormed(string? value) =>
        value is null || (value.Length is > 0 and <= MaxLength && value.Trim() == value && !value.Any(char.IsControl));

    public static string Generated(Guid id) => $"CH-{id}";
}
