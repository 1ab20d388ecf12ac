using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Http;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Delegations;

/// <summary>Delegations (current versions) by delegator, delegate, competence, convention, commune or date in force, newest first.</summary>
public sealed record SearchDelegationsQuery(
    Guid? Delegator, Guid? Delegate, string? Competence, Guid? Convention, string? Commune, DateOnly? ActiveOn, string? ExternalRef,
    int? Limit, string? Cursor) : IQuery<Page<DelegationSummary>>;

public sealed class DelegationSummary
{
    public Guid Id { get; init; }
    public Guid DelegatorId { get; init; }
    public Guid DelegateId { get; init; }
    public string Competence { get; init; } = "";
    public Guid ConventionId { get; init; }
    public string? ExternalRef { get; init; }
    public DateOnly StartOn { get; init; }
    public DateOnly EndOn { get; init; }
    public int VersionNo { get; init; }
}

public sealed class SearchDelegationsValidator : AbstractValidator<SearchDelegationsQuery>
{
    public SearchDelegationsValidator()
    {
        RuleFor(q => q.Limit).InclusiveBetween(1, Cursor.MaxLimit);
        RuleFor(q => q.Commune).Matches("^(\\d{5}|2[AB]\\d{3})$").When(q => q.Commune is not null).WithMessage("A commune is its INSEE code (5 characters).");
    }
}

public sealed class SearchDelegationsHandler(Db db) : IQueryHandler<SearchDelegationsQuery, Page<DelegationSummary>>
{
    public async ValueTask<Page<DelegationSummary>> Handle(SearchDelegationsQuery query, CancellationToken ct)
    {
        var limit = query.Limit ?? Cursor.DefaultLimit;
        var after = Cursor.Decode(query.Cursor, 1);
        var parameters = new
        {
            delegator = query.Delegator, @delegate = query.Delegate, competence = query.Competence, convention = query.Convention,
            commune = query.Commune, activeOn = query.ActiveOn, externalRef = query.ExternalRef,
            afterId = after is null ? Guid.Empty : Cursor.Id(after[0]),
            limit = limit + 1,
        };
        var rows = await db.RetryAsync(async (c, t) => (await c.QueryAsync<DelegationSummary>(db.Command(BuildSql(query, after is not null), parameters, t))).ToList(), ct);
        return Cursor.ToPage(rows, limit, r => [r.Id.ToString()]);
    }

    internal static string BuildSql(SearchDelegationsQuery q, bool paged)
    {
        var where = new List<string>();
        if (q.Delegator is not null) where.Add("d.delegator_id = @delegator");
        if (q.Delegate is not null) where.Add("d.delegate_id = @delegate");
        if (q.Competence is not null) where.Add("d.competence_code = @competence");
        if (q.Convention is not null) where.Add("d.convention_id = @convention");
        if (q.ExternalRef is not null) where.Add("d.external_ref = @externalRef");
        if (q.ActiveOn is not null) where.Add("d.start_on <= @activeOn AND d.end_on >= @activeOn");
        if (q.Commune is not null)
            where.Add("""
                EXISTS (SELECT 1 FROM delegation_commune dc JOIN organisation o ON o.id = dc.commune_id
                        WHERE dc.delegation_id = d.id AND dc.version_no = d.current_version AND o.kind = 'COMMUNE' AND o.code = @commune)
                """);
        if (paged) where.Add("d.id < @afterId");
        return $"""
            SELECT d.id, d.delegator_id, d.delegate_id, d.competence_code AS competence, d.convention_id, d.external_ref, d.start_on, d.end_on, d.current_version AS version_no
            FROM delegation d
            {(where.Count == 0 ? "" : "WHERE " + string.Join("\n  AND ", where))}
            ORDER BY d.id DESC
            {"{limit}"}
            """;
    }
}
