using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.Http;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Directory;

/// <summary>The fields of a registered body that can change; the attachment (commune, EPCI) and kind cannot.</summary>
public sealed record OrganisationChanges(
    string Name, string? Siret, string? Siren, PartnerCategory? PartnerCategory,
    string? Email, string? Phone, string? Address, bool IsActive, DateOnly? ActiveFrom = null, DateOnly? ActiveUntil = null);

public sealed record UpdateOrganisationCommand(Guid Id, int ExpectedVersion, OrganisationChanges Changes) : ICommand<OrganisationDto>;

public sealed class UpdateOrganisationValidator : AbstractValidator<UpdateOrganisationCommand>
{
    public UpdateOrganisationValidator()
    {
        RuleFor(c => c.Changes).NotNull().SetValidator(new ContactRules<OrganisationChanges>(
            c => c.Name, c => c.Siret, c => c.Siren, c => c.Email, c => c.Phone, c => c.Address)).OverridePropertyName("");
        RuleFor(c => c.Changes.ActiveFrom).InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange).OverridePropertyName("activeFrom");
        RuleFor(c => c.Changes.ActiveUntil).InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange).OverridePropertyName("activeUntil");
        RuleFor(c => c.Changes.ActiveUntil).Null().When(c => c.Changes.IsActive).OverridePropertyName("activeUntil")
            .WithMessage("activeUntil is the last day of a dissolved body: give it with isActive false.");
        RuleFor(c => c.Changes.ActiveUntil).GreaterThanOrEqualTo(c => c.Changes.ActiveFrom).When(c => c.Changes.ActiveFrom is not null)
            .OverridePropertyName("activeUntil").WithMessage("activeUntil must not be before activeFrom.");
    }
}

public sealed class UpdateOrganisationHandler(Db db, Caller caller, TimeProvider clock, ISender sender, CompetenceMap.CompetenceMapWriter map)
    : ICommandHandler<UpdateOrganisationCommand, OrganisationDto>
{
    public async ValueTask<OrganisationDto> Handle(UpdateOrganisationCommand command, CancellationToken ct)
    {
        var changes = command.Changes;
        var siren = changes.Siren ?? changes.Siret?[..9];
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            var current = await c.QuerySingleOrDefaultAsync<OrganisationDto>(db.Command(CurrentSql, new { command.Id }, t, tx))
                ?? throw new NotFoundException("organisation", command.Id);
            if (OrganisationDto.IsImported(current.Kind))
                throw new ConflictException("directory.referential-read-only",
                    "Départements, communes and EPCI come from the COG referential; they change only through import-referential.");
            var owner = current.CommuneId ?? current.EpciId;
            if (!caller.IsPlatformAdmin && !caller.Is(current.Id) && !(owner is { } o && caller.Is(o)))
                throw new ForbiddenException("Only the platform administrator, the body itself, or the commune/EPCI it is attached to may change it.");
            if (current.Kind == OrganisationKind.PARTNER && changes.PartnerCategory is null)
                throw new RuleException("directory.partner-category-required", "A partner has a category (CAF, MSA, CPAM, …).");
            if (current.Kind != OrganisationKind.PARTNER && changes.PartnerCategory is not null)
                throw new RuleException("directory.partner-category-forbidden", "Only partners have a category.");
            if (current.Version != command.ExpectedVersion)
                throw new PreconditionFailedException($"The organisation is at version {current.Version}, not {command.ExpectedVersion}; read it again.");

            await Uniqueness.CheckAsync(db, c, tx, current.Id, changes.Siret, siren, t);
            var updated = await c.ExecuteAsync(db.Command(UpdateSql, new
            {
                command.Id, expected = command.ExpectedVersion, name = changes.Name.Trim(), searchName = SearchText.Normalize(changes.Name),
                siren, changes.Siret, partnerCategory = changes.PartnerCategory?.ToString(),
                changes.Email, changes.Phone, changes.Address, changes.IsActive, now = clock.GetUtcNow(),
                activeFrom = changes.ActiveFrom ?? current.ActiveFrom,
                // Dissolved without a date: its last day was yesterday; reactivated: no last day.
                activeUntil = changes.IsActive ? (DateOnly?)null
                    : changes.ActiveUntil ?? current.ActiveUntil ?? DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime).AddDays(-1),
            }, t, tx));
            if (updated == 0) throw new PreconditionFailedException("The organisation was changed by someone else meanwhile; read it again.");
            // The map shows names, and a CCAS holds its competences by law only until activeUntil.
            await map.OrganisationChangedAsync(c, tx, command.Id, t);
            return 0;
        }, ct);
        return await sender.Send(new GetOrganisationQuery(command.Id), ct);
    }

    private const string CurrentSql = $"SELECT {OrganisationDto.Columns} FROM organisation o {{lock}} WHERE o.id = @id {{for_update}}";
    private const string UpdateSql = """
        UPDATE organisation
        SET name = @name, search_name = @searchName, siren = @siren, siret = @siret, partner_category = @partnerCategory,
            email = @email, phone = @phone, address = @address, is_active = @isActive,
            active_from = @activeFrom, active_until = @activeUntil,
            version = version + 1, updated_at = @now
        WHERE id = @id AND version = @expected
        """;
}
