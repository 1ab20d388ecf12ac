using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Directory;

public sealed record GetDepartementTerritoryQuery(string Code) : IQuery<DepartementTerritory>;

public sealed record TerritoryEpci(Guid Id, string Siren, string Name, string? EpciType, int CommunesInDepartement);
public sealed record TerritoryCommune(Guid Id, string Code, string Name, string? Siren, int? Population, Guid? EpciId);

/// <summary>A département's current communes, and the EPCI that have member communes in it (an EPCI may span two).</summary>
public sealed record DepartementTerritory(OrganisationDto Departement, IReadOnlyList<TerritoryEpci> Epci, IReadOnlyList<TerritoryCommune> Communes);

public sealed class GetDepartementTerritoryHandler(Db db) : IQueryHandler<GetDepartementTerritoryQuery, DepartementTerritory>
{
    public async ValueTask<DepartementTerritory> Handle(GetDepartementTerritoryQuery query, CancellationToken ct) =>
        await db.RetryAsync(async (c, t) =>
        {
            var departement = await c.QuerySingleOrDefaultAsync<OrganisationDto>(db.Command(DepartementSql, new { query.Code }, t))
                ?? throw new NotFoundException("département", query.Code);
            var communes = (await c.QueryAsync<TerritoryCommuneRow>(db.Command(CommunesSql, new { query.Code, active = true }, t)))
                .Select(r => new TerritoryCommune(r.Id, r.Code, r.Name, r.Siren, r.Population, r.EpciId)).ToList();
            var epci = (await c.QueryAsync<TerritoryEpciRow>(db.Command(EpciSql, new { query.Code, active = true }, t)))
                .Select(r => new TerritoryEpci(r.Id, r.Code, r.Name, r.EpciType, r.Communes)).ToList();
            return new DepartementTerritory(departement, epci, communes);
        }, ct);

    private sealed class TerritoryCommuneRow
    {
        public Guid Id { get; init; }
        public string Code { get; init; } = "";
        public string Name { get; init; } = "";
        public string? Siren { get; init; }
        public int? Population { get; init; }
        public Guid? EpciId { get; init; }
    }

    private sealed class TerritoryEpciRow
    {
        public Guid Id { get; init; }
        public string Code { get; init; } = "";
        public string Name { get; init; } = "";
        public string? EpciType { get; init; }
        public int Communes { get; init; }
    }

    private const string DepartementSql = $"SELECT {OrganisationDto.Columns} FROM organisation o WHERE o.kind = 'DEPARTEMENT' AND o.code = @code";
    private const string CommunesSql = """
        SELECT o.id, o.code, o.name, o.siren, o.population, o.epci_id
        FROM organisation o
        WHERE o.kind = 'COMMUNE' AND o.departement_code = @code AND o.is_active = @active
        ORDER BY o.code
        """;
    private const string EpciSql = """
        SELECT e.id, e.code, e.name, e.epci_type, COUNT(*) AS communes
        FROM organisation e
        JOIN organisation o ON o.epci_id = e.id AND o.kind = 'COMMUNE'
        WHERE e.kind = 'EPCI' AND o.departement_code = @code AND o.is_active = @active
        GROUP BY e.id, e.code, e.name, e.epci_type
        ORDER BY e.name, e.id
        """;
}
