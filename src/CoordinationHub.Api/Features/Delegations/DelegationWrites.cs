using System.Data.Common;
using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;

namespace CoordinationHub.Features.Delegations;

/// <summary>
/// A delegation is granted, changed or ended only here, inside the caller's transaction: the API's
/// use cases (a batch of one) and the départements' bulk push (batches of many) go through the same
/// rules and write the same versions, map periods, audit records and events.
/// </summary>
public sealed class DelegationWrites(Db db, DelegationRules rules, ChangeLog changeLog, CompetenceMapWriter map, Caller caller, TimeProvider clock)
{
    public DelegationRules Rules => rules;

    /// <summary>Writes to gather, then flush in bulk; the map is recomputed once, at the end.</summary>
    public DelegationBatch Batch() => new(db, changeLog, map, caller.KeyId, clock);

    public async Task<Guid> CreateAsync(DbConnection c, DbTransaction tx, DelegationProposal p, string? externalRef, CancellationToken ct)
    {
        await rules.CheckAsync(c, tx, p, ct);
        if (externalRef is not null
            && await c.QuerySingleOrDefaultAsync<Guid?>(db.Command(ExternalRefSql, new { delegatorId = p.DelegatorId, externalRef }, ct, tx)) is { } taken)
            throw new ConflictException("delegations.external-ref-taken", $"The delegator already has a delegation with external reference '{externalRef}'.")
                { ConflictingResource = $"/v1/delegations/{taken}" };
        var batch = Batch();
        var id = batch.Create(p, externalRef);
        await batch.CompleteAsync(c, tx, ct);
        return id;
    }

    /// <summary>A new period or territory; the delegator, delegate, competence and convention stay.</summary>
    public async Task ChangeAsync(DbConnection c, DbTransaction tx, DelegationDto current, IReadOnlyList<CommuneRef> communes,
        DateOnly startOn, DateOnly endOn, string? reason, CancellationToken ct)
    {
        await rules.CheckAsync(c, tx, ProposalOf(current, communes, startOn, endOn), ct);
        var batch = Batch();
        batch.Change(current, communes, startOn, endOn, reason);
        await batch.CompleteAsync(c, tx, ct);
    }

    public async Task EndAsync(DbConnection c, DbTransaction tx, DelegationDto current, DateOnly lastDay, string reason, CancellationToken ct)
    {
        var batch = Batch();
        batch.End(current, lastDay, reason);
        await batch.CompleteAsync(c, tx, ct);
    }

    /// <summary>What a change of <paramref name="current"/> proposes: the same parties, competence and convention.</summary>
    public static DelegationProposal ProposalOf(DelegationDto current, IReadOnlyList<CommuneRef> communes, DateOnly startOn, DateOnly endOn) =>
        new(current.Id, current.DelegatorId, current.DelegateId, current.Competence, current.ConventionId, communes, startOn, endOn);

    private const string ExternalRefSql = "SELECT id FROM delegation WHERE delegator_id = @delegatorId AND external_ref = @externalRef";
}

/// <summary>
/// Delegation writes gathered in memory and written in bulk by <see cref="FlushAsync"/> (the rows of
/// many delegations in a few statements); the map periods of every (commune, competence) touched are
/// recomputed once, by <see cref="RecomputeMapAsync"/>, after the last flush. Nothing here checks a
/// rule: callers check the proposals first (<see cref="DelegationRules"/>).
/// </summary>
public sealed class DelegationBatch(Db db, ChangeLog changeLog, CompetenceMapWriter map, Guid recordedBy, TimeProvider clock)
{
    private readonly List<object?[]> heads = [];
    private readonly List<object?[]> versions = [];
    private readonly List<object?[]> communes = [];
    private readonly List<object> mirrors = [];
    private readonly List<ChangeLog.Entry> log = [];
    /// <summary>The communes touched per competence: bounded by the territory, not by the number of writes.</summary>
    private readonly Dictionary<string, HashSet<Guid>> touched = new(StringComparer.Ordinal);

