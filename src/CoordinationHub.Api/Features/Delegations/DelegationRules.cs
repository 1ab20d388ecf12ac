using System.Data.Common;
using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Features.Competences;
using CoordinationHub.Features.Conventions;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;

namespace CoordinationHub.Features.Delegations;

/// <summary>"A delegates C to B on communes T from StartOn to EndOn under convention K."</summary>
public sealed record DelegationProposal(
    Guid? Id, Guid DelegatorId, Guid DelegateId, string Competence, Guid ConventionId,
    IReadOnlyList<CommuneRef> Communes, DateOnly StartOn, DateOnly EndOn);

/// <summary>
/// The rules a legal clerk insists on, checked inside the writing transaction after locking the
/// delegator (so two delegations by one delegator are checked one after the other), and the
/// writing of versions, map and change log shared by every delegation use case.
/// </summary>
public sealed class DelegationRules(Db db, Caller caller, ChangeLog changeLog, CompetenceMapWriter map, TimeProvider clock)
{
    public async Task CheckAsync(DbConnection c, DbTransaction tx, DelegationProposal p, CancellationToken ct)
    {
        // Serialises delegations granted by the same organisation: the overlap check below holds.
        var delegator = await c.QuerySingleOrDefaultAsync<PartyRow>(db.Command(LockOrganisationSql, new { id = p.DelegatorId }, ct, tx));
        var @delegate = await c.QuerySingleOrDefaultAsync<PartyRow>(db.Command(OrganisationSql, new { id = p.DelegateId }, ct, tx));
        if (delegator is null || !delegator.IsActive) throw new RuleException("delegations.unknown-delegator", $"The delegator {p.DelegatorId} is not an active organisation of the directory.");
        if (@delegate is null || !@delegate.IsActive) throw new RuleException("delegations.unknown-delegate", $"The delegate {p.DelegateId} is not an active organisation of the directory.");
        if (!caller.IsPlatformAdmin && !caller.Is(p.DelegatorId)) throw new ForbiddenException("Only the delegator grants or changes its delegations.");

        var competence = await c.QuerySingleOrDefaultAsync<CompetenceDto>(db.Command(CompetenceSql, new { code = p.Competence }, ct, tx))
            ?? throw new RuleException("delegations.unknown-competence", $"'{p.Competence}' is not in the competence catalogue.");

        var convention = await ConventionStore.LoadAsync(db, c, tx, p.ConventionId, ct);
        if (convention is null || convention.Recorded == ConventionStatus.DRAFT)
            throw new RuleException("delegations.convention-not-signed", $"Convention {p.ConventionId} does not exist or is not signed by all its parties.") { ConflictingResource = Conventions(p.ConventionId) };
        if (!convention.IsParty(p.DelegatorId) || !convention.IsParty(p.DelegateId))
            throw new RuleException("delegations.not-parties", $"Convention {convention.Reference} must list both {delegator.Name} and {@delegate.Name} as parties.") { ConflictingResource = Conventions(p.ConventionId) };
        var terms = convention.TermsOn(p.StartOn);
        if (!terms.Competences.Contains(p.Competence))
            throw new RuleException("delegations.competence-not-covered", $"Convention {convention.Reference} does not cover {p.Competence}.") { ConflictingResource = Conventions(p.ConventionId) };
        var outside = p.Communes.Where(x => !terms.Communes.Contains(x.Id)).ToList();
        if (outside.Count > 0)
            throw new RuleException("delegations.territory-not-covered", $"Convention {convention.Reference} does not cover {Names(outside)}.") { ConflictingResource = Conventions(p.ConventionId) };
        if (!convention.InForceThroughout(p.StartOn, p.EndOn))
            throw new RuleException("delegations.convention-not-in-force",
                $"Convention {convention.Reference} is not in force from {p.StartOn:yyyy-MM-dd} to {p.EndOn:yyyy-MM-dd} (status on {p.StartOn:yyyy-MM-dd}: {convention.StatusOn(p.StartOn)}, last day {convention.LastDayOn(p.StartOn):yyyy-MM-dd}).")
                { ConflictingResource = Conventions(p.ConventionId) };

        await CheckHoldingAsync(c, tx, p, competence, delegator, ct);

        if (competence.IsLegal)
        {
            // One responsible body per commune at any date: the delegator cannot hand the same commune twice.
            var communes = p.Communes.Select(x => x.Id).ToHashSet();
            var clash = (await c.QueryAsync<DelegationCommuneRow>(db.Command(SameDelegatorSql, new
            {
                competence = p.Competence, delegatorId = p.DelegatorId, startOn = p.StartOn, endOn = p.EndOn, self = p.Id ?? Guid.Empty,
            }, ct, tx))).FirstOrDefault(r => communes.Contains(r.CommuneId));
            if (clash is not null)
                throw new ConflictException("delegations.overlap",
                    $"{p.Competence} is already delegated by {delegator.Name} on {p.Communes.First(x => x.Id == clash.CommuneId).Name} from {clash.StartOn:yyyy-MM-dd} to {clash.EndOn:yyyy-MM-dd}: a legal competence has one responsible body per commune at any date.")
                    { ConflictingResource = $"/v1/delegations/{clash.Id}" };
        }
    }

