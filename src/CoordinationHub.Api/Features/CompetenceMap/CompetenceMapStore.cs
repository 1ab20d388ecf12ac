using System.Data.Common;
using System.Text.Json;
using CoordinationHub.Features.Competences;
using CoordinationHub.Features.Delegations;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.CompetenceMap;

/// <summary>
/// Writes the precomputed map: after a delegation changes, the periods of every commune it ever
/// covered are recomputed from the delegations (current versions) and rewritten, in the same
/// transaction, and the map generation is bumped so every process reloads its cache.
/// </summary>
public sealed class CompetenceMapWriter(Db db)
{
    public async Task RecomputeAsync(DbConnection c, DbTransaction tx, Guid delegationId, string competence, CancellationToken ct)
    {
        var holderKind = Enum.Parse<HolderKind>(await c.QuerySingleAsync<string>(db.Command(HolderKindSql, new { competence }, ct, tx)));
        var spans = (await c.QueryAsync<DelegationCommuneRow>(db.Command(SpansSql, new { competence, delegationId }, ct, tx))).ToList();
        var holders = (await c.QueryAsync<LawRow>(db.Command(LawHoldersSql, new { delegationId, active = true }, ct, tx))).ToList();

        var byCommune = spans.ToLookup(s => s.CommuneId, s => s.ToSpan());
        var rows = new List<object?[]>();
        foreach (var h in holders)
        {
            var law = LawHolder(holderKind, h.CommuneId, h.DepartementId, h.CcasId);
            foreach (var segment in Responsibility.Segments(law, byCommune[h.CommuneId].ToList()))
                rows.Add([h.CommuneId, competence, segment.From, segment.To, segment.Responsible, JsonSerializer.Serialize(segment.Chain)]);
        }

        await c.ExecuteAsync(db.Command(DeleteSql, new { competence, delegationId }, ct, tx));
        await db.InsertRowsAsync(c, tx, "competence_map", Columns, Columns.Select(_ => System.Data.DbType.String).ToArray(), rows, ct);
        await BumpAsync(c, tx, ct);
    }

    /// <summary>Tells every process that the map changed (holders by law included): their caches reload.</summary>
    public Task BumpAsync(DbConnection c, DbTransaction tx, CancellationToken ct) => c.ExecuteAsync(db.Command(BumpSql, null, ct, tx));

    public static Guid LawHolder(HolderKind kind, Guid commune, Guid? departement, Guid? ccas) => kind switch
    {
        HolderKind.DEPARTEMENT => departement ?? commune,
        HolderKind.CCAS => ccas ?? commune,
        _ => commune,
    };

    internal static readonly string[] Columns = ["commune_id", "competence_code", "valid_from", "valid_to", "responsible_id", "chain"];

    private sealed class LawRow
    {
        public Guid CommuneId { get; init; }
        public Guid? DepartementId { get; init; }
        public Guid? CcasId { get; init; }
    }

    private const string HolderKindSql = "SELECT holder_kind FROM competence WHERE code = @competence";
    // Every delegation of the competence on the communes the changed delegation ever covered.
    private const string SpansSql = """
        SELECT d.id, d.delegator_id, d.delegate_id, d.convention_id, d.start_on, d.end_on, dc.commune_id
        FROM delegation d
        JOIN delegation_commune dc ON dc.delegation_id = d.id AND dc.version_no = d.current_version
        WHERE d.competence_code = @competence
          AND dc.commune_id IN (SELECT x.commune_id FROM delegation_commune x WHERE x.delegation_id = @delegationId)
        """;
    private const string LawHoldersSql = """
        SELECT c.id AS commune_id, dep.id AS departement_id, ccas.id AS ccas_id
        FROM organisation c
        LEFT JOIN organisation dep ON dep.kind = 'DEPARTEMENT' AND dep.code = c.departement_code
        LEFT JOIN organisation ccas ON ccas.kind = 'CCAS' AND ccas.commune_id = c.id AND ccas.is_active = @active
        WHERE c.id IN (SELECT DISTINCT x.commune_id FROM delegation_commune x WHERE x.delegation_id = @delegationId)
        """;
    private const string DeleteSql = """
        DELETE FROM competence_map
        WHERE competence_code = @competence
          AND commune_id IN (SELECT x.commune_id FROM delegation_commune x WHERE x.delegation_id = @delegationId)
        """;
    private const string BumpSql = "UPDATE map_generation SET generation = generation + 1 WHERE id = 1";
}
