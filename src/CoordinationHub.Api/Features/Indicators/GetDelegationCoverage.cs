using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Indicators;

/// <summary>Per competence, how much of a département is served by a delegate rather than the holder by law, on a date.</summary>
public sealed record GetDelegationCoverageQuery(string Departement, DateOnly? On = null) : IQuery<DelegationCoverage>;

/// <summary>One competence in a département: communes and inhabitants whose responsible body is a delegate.</summary>
[ContractName("CompetenceCoverage")]
public sealed record CompetenceCoverage(
    string Competence,
    int Communes,
    int DelegatedCommunes,
    double? CommunesShare,
    long Population,
    long DelegatedPopulation,
    double? PopulationShare);

/// <summary>A convention with delegations in the département that ends within 90 days of the date.</summary>
[ContractName("ExpiringConvention")]
public sealed record ExpiringConvention(Guid Id, string Reference, DateOnly EndOn, IReadOnlyList<string> Competences);

[ContractName("DelegationCoverage")]
public sealed record DelegationCoverage(
    IndicatorTerritory Departement,
    DateOnly On,
    IReadOnlyList<CompetenceCoverage> Competences,
    IReadOnlyList<ExpiringConvention> ExpiringConventions);

public sealed class GetDelegationCoverageValidator : AbstractValidator<GetDelegationCoverageQuery>
{
    public GetDelegationCoverageValidator() =>
        RuleFor(q => q.Departement).NotEmpty().Matches(IndicatorRules.DepartementPattern)
            .WithMessage("A département is its code (01, 2A, 974).");
}

/// <summary>
/// Reads the live competence map (the same chains as <c>GET /v1/competence-map</c>): a commune is covered by a
/// delegation for a competence when the last link of its chain on the date is a delegation.
/// </summary>
public sealed class GetDelegationCoverageHandler(Db db, IndicatorScope scope, CompetenceMapCache cache, MapChanges changes)
    : IQueryHandler<GetDelegationCoverageQuery, DelegationCoverage>
{
    public const int ExpiringWithinDays = 90;

    public async ValueTask<DelegationCoverage> Handle(GetDelegationCoverageQuery query, CancellationToken ct)
    {
        var on = query.On ?? DateOnly.FromDateTime(scope.Now.UtcDateTime);
        await using var c = await db.OpenAsync(ct);
        var territory = await scope.ResolveAsync(c, TerritoryLevel.DEPARTEMENT, query.Departement, ct);
        var populations = (await c.QueryAsync<(Guid Id, long? Population)>(db.Command(PopulationsSql,
            new { departement = territory.Departement, active = true }, ct))).ToDictionary(p => p.Id, p => p.Population ?? 0);
        var map = await cache.GetAsync(changes.MinGeneration, ct);
        var communes = map.CommunesByCode.Values.Where(m => m.IsActive && m.DepartementCode == territory.Departement).ToList();
        var coverage = map.Catalogue.Select(competence =>
        {
            var delegated = communes.Where(m => map.ChainOn(m, competence, on) is { Count: > 0 } chain && chain[^1].DelegationId is not null)
                .ToList();
            long population = communes.Sum(m => populations.GetValueOrDefault(m.Id)),
                delegatedPopulation = delegated.Sum(m => populations.GetValueOrDefault(m.Id));
            return new CompetenceCoverage(competence.Code, communes.Count, delegated.Count,
                communes.Count == 0 ? null : Math.Round((double)delegated.Count / communes.Count, 4),
                population, delegatedPopulation, population == 0 ? null : Math.Round((double)delegatedPopulation / population, 4));
        }).ToList();
        var expiring = (await c.QueryAsync<ExpiringRow>(db.Command(ExpiringSql, new
            {
                departement = territory.Departement, on, until = on.AddDays(ExpiringWithinDays),
            }, ct)))
            .GroupBy(r => r.Id)
            .Select(g => new ExpiringConvention(g.Key, g.First().Reference, g.Min(r => r.EndOn), [.. g.Select(r => r.CompetenceCode).Distinct().Order()]))
            .OrderBy(e => e.EndOn).ThenBy(e => e.Reference, StringComparer.Ordinal).ToList();
        return new DelegationCoverage(territory.Territory, on, coverage, expiring);
    }

    private sealed class ExpiringRow
    {
        public Guid Id { get; init; }
        public string Reference { get; init; } = "";
        public DateOnly EndOn { get; init; }
        public string CompetenceCode { get; init; } = "";
    }

    private const string PopulationsSql = """
        SELECT id, population FROM organisation WHERE kind = 'COMMUNE' AND departement_code = @departement AND is_active = @active
        """;
    // Delegations granted or held in the département, in force on the date and ending within 90 days of it.
    private const string ExpiringSql = """
        SELECT v.id, v.reference, d.end_on, d.competence_code
        FROM delegation d
        JOIN convention v ON v.id = d.convention_id
        JOIN organisation delegator ON delegator.id = d.delegator_id
        JOIN organisation delegate ON delegate.id = d.delegate_id
        WHERE (delegator.departement_code = @departement OR delegate.departement_code = @departement)
          AND d.start_on <= @on AND d.end_on >= @on AND d.end_on <= @until AND v.terminated_on IS NULL
        """;
}
