using CoordinationHub.Features.PersonalData;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>Reads a referral. The receiver's first read records that it received it (SENT → RECEIVED).</summary>
public sealed record GetReferralQuery(Guid Id) : IQuery<ReferralDto>;

public sealed class GetReferralHandler(Db db, Caller caller, TimeProvider clock, ReferralPersonData people, ReferralWorkflow workflow, PersonAccess access)
    : IQueryHandler<GetReferralQuery, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(GetReferralQuery query, CancellationToken ct)
    {
        var (dto, firstRead) = await ReadAsync(query, ct);
        if (firstRead)
        {
            // The receiver's first read is a transition: it logs the access in its own transaction.
            try { return await ReceiveReferralHandler.ReceiveAsync(workflow, query.Id, null, ct); }
            // Two first reads at once: the other one recorded it; this one reads what it recorded.
            catch (ConflictException) { dto = (await ReadAsync(query, ct)).Dto; }
        }
        if (dto!.Person is not null) await access.RecordAsync([dto.Id], ct);
        return dto;
    }

    private ValueTask<(ReferralDto? Dto, bool FirstRead)> ReadAsync(GetReferralQuery query, CancellationToken ct) =>
        db.RetryAsync(async (c, t) =>
        {
            var row = await ReferralStore.LoadAsync(db, c, null, query.Id, t);
            var view = await ReferralVisibility.ViewAsync(db, c, null, row, query.Id, caller, t);
            if (view.Role == ReferralRole.RECEIVER && row!.State == ReferralStatus.SENT) return ((ReferralDto?)null, true);
            return ((ReferralDto?)await ReferralStore.ToDtoAsync(db, c, null, row!, view, people, clock.GetUtcNow(), t), false);
        }, ct);
}
