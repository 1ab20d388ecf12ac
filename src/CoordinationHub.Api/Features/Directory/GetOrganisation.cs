using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Directory;

public sealed record GetOrganisationQuery(Guid Id) : IQuery<OrganisationDto>;

public sealed class GetOrganisationHandler(Db db) : IQueryHandler<GetOrganisationQuery, OrganisationDto>
{
    public async ValueTask<OrganisationDto> Handle(GetOrganisationQuery query, CancellationToken ct) =>
        await db.RetryAsync((c, t) => c.QuerySingleOrDefaultAsync<OrganisationDto>(db.Command(Sql, new { query.Id }, t)), ct)
        ?? throw new NotFoundException("organisation", query.Id);

    private const string Sql = $"SELECT {OrganisationDto.Columns} FROM organisation o WHERE o.id = @id";
}
