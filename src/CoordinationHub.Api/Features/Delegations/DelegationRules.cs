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
/// The rules a legal clerk insists on. What they read is loaded once for a whole batch of one
/// delegator's proposals (<see cref="FactsAsync"/>, inside the writing transaction, after locking the
/// delegator so that two batches of one delegator are checked one after the other); each proposal is
/// then checked in memory (<see cref="Check"/>). A single delegation is a batch of one: the API and the
/// bulk push go through the same checks.
/// </summary>
public sealed class DelegationRules(Db db, Caller caller, CompetenceMapWriter map)
{
    /// <summary>IN lists are cut to this size (SQL Server takes 2,100 parameters a statement).</summary>
    private const int Chunk = 500;

    public async Task CheckAsync(DbConnection c, DbTransaction tx, DelegationProposal p, CancellationToken ct) =>
        Check(p, await FactsAsync(c, tx, p.DelegatorId, [p], ct));

    /// <summary>Everything the rules read about <paramref name="proposals"/>, all of <paramref name="delegatorId"/>.</summary>
    public async Task<RuleFacts> FactsAsync(DbConnection c, DbTransaction tx, Guid delegatorId, IReadOnlyCollection<DelegationProposal> proposals,
        CancellationToken ct)
    {
        // Serialises delegations granted by the same organisation: the overlap check holds.
        var delegator = await c.QuerySingleOrDefaultAsync<RuleFacts.Party>(db.Command(LockOrganisationSql, new { id = delegatorId }, ct, tx));
        var facts = new RuleFacts(delegatorId, delegator);
        if (proposals.Count == 0) return facts;

        foreach (var ids in proposals.Select(p => p.DelegateId).Distinct().Chunk(Chunk))
            foreach (var party in await c.QueryAsync<RuleFacts.Party>(db.Command(OrganisationsSql, new { ids }, ct, tx)))
                facts.Parties[party.Id] = party;
        foreach (var competence in await c.QueryAsync<CompetenceDto>(db.Command(CompetencesSql, null, ct, tx)))
            facts.Competences[competence.Code] = competence;
        foreach (var id in proposals.Select(p => p.ConventionId).Distinct())
            facts.Conventions[id] = await ConventionStore.LoadAsync(db, c, tx, id, ct);

        var communes = proposals.SelectMany(p => p.Communes.Select(x => x.Id)).Distinct().ToList();
        facts.Laws = await map.LawAsync(c, tx, communes, ct);
        var competences = proposals.Select(p => p.Competence).Distinct().ToArray();
        var (startOn, endOn) = (proposals.Min(p => p.StartOn), proposals.Max(p => p.EndOn));
        foreach (var ids in communes.Chunk(Chunk))
        {
            var period = new { delegatorId, competences, ids, startOn, endOn };
            facts.AddGranted(await c.QueryAsync<DelegationCommuneRow>(db.Command(GrantedSql, period, ct, tx)));
            facts.AddHeld(await c.QueryAsync<DelegationCommuneRow>(db.Command(HeldSql, period, ct, tx)));
        }
        foreach (var id in facts.HeldConventions.Where(id => !facts.Conventions.ContainsKey(id)).ToList())
            facts.Conventions[id] = await ConventionStore.LoadAsync(db, c, tx, id, ct);
        return facts;
    }