    /// <summary>Rows waiting for <see cref="FlushAsync"/>.</summary>
    public int Pending => heads.Count + versions.Count + communes.Count + log.Count;

    public Guid Create(DelegationProposal p, string? externalRef)
    {
        var id = Guid.CreateVersion7();
        var now = clock.GetUtcNow();
        // Every delegation has a reference the push layout exports and a push matches back: CH-<id> when none was given.
        externalRef ??= ExternalRefs.Generated(id);
        heads.Add([id, p.DelegatorId, p.DelegateId, p.Competence, p.ConventionId, externalRef, 1, p.StartOn, p.EndOn, null, 1, now, now]);
        Record(new DelegationDto
        {
            Id = id, DelegatorId = p.DelegatorId, DelegateId = p.DelegateId, Competence = p.Competence, ConventionId = p.ConventionId,
            ExternalRef = externalRef, StartOn = p.StartOn, EndOn = p.EndOn, CommuneIds = [.. p.Communes.Select(x => x.Id).Order()],
            VersionNo = 1, LastChange = DelegationChange.CREATED, RecordedAt = now, CreatedAt = now, Version = 1,
        }, null, null);
        return id;
    }

    public DelegationDto Change(DelegationDto current, IReadOnlyList<CommuneRef> territory, DateOnly startOn, DateOnly endOn, string? reason) =>
        Record(Next(current, DelegationChange.CHANGED, reason, startOn, endOn, [.. territory.Select(x => x.Id).Order()]), current, reason);

    /// <summary>
    /// Ends a delegation on <paramref name="lastDay"/>. A convention that ends takes its delegations with it
    /// (ENDED_WITH_CONVENTION) whatever their dates: one that had not begun ends before its start.
    /// </summary>
    public DelegationDto End(DelegationDto current, DateOnly lastDay, string reason, DelegationChange change = DelegationChange.ENDED)
    {
        if (change == DelegationChange.ENDED_WITH_CONVENTION) return Record(Next(current, change, reason, current.StartOn, lastDay, current.CommuneIds), current, reason);
        if (lastDay >= current.EndOn)
            throw new RuleException("delegations.not-an-early-end", $"The delegation already ends on {current.EndOn:yyyy-MM-dd}; to extend it, change it (PUT).");
        if (lastDay < current.StartOn.AddDays(-1))
            throw new RuleException("delegations.end-before-start", $"The last day cannot be before the day before the start ({current.StartOn:yyyy-MM-dd}).");
        return Record(Next(current, change, reason, current.StartOn, lastDay, current.CommuneIds), current, reason);
    }

    private DelegationDto Next(DelegationDto current, DelegationChange change, string? reason, DateOnly startOn, DateOnly endOn,
        IReadOnlyList<Guid> territory) => new()
    {
        Id = current.Id, DelegatorId = current.DelegatorId, DelegateId = current.DelegateId, Competence = current.Competence,
        ConventionId = current.ConventionId, ExternalRef = current.ExternalRef, StartOn = startOn, EndOn = endOn, CommuneIds = territory,
        VersionNo = current.VersionNo + 1, LastChange = change, Reason = reason, RecordedAt = clock.GetUtcNow(), CreatedAt = current.CreatedAt,
        Version = current.Version + 1,
    };

