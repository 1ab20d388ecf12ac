using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.ApiKeys;

/// <summary>
/// How an organisation's people and machines reach the API through an issuer's tokens: the scopes those tokens may be
/// granted (a token gets its own scopes among these), and whether reading the person's data needs an agent authenticated
/// by an issuer (then a request with an API key, or a machine client's token, is refused 403 on such reads).
/// </summary>
[ContractName("OrganisationAccess")]
public sealed record OrganisationAccessDto
{
    public Guid OrganisationId { get; init; }
    public IReadOnlyList<string> Scopes { get; init; } = [];
    public bool RequireAuthenticatedAgent { get; init; }
    public int Version { get; init; }
    public DateTimeOffset? UpdatedAt { get; init; }
}

[ContractName("OrganisationAccessChange")]
public sealed record OrganisationAccessChange(IReadOnlyList<string> Scopes, bool RequireAuthenticatedAgent);

public sealed record GetOrganisationAccessQuery(Guid OrganisationId) : IQuery<OrganisationAccessDto>;

/// <summary>Set an organisation's access: by the platform administrator, or by the organisation's own key holding
/// <c>api-keys:manage</c> (granting its tokens at most the scopes that key holds).</summary>
public sealed record SetOrganisationAccessCommand(Guid OrganisationId, int ExpectedVersion, OrganisationAccessChange Change)
    : ICommand<OrganisationAccessDto>;

public sealed class SetOrganisationAccessValidator : AbstractValidator<SetOrganisationAccessCommand>
{
    public SetOrganisationAccessValidator()
    {
        RuleFor(c => c.Change.Scopes).NotNull().Must(s => s is null || s.Count <= 20).WithMessage("At most 20 scopes.").WithName("scopes");
        RuleForEach(c => c.Change.Scopes).NotEmpty().MaximumLength(50).WithName("scopes");
    }
}

public sealed class GetOrganisationAccessHandler(Db db, Caller caller) : IQueryHandler<GetOrganisationAccessQuery, OrganisationAccessDto>
{
    public async ValueTask<OrganisationAccessDto> Handle(GetOrganisationAccessQuery query, CancellationToken ct)
    {
        OrganisationAccessRules.Check(caller, query.OrganisationId);
        return await db.RetryAsync((c, t) => OrganisationAccessRules.LoadAsync(db, c, null, query.OrganisationId, t), ct);
    }
}

public sealed class SetOrganisationAccessHandler(Db db, Caller caller, ChangeLog changes, OrganisationAccessStore store, TimeProvider clock)
    : ICommandHandler<SetOrganisationAccessCommand, OrganisationAccessDto>
{
    public async ValueTask<OrganisationAccessDto> Handle(SetOrganisationAccessCommand command, CancellationToken ct)
    {
        OrganisationAccessRules.Check(caller, command.OrganisationId);
        var scopes = ApiKeyRules.Grantable(caller, command.Change.Scopes);
        var result = await db.InTransactionAsync(async (c, tx, t) =>
        {
            var before = await OrganisationAccessRules.LoadAsync(db, c, tx, command.OrganisationId, t);
            if (before.Version != command.ExpectedVersion)
                throw new PreconditionFailedException($"The access is at version {before.Version}, not {command.ExpectedVersion}: read it again.");
            var row = new
            {
                organisationId = command.OrganisationId, scopes = ApiKeyStore.ScopeList(scopes),
                require = command.Change.RequireAuthenticatedAgent, version = before.Version + 1, now = clock.GetUtcNow(),
            };
            if (await c.ExecuteAsync(db.Command(UpdateSql, row, t, tx)) == 0) await c.ExecuteAsync(db.Command(InsertSql, row, t, tx));
            var after = await OrganisationAccessRules.LoadAsync(db, c, tx, command.OrganisationId, t);
            await changes.RecordAsync(c, tx, "organisation_access", command.OrganisationId, "organisation.access-changed", before, after, t);
            return after;
        }, ct);
        store.Changed();
        return result;
    }

    private const string UpdateSql = """
        UPDATE organisation_access SET scopes = @scopes, require_authenticated_agent = @require, version = @version, updated_at = @now
        WHERE organisation_id = @organisationId
        """;
    private const string InsertSql = """
        INSERT INTO organisation_access (organisation_id, scopes, require_authenticated_agent, version, updated_at)
        VALUES (@organisationId, @scopes, @require, @version, @now)
        """;
}

public static class OrganisationAccessRules
{
    /// <summary>The platform administrator, or the organisation's own key; another organisation's settings are not visible.</summary>
    public static void Check(Caller caller, Guid organisationId)
    {
        if (!caller.IsPlatformAdmin && !caller.Is(organisationId)) throw new NotFoundException("organisation", organisationId);
    }

    public static async Task<OrganisationAccessDto> LoadAsync(Db db, System.Data.Common.DbConnection c, System.Data.Common.DbTransaction? tx,
        Guid organisationId, CancellationToken ct)
    {
        var row = await c.QuerySingleOrDefaultAsync<Row>(db.Command(LoadSql, new { organisationId }, ct, tx))
            ?? throw new NotFoundException("organisation", organisationId);
        return new OrganisationAccessDto
        {
            OrganisationId = row.Id, Scopes = (row.Scopes ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries),
            RequireAuthenticatedAgent = row.RequireAuthenticatedAgent ?? false, Version = row.Version ?? 0, UpdatedAt = row.UpdatedAt,
        };
    }

    private sealed class Row
    {
        public Guid Id { get; init; }
        public string? Scopes { get; init; }
        public bool? RequireAuthenticatedAgent { get; init; }
        public int? Version { get; init; }
        public DateTimeOffset? UpdatedAt { get; init; }
    }

    private const string LoadSql = """
        SELECT o.id, a.scopes, a.require_authenticated_agent, a.version, a.updated_at
        FROM organisation o LEFT JOIN organisation_access a ON a.organisation_id = o.id
        WHERE o.id = @organisationId
        """;
}
