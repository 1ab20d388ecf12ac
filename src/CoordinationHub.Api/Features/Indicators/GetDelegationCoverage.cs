using CoordinationHub.Platform.OpenApi;
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

public sealed class GetDelegationCoverageHandler : IQueryHandler<GetDelegationCoverageQuery, DelegationCoverage>
{
    public ValueTask<DelegationCoverage> Handle(GetDelegationCoverageQuery query, CancellationToken ct) => throw new NotSupportedException("In progress.");
}
