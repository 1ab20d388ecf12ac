using CoordinationHub.Platform.OpenApi;
using CoordinationHub.Platform.Data;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Competences;

public enum HolderKind { DEPARTEMENT, COMMUNE, CCAS }

/// <summary>A public-action responsibility and who holds it by law.</summary>
[ContractName("Competence")]
public sealed class CompetenceDto
{
    public string Code { get; init; } = "";
    public string Label { get; init; } = "";
    /// <summary>CCAS means the commune's CCAS, or the commune itself where it has none.</summary>
    public HolderKind HolderKind { get; init; }
    public string LegalBasis { get; init; } = "";
    /// <summary>Legal: exactly one responsible body per commune at any date. Facultative: several may act.</summary>
    public bool IsLegal { get; init; }
}

public sealed record ListCompetencesQuery : IQuery<IReadOnlyList<CompetenceDto>>;

public sealed class ListCompetencesHandler(Db db) : IQueryHandler<ListCompetencesQuery, IReadOnlyList<CompetenceDto>>
{
    public async ValueTask<IReadOnlyList<CompetenceDto>> Handle(ListCompetencesQuery query, CancellationToken ct) =>
        await db.RetryAsync(async (c, t) => (IReadOnlyList<CompetenceDto>)(await c.QueryAsync<CompetenceDto>(db.Command(Sql, null, t))).ToList(), ct);

    private const string Sql = "SELECT code, label, holder_kind, legal_basis, is_legal FROM competence ORDER BY sort_order";
}

public static class CompetenceEndpoints
{
    public static void MapCompetences(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/competences", async (ISender sender, CancellationToken ct) => TypedResults.Ok(await sender.Send(new ListCompetencesQuery(), ct)))
            .WithTags("Competences")
            .WithName("ListCompetences")
            .WithSummary("The competence catalogue")
            .WithDescription("Each competence with its holder by law, its legal basis (CASF article) and whether it is legal (one responsible body per commune at any date) or facultative (several bodies may act).")
            .RequireAuthorization()
            .ProducesProblem(401).ProducesProblem(403);
    }
}
