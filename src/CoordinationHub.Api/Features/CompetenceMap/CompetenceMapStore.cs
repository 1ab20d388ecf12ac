using System.Data.Common;
using System.Text.Json;
using CoordinationHub.Features.Competences;
using CoordinationHub.Features.Delegations;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.CompetenceMap;

/// <summary>
/// Writes the precomputed map and its change feed, in the transaction of the change: the periods of
/// each (commune, competence) it touches are recomputed and rewritten in <c>competence_map</c>, and
/// the same periods are appended to <c>map_change</c> under the transaction's new map generation.
/// Every process applies those deltas in generation order (<see cref="CompetenceMapCache"/>).
/// </summary>
public sealed class CompetenceMapWriter(Db db, MapChanges changes, TimeProvider clock)
{
    /// <summary>IN lists are cut to this size (SQL Server takes 2,100 parameters a statement).</summary>
    private const int Chunk = 500;

    public Task RecomputeAsync(DbConnection c, DbTransaction tx, string competence, IReadOnlyCollection<Guid> communes, CancellationToken ct) =>
        RecomputeAsync(c, tx, new Dictionary<string, IReadOnlySet<Guid>> { [competence] = communes.ToHashSet() }, ct);

    /// <summary>
    /// The periods of the communes <paramref name="touched"/> lists for each competence: a bulk push's whole
    /// territory at once, 500 communes at a time (their holders by law and their delegations read once for
    /// every competence).
    /// </summary>
    public async Task RecomputeAsync(DbConnection c, DbTransaction tx, IReadOnlyDictionary<string, IReadOnlySet<Guid>> touched, CancellationToken ct)
    {
        if (touched.Values.All(t => t.Count == 0)) return;
        // First: the generation row lock orders this transaction after any other map writer, so the
        // reads below see their commits (two delegators changing one commune cannot miss each other).
        var generation = await GenerationAsync(c, tx, ct);
        var holderKinds = (await c.QueryAsync<(string Code, string HolderKind)>(db.Command(HolderKindsSql, null, ct, tx)))
            .ToDictionary(k => k.Code, k => Enum.Parse<HolderKind>(k.HolderKind), StringComparer.Ordinal);
        var competences = touched.Keys.Order(StringComparer.Ordinal).ToArray();
        var now = clock.GetUtcNow();
        // 10 communes at a time: after a push of many periods per commune (about 300 in the benchmark's 200,000-record
        // push), a chunk's delegations, rows and feed outlive a few gen0 collections and are promoted. With 50 at a time
        // the end of that push took the GC to 183 MB committed, with 10 to 140 MB (benchmark --push --every 20).
        foreach (var ids in touched.Values.SelectMany(t => t).Distinct().Order().Chunk(10))
        {
            var law = await LawAsync(c, tx, ids, ct);
            var spans = (await c.QueryAsync<DelegationCommuneRow>(db.Command(SpansSql, new { competences, ids }, ct, tx)))
                .ToLookup(s => (s.CommuneId, s.CompetenceCode), s => s.ToSpan());
            var rows = new List<object?[]>();
            var feed = new List<object?[]>();
            foreach (var competence in competences)
            {
                var holderKind = holderKinds[competence];
                var communes = ids.Where(touched[competence].Contains).ToArray();
                foreach (var commune in communes)
                {
                    var holders = law.GetValueOrDefault(commune) ?? new CommuneLaw(commune, null, []);
                    var segments = Responsibility.Segments(d => holders.HolderOn(holderKind, d), holders.ChangesOf(holderKind), spans[(commune, competence)].ToList())
                        .Select(s => new CompetenceMapCache.Segment(s.From, s.To, [.. s.Chain])).ToList();
                    foreach (var s in segments)
                        rows.Add([commune, competence, s.From, s.To, s.Chain[^1].OrganisationId, JsonSerializer.Serialize(s.Chain)]);
                    feed.Add([generation, changes.NextSeq(), "SEGMENTS", commune, competence, null, JsonSerializer.Serialize(segments), now]);
                }
                if (communes.Length > 0) await c.ExecuteAsync(db.Command(DeleteSql, new { competence, ids = communes }, ct, tx));
            }
            await db.InsertRowsAsync(c, tx, "competence_map", Columns, Columns.Select(_ => System.Data.DbType.String).ToArray(), rows, ct);
            await db.InsertRowsAsync(c, tx, "map_change", FeedColumns, FeedTypes, feed, ct);
        }
    }

