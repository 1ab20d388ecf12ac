using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Mediator;

namespace CoordinationHub.Features.Delegations;

/// <summary>A delegation as it is now, or as it was recorded on <c>AsOf</c> (end of that day, UTC).</summary>
public sealed record GetDelegationQuery(Guid Id, DateOnly? AsOf) : IQuery<DelegationDto>;

public sealed class GetDelegationHandler(Db db) : IQueryHandler<GetDelegationQuery, DelegationDto>
{
    public async ValueTask<DelegationDto> Handle(GetDelegationQuery query, CancellationToken ct)
    {
        DateTimeOffset? recordedBy = query.AsOf is { } d ? new DateTimeOffset(d.ToDateTime(TimeOnly.MaxValue), TimeSpan.Zero) : null;
        return await db.RetryAsync((c, t) => DelegationStore.LoadAsync(db, c, null, query.Id, recordedBy, t), ct)
            ?? throw new NotFoundException("delegation", query.Id);
    }
}