    /// <summary>A must hold C on every commune at every date: by law, or by a delegation whose convention allows sub-delegation.</summary>
    private async Task CheckHoldingAsync(DbConnection c, DbTransaction tx, DelegationProposal p, CompetenceDto competence, PartyRow delegator, CancellationToken ct)
    {
        var laws = await map.LawAsync(c, tx, p.Communes.Select(x => x.Id).ToList(), ct);
        List<DelegationCommuneRow>? held = null;
        foreach (var commune in p.Communes)
        {
            var law = laws.GetValueOrDefault(commune.Id) ?? new CommuneLaw(commune.Id, null, []);
            var changes = law.ChangesOf(competence.HolderKind).ToList();
            if (changes.Count == 0 && law.HolderOn(competence.HolderKind, p.StartOn) == p.DelegatorId) continue;
            held ??= (await c.QueryAsync<DelegationCommuneRow>(db.Command(HeldSql, new
            {
                competence = p.Competence, delegateId = p.DelegatorId, startOn = p.StartOn, endOn = p.EndOn, self = p.Id ?? Guid.Empty,
            }, ct, tx))).ToList();
            var spans = held.Where(h => h.CommuneId == commune.Id).Select(h => h.ToSpan()).ToList();
            if (Responsibility.FirstDayNotHeld(p.DelegatorId, d => law.HolderOn(competence.HolderKind, d), changes, spans, p.StartOn, p.EndOn) is { } day)
                throw new RuleException("delegations.delegator-does-not-hold",
                    $"{delegator.Name} does not hold {p.Competence} on {commune.Name} ({commune.Code}) on {day:yyyy-MM-dd}: neither by law nor by a delegation.");
        }
        if (held is null) return;
        foreach (var conventionId in held.Select(h => h.ConventionId).Distinct())
        {
            var parent = await ConventionStore.LoadAsync(db, c, tx, conventionId, ct);
            if (parent is not null && !parent.TermsOn(p.StartOn).AllowsSubdelegation)
                throw new RuleException("delegations.subdelegation-not-allowed",
                    $"{delegator.Name} holds {p.Competence} by a delegation under convention {parent.Reference}, which does not allow sub-delegation.") { ConflictingResource = Conventions(conventionId) };
        }
    }

    /// <summary>Records a version (its dates and communes), mirrors it on the delegation row, recomputes the map and logs the change.</summary>
    public async Task RecordVersionAsync(DbConnection c, DbTransaction tx, Guid id, int versionNo, DateOnly startOn, DateOnly endOn,
        IReadOnlyList<Guid> communes, DelegationChange change, string? reason, string competence, object? before, CancellationToken ct)
    {
        await c.ExecuteAsync(db.Command(InsertVersionSql, new { id, versionNo, startOn, endOn, change = change.ToString(), reason, now = clock.GetUtcNow(), recordedBy = caller.KeyId }, ct, tx));
        await db.InsertRowsAsync(c, tx, "delegation_commune", CommuneColumns, [System.Data.DbType.Guid, System.Data.DbType.Int32, System.Data.DbType.Guid],
            communes.Select(commune => new object?[] { id, versionNo, commune }), ct);
        if (versionNo > 1)
            await c.ExecuteAsync(db.Command(MirrorSql, new { id, versionNo, startOn, endOn, reason = change == DelegationChange.CHANGED ? null : reason, now = clock.GetUtcNow() }, ct, tx));
        await map.RecomputeDelegationAsync(c, tx, id, competence, ct);
        var after = await DelegationStore.LoadAsync(db, c, tx, id, null, ct);
        await changeLog.RecordAsync(c, tx, "delegation", id, "delegation." + change.ToString().ToLowerInvariant().Replace('_', '-'), before, after, ct);
    }

    internal static readonly string[] CommuneColumns = ["delegation_id", "version_no", "commune_id"];

    private static string Conventions(Guid id) => $"/v1/conventions/{id}";
    private static string Names(IReadOnlyList<CommuneRef> communes) =>
        string.Join(", ", communes.Take(5).Select(x => $"{x.Name} ({x.Code})")) + (communes.Count > 5 ? $" and {communes.Count - 5} other communes" : "");

    private sealed class PartyRow { public Guid Id { get; init; } public string Name { get; init; } = ""; public bool IsActive { get; init; } }

    private const string LockOrganisationSql = "SELECT id, name, is_active FROM organisation {lock} WHERE id = @id {for_update}";
    private const string OrganisationSql = "SELECT id, name, is_active FROM organisation WHERE id = @id";
    private const string CompetenceSql = "SELECT code, label, holder_kind, legal_basis, is_legal FROM competence WHERE code = @code";
    private const string SameDelegatorSql = """
        SELECT d.id, d.delegator_id, d.delegate_id, d.convention_id, d.start_on, d.end_on, dc.commune_id
        FROM delegation d
        JOIN delegation_commune dc ON dc.delegation_id = d.id AND dc.version_no = d.current_version
        WHERE d.competence_code = @competence AND d.delegator_id = @delegatorId
          AND d.start_on <= @endOn AND d.end_on >= @startOn AND d.start_on <= d.end_on AND d.id <> @self
        """;
    private const string HeldSql = """
        SELECT d.id, d.delegator_id, d.delegate_id, d.convention_id, d.start_on, d.end_on, dc.commune_id
        FROM delegation d
        JOIN delegation_commune dc ON dc.delegation_id = d.id AND dc.version_no = d.current_version
        WHERE d.competence_code = @competence AND d.delegate_id = @delegateId
          AND d.start_on <= @endOn AND d.end_on >= @startOn AND d.start_on <= d.end_on AND d.id <> @self
        """;
    private const string InsertVersionSql = """
        INSERT INTO delegation_version (delegation_id, version_no, start_on, end_on, change, reason, recorded_at, recorded_by)
        VALUES (@id, @versionNo, @startOn, @endOn, @change, @reason, @now, @recordedBy)
        """;
    private const string MirrorSql = """
        UPDATE delegation
        SET current_version = @versionNo, start_on = @startOn, end_on = @endOn, ended_reason = @reason, version = version + 1, updated_at = @now
        WHERE id = @id
        """;
}