    /// <summary>
    /// An organisation changed (name, or a CCAS's tenure): the map learns its new row, and where a
    /// CCAS's dates changed, the periods of its commune's CCAS competences are recomputed.
    /// </summary>
    public async Task OrganisationChangedAsync(DbConnection c, DbTransaction tx, Guid organisationId, CancellationToken ct)
    {
        var generation = await GenerationAsync(c, tx, ct);
        var row = await c.QuerySingleAsync<MapOrganisationRow>(db.Command(OrganisationSql, new { id = organisationId }, ct, tx));
        await db.InsertRowsAsync(c, tx, "map_change", FeedColumns, FeedTypes,
            [[generation, changes.NextSeq(), "ORGANISATION", null, null, organisationId, JsonSerializer.Serialize(row), clock.GetUtcNow()]], ct);
        // Only where delegations follow the holder by law: elsewhere the map answers the holder from the tenure itself.
        if (row is { Kind: "CCAS", CommuneId: { } commune })
            foreach (var competence in await c.QueryAsync<string>(db.Command(DelegatedCcasCompetencesSql, new { commune }, ct, tx)))
                await RecomputeAsync(c, tx, competence, [commune], ct);
    }

    /// <summary>Tells every process to load the whole map again (the referential changed).</summary>
    public async Task ReloadEverywhereAsync(DbConnection c, DbTransaction tx, CancellationToken ct)
    {
        var generation = await GenerationAsync(c, tx, ct);
        await db.InsertRowsAsync(c, tx, "map_change", FeedColumns, FeedTypes,
            [[generation, changes.NextSeq(), "RELOAD", null, null, null, null, clock.GetUtcNow()]], ct);
    }

    /// <summary>The holders by law of each commune, CCAS dated.</summary>
    public async Task<Dictionary<Guid, CommuneLaw>> LawAsync(DbConnection c, DbTransaction? tx, IReadOnlyCollection<Guid> communes, CancellationToken ct)
    {
        var departements = new List<(Guid CommuneId, Guid? DepartementId)>();
        var tenures = new List<MapOrganisationRow>();
        foreach (var ids in communes.Distinct().Chunk(Chunk))
        {
            departements.AddRange((await c.QueryAsync<LawRow>(db.Command(DepartementsSql, new { ids }, ct, tx))).Select(r => (r.CommuneId, r.DepartementId)));
            tenures.AddRange(await c.QueryAsync<MapOrganisationRow>(db.Command(CcasOfCommunesSql, new { ids }, ct, tx)));
        }
        var ccas = tenures.Where(t => t.Tenure is not null).ToLookup(t => t.CommuneId!.Value, t => t.Tenure!);
        return departements.ToDictionary(d => d.CommuneId, d => new CommuneLaw(d.CommuneId, d.DepartementId, [.. ccas[d.CommuneId]]));
    }

    /// <summary>
    /// The transaction's map generation: the first change of a transaction takes the next one. The
    /// row stays locked until commit, so generations commit in order; each writes a BEGIN row, so
    /// the feed has no gap. A bulk push takes it first, before it reads anything.
    /// </summary>
    public async Task<long> GenerationAsync(DbConnection c, DbTransaction tx, CancellationToken ct)
    {
        if (changes.Transaction == tx && changes.Generation is { } g) return g;
        await c.ExecuteAsync(db.Command(BumpSql, null, ct, tx));
        var generation = await c.ExecuteScalarAsync<long>(db.Command(GenerationSql, null, ct, tx));
        changes.Begin(tx, generation);
        await db.InsertRowsAsync(c, tx, "map_change", FeedColumns, FeedTypes,
            [[generation, 0, "BEGIN", null, null, null, null, clock.GetUtcNow()]], ct);
        return generation;
    }

