using CoordinationHub.Platform.Http;
using System.Text;
using CoordinationHub.Platform.Errors;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.CompetenceMap;

/// <summary>The map of a whole département or EPCI on a date: one row per commune and competence.</summary>
public sealed record ExportCompetenceMapQuery(string? Departement, string? Epci, string? Competence, DateOnly? Date) : IQuery<IReadOnlyList<CompetenceMapEntry>>;

public sealed class ExportCompetenceMapValidator : AbstractValidator<ExportCompetenceMapQuery>
{
    public ExportCompetenceMapValidator()
    {
        RuleFor(q => q).Must(q => (q.Departement is null) != (q.Epci is null)).WithName("departement").WithMessage("Give either departement (COG code) or epci (SIREN).");
        RuleFor(q => q.Departement).Matches("^(\\d{2,3}|2[AB])$").When(q => q.Departement is not null);
        RuleFor(q => q.Epci).Matches("^\\d{9}$").When(q => q.Epci is not null);
    }
}

public sealed class ExportCompetenceMapHandler(CompetenceMapCache cache, MapChanges changes, TimeProvider clock) : IQueryHandler<ExportCompetenceMapQuery, IReadOnlyList<CompetenceMapEntry>>
{
    public async ValueTask<IReadOnlyList<CompetenceMapEntry>> Handle(ExportCompetenceMapQuery query, CancellationToken ct)
    {
        var map = await cache.GetAsync(changes.MinGeneration, ct);
        changes.ReadAt = map.Generation;
        var date = query.Date ?? DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var competences = query.Competence is null
            ? map.Catalogue
            : [map.Competences.GetValueOrDefault(query.Competence) ?? throw new BadRequestException("unknown-competence", $"'{query.Competence}' is not in the competence catalogue.")];

        IEnumerable<CompetenceMapCache.Commune> communes;
        if (query.Departement is { } dep)
        {
            communes = map.CommunesByCode.Values.Where(c => c.DepartementCode == dep.ToUpperInvariant() && c.IsActive);
        }
        else
        {
            var epci = map.Organisations.Values.FirstOrDefault(o => o.Kind == "EPCI" && o.Code == query.Epci) ?? throw new NotFoundException("EPCI", query.Epci!);
            communes = map.CommunesByCode.Values.Where(c => c.EpciId == epci.Id && c.IsActive);
        }
        var rows = new List<CompetenceMapEntry>();
        foreach (var commune in communes.OrderBy(c => c.Code, StringComparer.Ordinal))
            foreach (var competence in competences)
                rows.Add(GetCompetenceMapHandler.Entry(map, commune, competence, date));
        if (rows.Count == 0) throw new NotFoundException(query.Departement is null ? "EPCI" : "département", query.Departement ?? query.Epci!);
        return rows;
    }

    public const string CsvHeader = "commune_code;commune_name;competence;is_legal;date;responsible_id;responsible_name;responsible_kind;chain_organisation_ids;delegation_ids;convention_ids";

    /// <summary>Semicolon-separated UTF-8, the way French spreadsheets open it; chains joined with '>'.</summary>
    public static string ToCsv(IReadOnlyList<CompetenceMapEntry> rows)
    {
        var sb = new StringBuilder(rows.Count * 220).Append(CsvHeader).Append('\n');
        foreach (var r in rows)
        {
            sb.Append(r.Commune.Code).Append(';').Append(Csv.Quote(r.Commune.Name)).Append(';').Append(r.Competence).Append(';')
              .Append(r.IsLegal ? "true" : "false").Append(';').Append(r.Date.ToString("yyyy-MM-dd")).Append(';')
              .Append(r.Responsible.Id).Append(';').Append(Csv.Quote(r.Responsible.Name)).Append(';').Append(r.Responsible.Kind).Append(';')
              .AppendJoin('>', r.Chain.Select(s => s.OrganisationId)).Append(';')
              .AppendJoin('>', r.Chain.Where(s => s.DelegationId is not null).Select(s => s.DelegationId)).Append(';')
              .AppendJoin('>', r.Chain.Where(s => s.ConventionId is not null).Select(s => s.ConventionId)).Append('\n');
        }
        return sb.ToString();
    }
}
