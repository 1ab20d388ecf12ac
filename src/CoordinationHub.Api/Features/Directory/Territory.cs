using System.Data.Common;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;

namespace CoordinationHub.Features.Directory;

/// <summary>A territory as clients give it: communes, whole départements and whole EPCI, all expanded to communes.</summary>
public sealed record TerritoryInput(IReadOnlyList<Guid>? CommuneIds, IReadOnlyList<string>? DepartementCodes, IReadOnlyList<string>? EpciSirens)
{
    public bool IsEmpty => (CommuneIds?.Count ?? 0) + (DepartementCodes?.Count ?? 0) + (EpciSirens?.Count ?? 0) == 0;
}

public sealed class CommuneRef
{
    public Guid Id { get; init; }
    public string Code { get; init; } = "";
    public string Name { get; init; } = "";
    public string DepartementCode { get; init; } = "";
    public bool IsActive { get; init; }
}

public static class Territory
{
    /// <summary>The active communes of the territory, de-duplicated; 422 naming what is not a current commune, département or EPCI.</summary>
    public static async Task<IReadOnlyList<CommuneRef>> ExpandAsync(Db db, DbConnection c, DbTransaction? tx, TerritoryInput input, string codePrefix, CancellationToken ct)
    {
        var communes = new Dictionary<Guid, CommuneRef>();
        foreach (var chunk in (input.CommuneIds ?? []).Distinct().Chunk(500))
        {
            var found = (await c.QueryAsync<CommuneRef>(db.Command(ByIdsSql, new { ids = chunk }, ct, tx))).ToList();
            var missing = chunk.Except(found.Where(f => f.IsActive).Select(f => f.Id)).ToList();
            if (missing.Count > 0)
                throw new RuleException($"{codePrefix}.unknown-commune", $"Not current communes of the directory: {string.Join(", ", missing.Take(10))}{(missing.Count > 10 ? ", …" : "")}.");
            foreach (var f in found) communes[f.Id] = f;
        }
        foreach (var code in (input.DepartementCodes ?? []).Distinct())
        {
            var found = (await c.QueryAsync<CommuneRef>(db.Command(ByDepartementSql, new { code = code.ToUpperInvariant(), active = true }, ct, tx))).ToList();
            if (found.Count == 0) throw new RuleException($"{codePrefix}.unknown-departement", $"There is no département '{code}' with communes.");
            foreach (var f in found) communes[f.Id] = f;
        }
        foreach (var siren in (input.EpciSirens ?? []).Distinct())
        {
            var found = (await c.QueryAsync<CommuneRef>(db.Command(ByEpciSql, new { siren, active = true }, ct, tx))).ToList();
            if (found.Count == 0) throw new RuleException($"{codePrefix}.unknown-epci", $"There is no EPCI with SIREN '{siren}' and member communes.");
            foreach (var f in found) communes[f.Id] = f;
        }
        return communes.Values.OrderBy(x => x.Code, StringComparer.Ordinal).ToList();
    }

    private const string Columns = "o.id, o.code, o.name, o.departement_code, o.is_active";
    private const string ByIdsSql = $"SELECT {Columns} FROM organisation o WHERE o.kind = 'COMMUNE' AND o.id {{in:ids}}";
    private const string ByDepartementSql = $"SELECT {Columns} FROM organisation o WHERE o.kind = 'COMMUNE' AND o.departement_code = @code AND o.is_active = @active";
    private const string ByEpciSql = $"""
        SELECT {Columns} FROM organisation o JOIN organisation e ON e.id = o.epci_id
        WHERE o.kind = 'COMMUNE' AND e.kind = 'EPCI' AND e.code = @siren AND o.is_active = @active
        """;
}
