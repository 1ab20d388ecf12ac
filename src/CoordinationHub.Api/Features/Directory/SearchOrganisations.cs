using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Http;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Directory;

public sealed record SearchOrganisationsQuery(
    OrganisationKind? Kind, string? Departement, string? Epci, string? Commune, bool? Active, string? Q,
    int? Limit, string? Cursor) : IQuery<Page<OrganisationDto>>;

public sealed class SearchOrganisationsValidator : AbstractValidator<SearchOrganisationsQuery>
{
    public SearchOrganisationsValidator()
    {
        RuleFor(q => q.Limit).InclusiveBetween(1, Cursor.MaxLimit);
        RuleFor(q => q.Q).MaximumLength(100);
        RuleFor(q => q.Q).Must(q => SearchText.Normalize(q!).Length >= 2)
            .When(q => q.Q is not null).WithMessage("Search with at least two letters or digits.");
        RuleFor(q => q.Departement).Matches("^(\\d{2,3}|2A|2B)$").When(q => q.Departement is not null)
            .WithMessage("A département is its COG code: 01…95, 2A, 2B, 971…989.");
        RuleFor(q => q.Epci).Matches("^\\d{9}$").When(q => q.Epci is not null).WithMessage("An EPCI is its SIREN (9 digits).");
        RuleFor(q => q.Commune).Matches("^(\\d{5}|2[AB]\\d{3})$").When(q => q.Commune is not null).WithMessage("A commune is its INSEE code (5 characters).");
    }
}

public sealed class SearchOrganisationsHandler(Db db) : IQueryHandler<SearchOrganisationsQuery, Page<OrganisationDto>>
{
    public async ValueTask<Page<OrganisationDto>> Handle(SearchOrganisationsQuery query, CancellationToken ct)
    {
        var limit = query.Limit ?? Cursor.DefaultLimit;
        var after = Cursor.Decode(query.Cursor, 2);
        var sql = BuildSql(query, after is not null);
        var parameters = new
        {
            kind = query.Kind?.ToString(),
            departement = query.Departement,
            epci = query.Epci,
            commune = query.Commune,
            active = query.Active,
            q = query.Q is null ? null : $"%{SearchText.Normalize(query.Q)}%",
            afterName = after?[0],
            afterId = after is null ? Guid.Empty : Cursor.Id(after[1]),
            limit = limit + 1,
        };
        var rows = await db.RetryAsync(async (c, t) => (await c.QueryAsync<OrganisationDto>(db.Command(sql, parameters, t))).ToList(), ct);
        // search_name is always the normalized name, so the cursor can be rebuilt from the row.
        return Cursor.ToPage(rows, limit, r => [SearchText.Normalize(r.Name), r.Id.ToString()]);
    }

    /// <summary>Only the filters asked for go into the WHERE clause, so each shape gets its own plan.</summary>
    internal static string BuildSql(SearchOrganisationsQuery q, bool paged)
    {
        var where = new List<string>();
        if (q.Kind is not null) where.Add("o.kind = @kind");
        if (q.Departement is not null) where.Add("o.departement_code = @departement");
        if (q.Epci is not null) where.Add(EpciFilter);
        if (q.Commune is not null) where.Add(CommuneFilter);
        if (q.Active is not null) where.Add("o.is_active = @active");
        if (q.Q is not null) where.Add("o.search_name LIKE @q");
        if (paged) where.Add("(o.search_name > @afterName OR (o.search_name = @afterName AND o.id > @afterId))");
        return $"""
            SELECT {OrganisationDto.Columns}
            FROM organisation o
            {(where.Count == 0 ? "" : "WHERE " + string.Join("\n  AND ", where))}
            ORDER BY o.search_name, o.id
            {"{limit}"}
            """;
    }

    // The EPCI's member communes, its CIAS, and the CCAS of its member communes.
    private const string EpciFilter = """
        (o.epci_id IN (SELECT e.id FROM organisation e WHERE e.kind = 'EPCI' AND e.code = @epci)
         OR o.commune_id IN (SELECT m.id FROM organisation m JOIN organisation e ON e.id = m.epci_id
                             WHERE e.kind = 'EPCI' AND e.code = @epci))
        """;
    // The commune itself and the bodies attached to it (its CCAS).
    private const string CommuneFilter = """
        (o.id IN (SELECT c.id FROM organisation c WHERE c.kind = 'COMMUNE' AND c.code = @commune)
         OR o.commune_id IN (SELECT c.id FROM organisation c WHERE c.kind = 'COMMUNE' AND c.code = @commune))
        """;
}
