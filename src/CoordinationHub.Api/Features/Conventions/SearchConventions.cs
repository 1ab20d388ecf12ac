using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Http;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Conventions;

/// <summary>
/// Conventions matching every filter given, as they stood on <c>statusOn</c> (default today).
/// Competence and commune match the terms applicable that day; drafts are listed to their parties only.
/// </summary>
public sealed record SearchConventionsQuery(
    Guid? Party, OrganisationKind? PartyKind, string? Departement, string? Competence, ConventionStatus? Status, DateOnly? StatusOn,
    string? Commune, int? Limit, string? Cursor) : IQuery<Page<ConventionDto>>;

public sealed class SearchConventionsValidator : AbstractValidator<SearchConventionsQuery>
{
    public SearchConventionsValidator()
    {
        RuleFor(q => q.Limit).InclusiveBetween(1, Cursor.MaxLimit);
        RuleFor(q => q.Departement).Matches("^(\\d{2,3}|2A|2B)$").When(q => q.Departement is not null)
            .WithMessage("A département is its COG code: 01…95, 2A, 2B, 971…989.");
        RuleFor(q => q.Commune).Matches("^(\\d{5}|2[AB]\\d{3})$").When(q => q.Commune is not null).WithMessage("A commune is its INSEE code (5 characters).");
        RuleFor(q => q.Competence).MaximumLength(32);
    }
}

public sealed class SearchConventionsHandler(Db db, Caller caller, TimeProvider clock) : IQueryHandler<SearchConventionsQuery, Page<ConventionDto>>
{
    public async ValueTask<Page<ConventionDto>> Handle(SearchConventionsQuery query, CancellationToken ct)
    {
        var limit = query.Limit ?? Cursor.DefaultLimit;
        var after = Cursor.Decode(query.Cursor, 1);
        var date = query.StatusOn ?? ConventionAccess.Today(clock);
        return await db.RetryAsync(async (c, t) =>
        {
            Guid? communeId = null;
            if (query.Commune is not null)
            {
                communeId = await c.QuerySingleOrDefaultAsync<Guid?>(db.Command(CommuneSql, new { code = query.Commune.ToUpperInvariant() }, t));
                if (communeId is null) return new Page<ConventionDto>([], null);
            }
            var sql = BuildSql(query, caller.IsPlatformAdmin, paged: true);
            var found = new List<ConventionDto>();
            var afterId = after is null ? Guid.Empty : Cursor.Id(after[0]);
            // SQL narrows on everything it can; the rest (terms applicable on the date, IN_FORCE vs EXPIRED
            // after renewals and amendments) is decided by ConventionState, so pages may need a few reads.
            while (found.Count <= limit)
            {
                var ids = (await c.QueryAsync<Guid>(db.Command(sql, new
                {
                    party = query.Party, partyKind = query.PartyKind?.ToString(), departement = query.Departement?.ToUpperInvariant(),
                    competence = query.Competence?.ToUpperInvariant(), communeId, statusOn = date, callerId = caller.OrganisationId ?? Guid.Empty,
                    afterId, limit = limit + 1,
                }, t))).ToList();
                foreach (var id in ids)
                {
                    var state = await ConventionStore.LoadAsync(db, c, null, id, t);
                    if (state is null || !Matches(state, query, date, communeId)) continue;
                    found.Add(await ConventionAccess.ToDtoAsync(db, c, null, state, date, caller, t));
                    if (found.Count > limit) break;
                }
                if (ids.Count <= limit) break;
                afterId = ids[^1];
            }
            return found.Count > limit
                ? new Page<ConventionDto>(found.Take(limit).ToList(), Cursor.Encode(found[limit - 1].Id.ToString()))
                : new Page<ConventionDto>(found, null);
        }, ct);
    }

    private static bool Matches(ConventionState state, SearchConventionsQuery q, DateOnly date, Guid? communeId)
    {
        if (q.Status is { } status && state.StatusOn(date) != status) return false;
        var terms = state.TermsOn(date);
        if (q.Competence is not null && !terms.Competences.Contains(q.Competence.ToUpperInvariant())) return false;
        if (communeId is { } commune && !terms.Communes.Contains(commune)) return false;
        return true;
    }

    /// <summary>Only the filters asked for go into the WHERE clause. Ordered by id: ids are UUIDv7, so by creation.</summary>
    internal static string BuildSql(SearchConventionsQuery q, bool admin, bool paged)
    {
        var where = new List<string>();
        if (!admin) where.Add("(c.status <> 'DRAFT' OR c.id IN (SELECT vp.convention_id FROM convention_party vp WHERE vp.organisation_id = @callerId))");
        if (q.Party is not null) where.Add("c.id IN (SELECT pp.convention_id FROM convention_party pp WHERE pp.organisation_id = @party)");
        if (q.PartyKind is not null)
            where.Add("c.id IN (SELECT kp.convention_id FROM convention_party kp JOIN organisation ko ON ko.id = kp.organisation_id WHERE ko.kind = @partyKind)");
        if (q.Departement is not null) where.Add(DepartementFilter);
        if (q.Competence is not null) where.Add("c.id IN (SELECT cc.convention_id FROM convention_competence cc WHERE cc.competence_code = @competence)");
        if (q.Commune is not null) where.Add("c.id IN (SELECT cm.convention_id FROM convention_commune cm WHERE cm.commune_id = @communeId)");
        switch (q.Status)
        {
            case ConventionStatus.DRAFT: where.Add("c.status = 'DRAFT'"); break;
            case ConventionStatus.TERMINATED: where.Add("c.terminated_on <= @statusOn"); break;
            // The start date is never amended: version 0 holds it.
            case ConventionStatus.SIGNED: where.Add($"{Running} AND v0.start_on > @statusOn"); break;
            case ConventionStatus.IN_FORCE or ConventionStatus.EXPIRED: where.Add($"{Running} AND v0.start_on <= @statusOn"); break;
        }
        if (paged) where.Add("c.id > @afterId");
        return $"""
            SELECT c.id
            FROM convention c
            JOIN convention_version v0 ON v0.convention_id = c.id AND v0.amendment_no = 0
            {(where.Count == 0 ? "" : "WHERE " + string.Join("\n  AND ", where))}
            ORDER BY c.id
            {"{limit}"}
            """;
    }

    private const string Running = "c.status <> 'DRAFT' AND (c.terminated_on IS NULL OR c.terminated_on > @statusOn)";

    // A party based in the département, or a commune of the département covered by any version.
    private const string DepartementFilter = """
        (c.id IN (SELECT dc.convention_id FROM convention_commune dc JOIN organisation dm ON dm.id = dc.commune_id WHERE dm.departement_code = @departement)
         OR c.id IN (SELECT dp.convention_id FROM convention_party dp JOIN organisation dorg ON dorg.id = dp.organisation_id WHERE dorg.departement_code = @departement))
        """;
    private const string CommuneSql = "SELECT id FROM organisation WHERE kind = 'COMMUNE' AND code = @code";
}