    /// <summary>A version (its dates and communes), mirrored on the delegation row, its map periods to recompute, its audit record and event.</summary>
    private DelegationDto Record(DelegationDto after, DelegationDto? before, string? reason)
    {
        versions.Add([after.Id, after.VersionNo, after.StartOn, after.EndOn, after.LastChange.ToString(), reason, after.RecordedAt, recordedBy]);
        foreach (var commune in after.CommuneIds) communes.Add([after.Id, after.VersionNo, commune]);
        if (before is not null)
            mirrors.Add(new
            {
                id = after.Id, versionNo = after.VersionNo, startOn = after.StartOn, endOn = after.EndOn,
                reason = after.LastChange == DelegationChange.CHANGED ? null : reason, now = after.RecordedAt,
            });
        if (!touched.TryGetValue(after.Competence, out var set)) touched[after.Competence] = set = [];
        set.UnionWith(after.CommuneIds);
        if (before is not null) set.UnionWith(before.CommuneIds);
        log.Add(new ChangeLog.Entry("delegation", after.Id, "delegation." + after.LastChange.ToString().ToLowerInvariant().Replace('_', '-'), before, after));
        return after;
    }

    /// <summary>Writes the gathered rows: heads first, then versions and communes, mirrors, audit and events.</summary>
    public async Task FlushAsync(DbConnection c, DbTransaction tx, CancellationToken ct)
    {
        await db.InsertRowsAsync(c, tx, "delegation", HeadColumns, HeadTypes, heads, ct);
        await db.InsertRowsAsync(c, tx, "delegation_version", VersionColumns, VersionTypes, versions, ct);
        await db.InsertRowsAsync(c, tx, "delegation_commune", CommuneColumns, CommuneTypes, communes, ct);
        foreach (var mirror in mirrors) await c.ExecuteAsync(db.Command(MirrorSql, mirror, ct, tx));
        await changeLog.RecordAsync(c, tx, log, ct);
        heads.Clear();
        versions.Clear();
        communes.Clear();
        mirrors.Clear();
        log.Clear();
    }

    /// <summary>The map periods of every (commune, competence) the batch touched, from what the database now holds.</summary>
    public async Task RecomputeMapAsync(DbConnection c, DbTransaction tx, CancellationToken ct)
    {
        await map.RecomputeAsync(c, tx, touched.ToDictionary(t => t.Key, IReadOnlySet<Guid> (t) => t.Value), ct);
        touched.Clear();
    }

    public async Task CompleteAsync(DbConnection c, DbTransaction tx, CancellationToken ct)
    {
        await FlushAsync(c, tx, ct);
        await RecomputeMapAsync(c, tx, ct);
    }

    internal static readonly string[] HeadColumns =
    [
        "id", "delegator_id", "delegate_id", "competence_code", "convention_id", "external_ref", "current_version", "start_on", "end_on",
        "ended_reason", "version", "created_at", "updated_at",
    ];
    private static readonly System.Data.DbType[] HeadTypes =
    [
        System.Data.DbType.Guid, System.Data.DbType.Guid, System.Data.DbType.Guid, System.Data.DbType.String, System.Data.DbType.Guid,
        System.Data.DbType.String, System.Data.DbType.Int32, System.Data.DbType.Date, System.Data.DbType.Date, System.Data.DbType.String,
        System.Data.DbType.Int32, System.Data.DbType.DateTimeOffset, System.Data.DbType.DateTimeOffset,
    ];
    internal static readonly string[] VersionColumns = ["delegation_id", "version_no", "start_on", "end_on", "change", "reason", "recorded_at", "recorded_by"];
    private static readonly System.Data.DbType[] VersionTypes =
    [
        System.Data.DbType.Guid, System.Data.DbType.Int32, System.Data.DbType.Date, System.Data.DbType.Date, System.Data.DbType.String,
        System.Data.DbType.String, System.Data.DbType.DateTimeOffset, System.Data.DbType.Guid,
    ];
    internal static readonly string[] CommuneColumns = ["delegation_id", "version_no", "commune_id"];
    private static readonly System.Data.DbType[] CommuneTypes = [System.Data.DbType.Guid, System.Data.DbType.Int32, System.Data.DbType.Guid];

    private const string MirrorSql = """
        UPDATE delegation
        SET current_version = @versionNo, start_on = @startOn, end_on = @endOn, ended_reason = @reason, version = version + 1, updated_at = @now
        WHERE id = @id
        """;
}
