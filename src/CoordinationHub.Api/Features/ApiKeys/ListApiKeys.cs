using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.Http;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.ApiKeys;

/// <summary>The keys of the caller's organisation (revoked ones too), oldest first; the platform administrator's
/// of any organisation, or every key when it names none.</summary>
public sealed record ListApiKeysQuery(Guid? OrganisationId, int? Limit, string? Cursor) : IQuery<Page<ApiKeyDto>>;

public sealed class ListApiKeysValidator : AbstractValidator<ListApiKeysQuery>
{
    public ListApiKeysValidator() => RuleFor(q => q.Limit).InclusiveBetween(1, Cursor.MaxLimit);
}

public sealed class ListApiKeysHandler(Db db, Caller caller) : IQueryHandler<ListApiKeysQuery, Page<ApiKeyDto>>
{
    public async ValueTask<Page<ApiKeyDto>> Handle(ListApiKeysQuery query, CancellationToken ct)
    {
        var organisationId = query.OrganisationId ?? caller.OrganisationId;
        if (!caller.IsPlatformAdmin && (organisationId is null || !caller.Is(organisationId.Value)))
            throw new ForbiddenException("A key lists the keys of its own organisation only.");
        var limit = query.Limit ?? Cursor.DefaultLimit;
        var after = Cursor.Decode(query.Cursor, 1) is { } parts ? Cursor.Id(parts[0]) : Guid.Empty;
        var rows = await db.RetryAsync(async (c, t) => (await c.QueryAsync<ApiKeyStore.ApiKeyRow>(db.Command(
            organisationId is null ? AllSql : OrganisationSql, new { organisationId, after, limit = limit + 1, no = false }, t))).ToList(), ct);
        var page = Cursor.ToPage(rows, limit, r => [r.Id.ToString()]);
        return new Page<ApiKeyDto>(page.Items.Select(r => r.ToDto()).ToList(), page.NextCursor);
    }

    private const string OrganisationSql = "SELECT " + ApiKeyRules.Columns + """

        FROM api_key
        WHERE organisation_id = @organisationId AND is_platform_admin = @no AND id > @after
        ORDER BY id
        {limit}
        """;
    private const string AllSql = "SELECT " + ApiKeyRules.Columns + """

        FROM api_key
        WHERE id > @after
        ORDER BY id
        {limit}
        """;
}

public sealed record GetApiKeyQuery(Guid Id) : IQuery<ApiKeyDto>;

public sealed class GetApiKeyHandler(Db db, Caller caller) : IQueryHandler<GetApiKeyQuery, ApiKeyDto>
{
    public async ValueTask<ApiKeyDto> Handle(GetApiKeyQuery query, CancellationToken ct) =>
        (await db.RetryAsync((c, t) => ApiKeyRules.LoadAsync(db, c, null, query.Id, caller, t), ct)).ToDto();
}