    /// <summary>Throws the rule <paramref name="p"/> breaks, if any; reads nothing but <paramref name="facts"/>.</summary>
    public void Check(DelegationProposal p, RuleFacts facts)
    {
        var delegator = facts.Delegator;
        var @delegate = facts.Parties.GetValueOrDefault(p.DelegateId);
        if (delegator is null || !delegator.IsActive) throw new RuleException("delegations.unknown-delegator", $"The delegator {p.DelegatorId} is not an active organisation of the directory.");
        if (@delegate is null || !@delegate.IsActive) throw new RuleException("delegations.unknown-delegate", $"The delegate {p.DelegateId} is not an active organisation of the directory.");
        if (!caller.IsPlatformAdmin && !caller.Is(p.DelegatorId)) throw new ForbiddenException("Only the delegator grants or changes its delegations.");

        var competence = facts.Competences.GetValueOrDefault(p.Competence)
            ?? throw new RuleException("delegations.unknown-competence", $"'{p.Competence}' is not in the competence catalogue.");

        var convention = facts.Conventions.GetValueOrDefault(p.ConventionId);
        if (convention is null || convention.Recorded == ConventionStatus.DRAFT)
            throw new RuleException("delegations.convention-not-signed", $"Convention {p.ConventionId} does not exist or is not signed by all its parties.") { ConflictingResource = Conventions(p.ConventionId) };
        if (!convention.IsParty(p.DelegatorId) || !convention.IsParty(p.DelegateId))
            throw new RuleException("delegations.not-parties", $"Convention {convention.Reference} must list both {delegator.Name} and {@delegate.Name} as parties.") { ConflictingResource = Conventions(p.ConventionId) };
        var terms = convention.TermsOn(p.StartOn);
        if (!terms.Competences.Contains(p.Competence))
            throw new RuleException("delegations.competence-not-covered", $"Convention {convention.Reference} does not cover {p.Competence}.") { ConflictingResource = Conventions(p.ConventionId) };
        var covered = facts.CommunesOf(terms);
        var outside = p.Communes.Where(x => !covered.Contains(x.Id)).ToList();
        if (outside.Count > 0)
            throw new RuleException("delegations.territory-not-covered", $"Convention {convention.Reference} does not cover {Names(outside)}.") { ConflictingResource = Conventions(p.ConventionId) };
        if (!convention.InForceThroughout(p.StartOn, p.EndOn))
            throw new RuleException("delegations.convention-not-in-force",
                $"Convention {convention.Reference} is not in force from {p.StartOn:yyyy-MM-dd} to {p.EndOn:yyyy-MM-dd} (status on {p.StartOn:yyyy-MM-dd}: {convention.StatusOn(p.StartOn)}, last day {convention.LastDayOn(p.StartOn):yyyy-MM-dd}).")
                { ConflictingResource = Conventions(p.ConventionId) };

        CheckHolding(p, competence, delegator, facts);

        if (competence.IsLegal)
        {
            // One responsible body per commune at any date: the delegator cannot hand the same commune twice.
            foreach (var commune in p.Communes)
                if (facts.Granted(p.Competence, commune.Id).FirstOrDefault(r => r.Id != p.Id && r.Overlaps(p.StartOn, p.EndOn)) is { } clash)
                    throw new ConflictException("delegations.overlap",
                        $"{p.Competence} is already delegated by {delegator.Name} on {commune.Name} from {clash.StartOn:yyyy-MM-dd} to {clash.EndOn:yyyy-MM-dd}: a legal competence has one responsible body per commune at any date.")
                        { ConflictingResource = $"/v1/delegations/{clash.Id}" };
        }
    }

    /// <summary>A must hold C on every commune at every date: by law, or by a delegation whose convention allows sub-delegation.</summary>
    private static void CheckHolding(DelegationProposal p, CompetenceDto competence, RuleFacts.Party delegator, RuleFacts facts)
    {
        var byDelegation = new List<DelegationCommuneRow>();
        foreach (var commune in p.Communes)
        {
            var law = facts.Laws.GetValueOrDefault(commune.Id) ?? new CommuneLaw(commune.Id, null, []);
            var changes = law.ChangesOf(competence.HolderKind).ToList();
            if (changes.Count == 0 && law.HolderOn(competence.HolderKind, p.StartOn) == p.DelegatorId) continue;
            var held = facts.Held(p.Competence, commune.Id).Where(h => h.Id != p.Id && h.Overlaps(p.StartOn, p.EndOn)).ToList();
            byDelegation.AddRange(held);
            if (Responsibility.FirstDayNotHeld(p.DelegatorId, d => law.HolderOn(competence.HolderKind, d), changes,
                    held.Select(h => h.ToSpan()).ToList(), p.StartOn, p.EndOn) is { } day)
                throw new RuleException("delegations.delegator-does-not-hold",
                    $"{delegator.Name} does not hold {p.Competence} on {commune.Name} ({commune.Code}) on {day:yyyy-MM-dd}: neither by law nor by a delegation.");
        }
        foreach (var conventionId in byDelegation.Select(h => h.ConventionId).Distinct())
        {
            if (facts.Conventions.GetValueOrDefault(conventionId) is { } parent && !parent.TermsOn(p.StartOn).AllowsSubdelegation)
                throw new RuleException("delegations.subdelegation-not-allowed",
                    $"{delegator.Name} holds {p.Competence} by a delegation under convention {parent.Reference}, which does not allow sub-delegation.") { ConflictingResource = Conventions(conventionId) };
        }
    }

    private static string Conventions(Guid id) => $"/v1/conventions/{id}";
    private static string Names(IReadOnlyList<CommuneRef> communes) =>
        string.Join(", ", communes.Take(5).Select(x => $"{x.Name} ({x.Code})")) + (communes.Count > 5 ? $" and {communes.Count - 5} other communes" : "");

