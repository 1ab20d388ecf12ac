using CoordinationHub.Platform.OpenApi;
using CoordinationHub.Platform.Http;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Delegations;

/// <summary>The new state of a delegation: its period and, when given, its territory. Every rule is checked again.</summary>
public sealed record DelegationChanges(
    DateOnly StartOn, DateOnly EndOn, IReadOnlyList<Guid>? CommuneIds, IReadOnlyList<string>? DepartementCodes, IReadOnlyList<string>? EpciSirens, string? Reason);

public sealed record ChangeDelegationCommand(Guid Id, int ExpectedVersion, DelegationChanges Changes) : ICommand<DelegationDto>;

public sealed class ChangeDelegationValidator : AbstractValidator<ChangeDelegationCommand>
{
    public ChangeDelegationValidator()
    {
        RuleFor(c => c.Changes.EndOn).GreaterThanOrEqualTo(c => c.Changes.StartOn).WithName("endOn").WithMessage("endOn must not be before startOn.");
        RuleFor(c => c.Changes.Reason).MaximumLength(500).WithName("reason");
        RuleFor(c => c.Changes.CommuneIds).MaxItems(40_000).WithName("communeIds");
        RuleFor(c => c.Changes.DepartementCodes).MaxItems(101).WithName("departementCodes");
        RuleForEach(c => c.Changes.DepartementCodes).Matches(CreateDelegationValidator.DepartementCode)
            .WithName("departementCodes").WithMessage(CreateDelegationValidator.DepartementMessage);
        RuleFor(c => c.Changes.EpciSirens).MaxItems(1_500).WithName("epciSirens");
        RuleForEach(c => c.Changes.EpciSirens).Matches("^\\d{9}$").WithName("epciSirens").WithMessage("An EPCI is its SIREN (9 digits).");
        RuleFor(c => c.Changes.StartOn).InclusiveBetween(Dates.Earliest, Dates.Latest).WithName("startOn").WithMessage(Dates.OutOfRange);
        RuleFor(c => c.Changes.EndOn).InclusiveBetween(Dates.Earliest, Dates.Latest).WithName("endOn").WithMessage(Dates.OutOfRange);
    }
}

public sealed class ChangeDelegationHandler(Db db, DelegationWrites writes) : ICommandHandler<ChangeDelegationCommand, DelegationDto>
{
    public async ValueTask<DelegationDto> Handle(ChangeDelegationCommand command, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            var current = await DelegationStore.LoadAsync(db, c, tx, command.Id, null, t) ?? throw new NotFoundException("delegation", command.Id);
            if (current.Version != command.ExpectedVersion)
                throw new PreconditionFailedException($"The delegation is at version {current.Version}, not {command.ExpectedVersion}; read it again.");
            var changes = command.Changes;
            var territory = new TerritoryInput(changes.CommuneIds, changes.DepartementCodes, changes.EpciSirens);
            var communes = territory.IsEmpty
                ? await Territory.ExpandAsync(db, c, tx, new TerritoryInput(current.CommuneIds, null, null), "delegations", t)
                : await Territory.ExpandAsync(db, c, tx, territory, "delegations", t);
            await writes.ChangeAsync(c, tx, current, communes, changes.StartOn, changes.EndOn, changes.Reason, t);
            return (await DelegationStore.LoadAsync(db, c, tx, current.Id, null, t))!;
        }, ct);
}