    internal static readonly string[] Columns = ["commune_id", "competence_code", "valid_from", "valid_to", "responsible_id", "chain"];
    private static readonly string[] FeedColumns =
        ["generation", "seq", "kind", "commune_id", "competence_code", "organisation_id", "data", "recorded_at"];
    private static readonly System.Data.DbType[] FeedTypes =
    [
        System.Data.DbType.Int64, System.Data.DbType.Int32, System.Data.DbType.String, System.Data.DbType.Guid,
        System.Data.DbType.String, System.Data.DbType.Guid, System.Data.DbType.String, System.Data.DbType.DateTimeOffset,
    ];

    private sealed class LawRow
    {
        public Guid CommuneId { get; init; }
        public Guid? DepartementId { get; init; }
    }

    internal const string GenerationSql = "SELECT generation FROM map_generation WHERE id = 1";
    private const string BumpSql = "UPDATE map_generation SET generation = generation + 1 WHERE id = 1";
    private const string HolderKindsSql = "SELECT code, holder_kind FROM competence";
    private const string DelegatedCcasCompetencesSql = """
        SELECT DISTINCT d.competence_code
        FROM delegation d
        JOIN delegation_commune dc ON dc.delegation_id = d.id AND dc.version_no = d.current_version
        JOIN competence k ON k.code = d.competence_code
        WHERE dc.commune_id = @commune AND k.holder_kind = 'CCAS'
        ORDER BY d.competence_code
        """;
    private const string SpansSql = """
        SELECT d.id, d.delegator_id, d.delegate_id, d.convention_id, d.start_on, d.end_on, dc.commune_id, d.competence_code
        FROM delegation d
        JOIN delegation_commune dc ON dc.delegation_id = d.id AND dc.version_no = d.current_version
        WHERE d.competence_code {in:competences} AND dc.commune_id {in:ids}
        """;
    private const string DepartementsSql = """
        SELECT c.id AS commune_id, dep.id AS departement_id
        FROM organisation c
        LEFT JOIN organisation dep ON dep.kind = 'DEPARTEMENT' AND dep.code = c.departement_code
        WHERE c.id {in:ids}
        """;
    private const string CcasOfCommunesSql = $"SELECT {MapOrganisationRow.Columns} FROM organisation WHERE kind = 'CCAS' AND commune_id {{in:ids}}";
    private const string OrganisationSql = $"SELECT {MapOrganisationRow.Columns} FROM organisation WHERE id = @id";
    private const string DeleteSql = "DELETE FROM competence_map WHERE competence_code = @competence AND commune_id {in:ids}";
}

/// <summary>An organisation as the map knows it: its name for the chains, and for a CCAS its tenure.</summary>
public sealed class MapOrganisationRow
{
    public Guid Id { get; init; }
    public string Kind { get; init; } = "";
    public string Name { get; init; } = "";
    public string? Code { get; init; }
    public string? DepartementCode { get; init; }
    public Guid? CommuneId { get; init; }
    public Guid? EpciId { get; init; }
    public bool IsActive { get; init; }
    public DateOnly? ActiveFrom { get; init; }
    public DateOnly? ActiveUntil { get; init; }

    /// <summary>A CCAS holds by law from its creation to its dissolution; one closed without a date never did.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public CcasTenure? Tenure => Kind == "CCAS" && CommuneId is not null && (IsActive || ActiveUntil is not null)
        ? new CcasTenure(Id, ActiveFrom, ActiveUntil) : null;

    public const string Columns = "id, kind, name, code, departement_code, commune_id, epci_id, is_active, active_from, active_until";
}