    // The delegator's writes queue on its row; rows that only refer to it (a push job queued meanwhile) do not wait.
    private const string LockOrganisationSql = "SELECT id, name, is_active FROM organisation {lock} WHERE id = @id {for_no_key_update}";
    private const string OrganisationsSql = "SELECT id, name, is_active FROM organisation WHERE id {in:ids}";
    private const string CompetencesSql = "SELECT code, label, holder_kind, legal_basis, is_legal FROM competence";
    private const string GrantedSql = """
        SELECT d.id, d.delegator_id, d.delegate_id, d.convention_id, d.competence_code, d.start_on, d.end_on, dc.commune_id
        FROM delegation d
        JOIN delegation_commune dc ON dc.delegation_id = d.id AND dc.version_no = d.current_version
        WHERE d.delegator_id = @delegatorId AND d.competence_code {in:competences} AND dc.commune_id {in:ids}
          AND d.start_on <= @endOn AND d.end_on >= @startOn AND d.start_on <= d.end_on
        """;
    private const string HeldSql = """
        SELECT d.id, d.delegator_id, d.delegate_id, d.convention_id, d.competence_code, d.start_on, d.end_on, dc.commune_id
        FROM delegation d
        JOIN delegation_commune dc ON dc.delegation_id = d.id AND dc.version_no = d.current_version
        WHERE d.delegate_id = @delegatorId AND d.competence_code {in:competences} AND dc.commune_id {in:ids}
          AND d.start_on <= @endOn AND d.end_on >= @startOn AND d.start_on <= d.end_on
        """;
}

/// <summary>
/// What the rules read for a batch of one delegator's proposals: the parties, the catalogue, the
/// conventions, the holders by law of the communes, and the delegations granted by and to the
/// delegator on them. A batch that writes a proposal records it here (<see cref="Accept"/>), so that
/// the next proposals are checked against it as if it had been read from the database.
/// </summary>
public sealed class RuleFacts(Guid delegatorId, RuleFacts.Party? delegator)
{
    public sealed class Party { public Guid Id { get; init; } public string Name { get; init; } = ""; public bool IsActive { get; init; } }

    private readonly Dictionary<(string, Guid), List<DelegationCommuneRow>> granted = [];
    private readonly Dictionary<(string, Guid), List<DelegationCommuneRow>> held = [];
    private readonly Dictionary<ConventionTerms, HashSet<Guid>> covered = new(ReferenceEqualityComparer.Instance);

    public Party? Delegator { get; } = delegator;
    public Dictionary<Guid, Party> Parties { get; } = [];
    public Dictionary<string, CompetenceDto> Competences { get; } = new(StringComparer.Ordinal);
    public Dictionary<Guid, ConventionState?> Conventions { get; } = [];
    public Dictionary<Guid, CommuneLaw> Laws { get; set; } = [];

    public IEnumerable<DelegationCommuneRow> Granted(string competence, Guid commune) => granted.GetValueOrDefault((competence, commune)) ?? [];
    public IEnumerable<DelegationCommuneRow> Held(string competence, Guid commune) => held.GetValueOrDefault((competence, commune)) ?? [];
    public IEnumerable<Guid> HeldConventions => held.Values.SelectMany(s => s).Select(s => s.ConventionId).Distinct();

    /// <summary>The communes a convention's terms cover, as a set (terms list them).</summary>
    public HashSet<Guid> CommunesOf(ConventionTerms terms)
    {
        if (!covered.TryGetValue(terms, out var set)) covered[terms] = set = [.. terms.Communes];
        return set;
    }

    public void AddGranted(IEnumerable<DelegationCommuneRow> spans) => Add(granted, spans);
    public void AddHeld(IEnumerable<DelegationCommuneRow> spans) => Add(held, spans);

    /// <summary>The delegation <paramref name="id"/> now stands as <paramref name="p"/> (it covered <paramref name="before"/>).</summary>
    public void Accept(Guid id, DelegationProposal p, IEnumerable<Guid> before)
    {
        // A delegator that delegates to itself also holds by what it grants.
        var indexes = p.DelegateId == delegatorId ? new[] { granted, held } : new[] { granted };
        foreach (var index in indexes)
        {
            foreach (var commune in before.Concat(p.Communes.Select(x => x.Id)))
                if (index.TryGetValue((p.Competence, commune), out var list)) list.RemoveAll(s => s.Id == id);
            Add(index, p.Communes.Select(x => new DelegationCommuneRow
            {
                Id = id, DelegatorId = p.DelegatorId, DelegateId = p.DelegateId, ConventionId = p.ConventionId, CompetenceCode = p.Competence,
                StartOn = p.StartOn, EndOn = p.EndOn, CommuneId = x.Id,
            }));
        }
    }

    private static void Add(Dictionary<(string, Guid), List<DelegationCommuneRow>> index, IEnumerable<DelegationCommuneRow> spans)
    {
        foreach (var s in spans)
        {
            if (!index.TryGetValue((s.CompetenceCode, s.CommuneId), out var list)) index[(s.CompetenceCode, s.CommuneId)] = list = [];
            list.Add(s);
        }
    }
}
