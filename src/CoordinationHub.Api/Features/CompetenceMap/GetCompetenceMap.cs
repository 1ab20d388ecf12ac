using CoordinationHub.Features.Delegations;
using CoordinationHub.Platform.Errors;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.CompetenceMap;

public sealed record MapOrganisation(Guid Id, string Name, string Kind);
public sealed record MapCommune(Guid Id, string Code, string Name);

/// <summary>A link of the chain: the holder by law, then each delegation and the convention under which it was granted.</summary>
/// <param name="LegalBasis">The holder by law's legal basis, from the competence catalogue (e.g. CASF L262-15 ; L262-16); null on a delegation.</param>
public sealed record ChainStep(Guid OrganisationId, string Name, string Kind, string Via, Guid? DelegationId, Guid? ConventionId, string? LegalBasis);

/// <summary>Who is responsible for a competence in a commune on a date, and why.</summary>
public sealed record CompetenceMapEntry(MapCommune Commune, string Competence, bool IsLegal, DateOnly Date, MapOrganisation Responsible, IReadOnlyList<ChainStep> Chain);

public sealed record GetCompetenceMapQuery(string Commune, string Competence, DateOnly? Date) : IQuery<CompetenceMapEntry>;

public sealed class GetCompetenceMapValidator : AbstractValidator<GetCompetenceMapQuery>
{
    public GetCompetenceMapValidator()
    {
        RuleFor(q => q.Commune).NotEmpty().Matches("^(\\d{5}|2[AB]\\d{3})$").WithMessage("A commune is its INSEE code (5 characters).");
        RuleFor(q => q.Competence).NotEmpty().MaximumLength(32);
    }
}

public sealed class GetCompetenceMapHandler(CompetenceMapCache cache, MapChanges changes, TimeProvider clock) : IQueryHandler<GetCompetenceMapQuery, CompetenceMapEntry>
{
    public async ValueTask<CompetenceMapEntry> Handle(GetCompetenceMapQuery query, CancellationToken ct)
    {
        var map = await cache.GetAsync(changes.MinGeneration, ct);
        changes.ReadAt = map.Generation;
        var commune = map.CommunesByCode.GetValueOrDefault(query.Commune.ToUpperInvariant()) ?? throw new NotFoundException("commune", query.Commune);
        var competence = map.Competences.GetValueOrDefault(query.Competence)
            ?? throw new BadRequestException("unknown-competence", $"'{query.Competence}' is not in the competence catalogue (GET /v1/competences).");
        return Entry(map, commune, competence, query.Date ?? DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime));
    }

    internal static CompetenceMapEntry Entry(CompetenceMapCache.Snapshot map, CompetenceMapCache.Commune commune, Competences.CompetenceDto competence, DateOnly date)
    {
        var chain = map.ChainOn(commune, competence, date);
        var steps = new ChainStep[chain.Count];
        for (var i = 0; i < chain.Count; i++)
        {
            var link = chain[i];
            var org = map.Organisations.GetValueOrDefault(link.OrganisationId);
            steps[i] = new ChainStep(link.OrganisationId, org?.Name ?? "", org?.Kind ?? "", link.DelegationId is null ? "LAW" : "DELEGATION", link.DelegationId, link.ConventionId,
                link.DelegationId is null ? competence.LegalBasis : null);
        }
        var last = steps[^1];
        return new CompetenceMapEntry(new MapCommune(commune.Id, commune.Code, commune.Name), competence.Code, competence.IsLegal, date,
            new MapOrganisation(last.OrganisationId, last.Name, last.Kind), steps);
    }
}
