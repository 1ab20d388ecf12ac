using CoordinationHub.Platform.OpenApi;
using CoordinationHub.Platform.Http;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Delegations;

/// <summary>Ends a delegation early: its last day becomes <c>LastDay</c>. Recorded as a new version, never deleted.</summary>
[ContractName("DelegationEnd")]
public sealed record EndDelegationRequest(DateOnly LastDay, string Reason);

public sealed record EndDelegationCommand(Guid Id, int ExpectedVersion, EndDelegationRequest Request) : ICommand<DelegationDto>;

public sealed class EndDelegationValidator : AbstractValidator<EndDelegationCommand>
{
    public EndDelegationValidator()
    {
        RuleFor(c => c.Request.Reason).NotEmpty().MaximumLength(500).WithName("reason");
        RuleFor(c => c.Request.LastDay).InclusiveBetween(Dates.Earliest, Dates.Latest).WithName("lastDay").WithMessage(Dates.OutOfRange);
    }
}

public sealed class EndDelegationHandler(Db db, DelegationWrites writes, Caller caller) : ICommandHandler<EndDelegationCommand, DelegationDto>
{
    public async ValueTask<DelegationDto> Handle(EndDelegationCommand command, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            var current = await DelegationStore.LoadAsync(db, c, tx, command.Id, null, t) ?? throw new NotFoundException("delegation", command.Id);
            if (!caller.IsPlatformAdmin && !caller.Is(current.DelegatorId) && !caller.Is(current.DelegateId))
                throw new ForbiddenException("Only the delegator or the delegate ends a delegation.");
            if (current.Version != command.ExpectedVersion)
                throw new PreconditionFailedException($"The delegation is at version {current.Version}, not {command.ExpectedVersion}; read it again.");
            await writes.EndAsync(c, tx, current, command.Request.LastDay, command.Request.Reason, t);
            return (await DelegationStore.LoadAsync(db, c, tx, current.Id, null, t))!;
        }, ct);
}
