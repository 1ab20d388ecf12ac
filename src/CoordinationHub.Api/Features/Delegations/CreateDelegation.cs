using CoordinationHub.Platform.OpenApi;
using CoordinationHub.Platform.Http;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Delegations;

/// <summary>Delegates a competence on a territory (communes, or whole départements / EPCI) for a period, under a signed convention.</summary>
[ContractName("DelegationDraft")]
public sealed record CreateDelegationCommand(
    Guid DelegatorId, Guid DelegateId, string Competence, Guid ConventionId,
    IReadOnlyList<Guid>? CommuneIds, IReadOnlyList<string>? DepartementCodes, IReadOnlyList<string>? EpciSirens,
    DateOnly StartOn, DateOnly EndOn, string? ExternalRef) : ICommand<DelegationDto>;

public sealed class CreateDelegationValidator : AbstractValidator<CreateDelegationCommand>
{
    public const string DepartementCode = "^(\\d{2,3}|2A|2B)$";
    public const string DepartementMessage = "A département is its COG code: 01…95, 2A, 2B, 971…989.";

    public CreateDelegationValidator()
    {
        RuleFor(c => c.DelegatorId).NotEmpty();
        RuleFor(c => c.DelegateId).NotEmpty().NotEqual(c => c.DelegatorId).WithMessage("An organisation does not delegate to itself.");
        RuleFor(c => c.Competence).NotEmpty().MaximumLength(32);
        RuleFor(c => c.ConventionId).NotEmpty();
        RuleFor(c => c.EndOn).GreaterThanOrEqualTo(c => c.StartOn).WithMessage("endOn must not be before startOn.");
        RuleFor(c => c.StartOn).InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange);
        RuleFor(c => c.EndOn).InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange);
        RuleFor(c => c).Must(c => !new TerritoryInput(c.CommuneIds, c.DepartementCodes, c.EpciSirens).IsEmpty)
            .WithName("communeIds").WithMessage("Give the territory: communeIds, departementCodes or epciSirens.");
        RuleFor(c => c.ExternalRef).MaximumLength(ExternalRefs.MaxLength).Must(ExternalRefs.IsWellFormed).WithMessage(ExternalRefs.Rule);
        RuleFor(c => c.CommuneIds).MaxItems(40_000);
        RuleFor(c => c.DepartementCodes).MaxItems(101);
        RuleForEach(c => c.DepartementCodes).Matches(DepartementCode).WithMessage(DepartementMessage);
        RuleFor(c => c.EpciSirens).MaxItems(1_500);
        RuleForEach(c => c.EpciSirens).Matches("^\\d{9}$").WithMessage("An EPCI is its SIREN (9 digits).");
    }
}

public sealed class CreateDelegationHandler(Db db, DelegationWrites writes) : ICommandHandler<CreateDelegationCommand, DelegationDto>
{
    public async ValueTask<DelegationDto> Handle(CreateDelegationCommand command, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            var communes = await Territory.ExpandAsync(db, c, tx, new TerritoryInput(command.CommuneIds, command.DepartementCodes, command.EpciSirens), "delegations", t);
            var id = await writes.CreateAsync(c, tx, new DelegationProposal(null, command.DelegatorId, command.DelegateId, command.Competence,
                command.ConventionId, communes, command.StartOn, command.EndOn), command.ExternalRef, t);
            return (await DelegationStore.LoadAsync(db, c, tx, id, null, t))!;
        }, ct);
}
