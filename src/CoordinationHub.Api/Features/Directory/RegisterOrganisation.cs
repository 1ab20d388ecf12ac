using CoordinationHub.Platform.OpenApi;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.Http;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Directory;

/// <summary>Registers a CCAS (attached to its commune), a CIAS (attached to its EPCI) or a partner.</summary>
[ContractName("OrganisationRegistration")]
public sealed record RegisterOrganisationCommand(
    OrganisationKind Kind, string Name, string? Siret, string? Siren,
    Guid? CommuneId, Guid? EpciId, PartnerCategory? PartnerCategory, string? DepartementCode,
    string? Email, string? Phone, string? Address, DateOnly? ActiveFrom = null) : ICommand<OrganisationDto>;

public sealed class RegisterOrganisationValidator : AbstractValidator<RegisterOrganisationCommand>
{
    public RegisterOrganisationValidator()
    {
        RuleFor(c => c.Kind).Must(k => k is OrganisationKind.CCAS or OrganisationKind.CIAS or OrganisationKind.PARTNER)
            .WithMessage("Only CCAS, CIAS and PARTNER are registered through the API; départements, communes and EPCI come from the COG referential.");
        RuleFor(c => c.CommuneId).NotEmpty().When(c => c.Kind == OrganisationKind.CCAS).WithMessage("A CCAS is attached to exactly one commune: give communeId.");
        RuleFor(c => c.CommuneId).Null().When(c => c.Kind != OrganisationKind.CCAS).WithMessage("Only a CCAS is attached to a commune.");
        RuleFor(c => c.EpciId).NotEmpty().When(c => c.Kind == OrganisationKind.CIAS).WithMessage("A CIAS is attached to exactly one EPCI: give epciId.");
        RuleFor(c => c.EpciId).Null().When(c => c.Kind != OrganisationKind.CIAS).WithMessage("Only a CIAS is attached to an EPCI.");
        RuleFor(c => c.PartnerCategory).NotNull().When(c => c.Kind == OrganisationKind.PARTNER).WithMessage("A partner has a category (CAF, MSA, CPAM, …).");
        RuleFor(c => c.PartnerCategory).Null().When(c => c.Kind != OrganisationKind.PARTNER).WithMessage("Only partners have a category.");
        RuleFor(c => c.DepartementCode).Null().When(c => c.Kind != OrganisationKind.PARTNER)
            .WithMessage("A CCAS or CIAS takes the département of its commune or EPCI.");
        RuleFor(c => c.ActiveFrom).InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange);
        Include(new ContactRules<RegisterOrganisationCommand>(c => c.Name, c => c.Siret, c => c.Siren, c => c.Email, c => c.Phone, c => c.Address));
    }
}

/// <summary>Field rules shared by registration and update.</summary>
public sealed class ContactRules<T> : AbstractValidator<T>
{
    public ContactRules(
        System.Linq.Expressions.Expression<Func<T, string>> name, System.Linq.Expressions.Expression<Func<T, string?>> siret,
        System.Linq.Expressions.Expression<Func<T, string?>> siren, System.Linq.Expressions.Expression<Func<T, string?>> email,
        System.Linq.Expressions.Expression<Func<T, string?>> phone, System.Linq.Expressions.Expression<Func<T, string?>> address)
    {
        RuleFor(name).NotEmpty().MaximumLength(200).Must(n => SearchText.Normalize(n ?? "").Length > 0).WithMessage("The name must contain letters or digits.");
        RuleFor(siret).Must(Identifiers.IsSiret!).When(c => siret.Compile()(c) is not null)
            .WithMessage("A SIRET is 14 digits with a valid check digit (Luhn).");
        RuleFor(siren).Must(Identifiers.IsSiren!).When(c => siren.Compile()(c) is not null)
            .WithMessage("A SIREN is 9 digits with a valid check digit (Luhn).");
        RuleFor(siret).Must((c, s) => s!.StartsWith(siren.Compile()(c)!, StringComparison.Ordinal))
            .When(c => siret.Compile()(c) is not null && siren.Compile()(c) is not null)
            .WithMessage("The SIRET must begin with the SIREN.");
        RuleFor(email).EmailAddress().MaximumLength(254);
        RuleFor(phone).Matches("^\\+?[0-9 .()-]{6,32}$").When(c => phone.Compile()(c) is not null).WithMessage("A phone number is 6 to 32 digits, spaces, dots or dashes.");
        RuleFor(address).MaximumLength(300);
    }
}

public sealed class RegisterOrganisationHandler(Db db, Caller caller, TimeProvider clock, Mediator.ISender sender, CompetenceMap.CompetenceMapWriter map)
    : ICommandHandler<RegisterOrganisationCommand, OrganisationDto>
{
    public async ValueTask<OrganisationDto> Handle(RegisterOrganisationCommand command, CancellationToken ct)
    {
        var id = Guid.CreateVersion7();
        var now = clock.GetUtcNow();
        var siren = command.Siren ?? command.Siret?[..9];
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            string? departement = command.DepartementCode, region = null;
            if (command.Kind == OrganisationKind.CCAS)
            {
                var commune = await Parent(db, c, tx, command.CommuneId!.Value, OrganisationKind.COMMUNE, t);
                if (!caller.IsPlatformAdmin && !caller.Is(commune.Id))
                    throw new ForbiddenException("Only the platform administrator or the commune itself registers its CCAS.");
                (departement, region) = (commune.DepartementCode, commune.RegionCode);
                var existing = await c.QuerySingleOrDefaultAsync<Guid?>(db.Command(ActiveCcasSql, new { communeId = commune.Id, isActive = true }, t, tx));
                if (existing is { } ccas)
                    throw new ConflictException("directory.ccas-exists", $"The commune {commune.Name} already has a CCAS.") { ConflictingResource = $"/v1/organisations/{ccas}" };
            }
            else if (command.Kind == OrganisationKind.CIAS)
            {
                var epci = await Parent(db, c, tx, command.EpciId!.Value, OrganisationKind.EPCI, t);
                if (!caller.IsPlatformAdmin && !caller.Is(epci.Id))
                    throw new ForbiddenException("Only the platform administrator or the EPCI itself registers its CIAS.");
                (departement, region) = (epci.DepartementCode, epci.RegionCode);
                var existing = await c.QuerySingleOrDefaultAsync<Guid?>(db.Command(ActiveCiasSql, new { epciId = epci.Id, isActive = true }, t, tx));
                if (existing is { } cias)
                    throw new ConflictException("directory.cias-exists", $"The EPCI {epci.Name} already has a CIAS.") { ConflictingResource = $"/v1/organisations/{cias}" };
            }
            else
            {
                if (!caller.IsPlatformAdmin) throw new ForbiddenException("Only the platform administrator registers partners.");
                if (departement is not null)
                {
                    region = await c.QuerySingleOrDefaultAsync<string?>(db.Command(DepartementRegionSql, new { departement }, t, tx))
                        ?? throw new RuleException("directory.unknown-departement", $"There is no département with code '{departement}'.");
                }
            }
            await Uniqueness.CheckAsync(db, c, tx, null, command.Siret, siren, t);
            await c.ExecuteAsync(db.Command(InsertSql, new
            {
                id, kind = command.Kind.ToString(), name = command.Name.Trim(), searchName = SearchText.Normalize(command.Name),
                siren, command.Siret, departement, region, command.CommuneId, command.EpciId,
                partnerCategory = command.PartnerCategory?.ToString(), command.Email, command.Phone, command.Address,
                isActive = true, command.ActiveFrom, now,
            }, t, tx));
            // The map names every body of its chains, and a CCAS holds competences by law from activeFrom.
            await map.OrganisationChangedAsync(c, tx, id, t);
            return 0;
        }, ct);
        return await sender.Send(new GetOrganisationQuery(id), ct);
    }

    private static async Task<ParentRow> Parent(Db db, System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, Guid id, OrganisationKind kind, CancellationToken ct)
    {
        var parent = await c.QuerySingleOrDefaultAsync<ParentRow>(db.Command(ParentSql, new { id }, ct, tx));
        if (parent is null || parent.Kind != kind)
            throw new RuleException($"directory.{kind.ToString().ToLowerInvariant()}-required", $"{id} is not a {kind} of the directory.");
        if (!parent.IsActive)
            throw new RuleException("directory.inactive-parent", $"{parent.Name} is no longer active (merged or dissolved); attach to its successor.")
                { ConflictingResource = $"/v1/organisations/{parent.Id}" };
        return parent;
    }

    private sealed class ParentRow
    {
        public Guid Id { get; init; }
        public OrganisationKind Kind { get; init; }
        public string Name { get; init; } = "";
        public string? DepartementCode { get; init; }
        public string? RegionCode { get; init; }
        public bool IsActive { get; init; }
    }

    private const string ParentSql = "SELECT id, kind, name, departement_code, region_code, is_active FROM organisation WHERE id = @id";
    private const string ActiveCcasSql = "SELECT id FROM organisation WHERE kind = 'CCAS' AND commune_id = @communeId AND is_active = @isActive";
    private const string ActiveCiasSql = "SELECT id FROM organisation WHERE kind = 'CIAS' AND epci_id = @epciId AND is_active = @isActive";
    private const string DepartementRegionSql = "SELECT region_code FROM organisation WHERE kind = 'DEPARTEMENT' AND code = @departement";
    private const string InsertSql = """
        INSERT INTO organisation (id, kind, code, name, search_name, siren, siret, departement_code, region_code, commune_id, epci_id,
                                  partner_category, epci_type, population, email, phone, address, is_active, active_from, successor_id, version,
                                  created_at, updated_at)
        VALUES (@id, @kind, NULL, @name, @searchName, @siren, @siret, @departement, @region, @communeId, @epciId,
                @partnerCategory, NULL, NULL, @email, @phone, @address, @isActive, @activeFrom, NULL, 1, @now, @now)
        """;
}

/// <summary>SIRET is unique; a SIREN belongs to one organisation unless each has its own SIRET (establishments of one body).</summary>
internal static class Uniqueness
{
    public static async Task CheckAsync(Db db, System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, Guid? self, string? siret, string? siren, CancellationToken ct)
    {
        if (siret is not null)
        {
            var other = await c.QuerySingleOrDefaultAsync<Guid?>(db.Command(SiretSql, new { siret, self = self ?? Guid.Empty }, ct, tx));
            if (other is { } o) throw new ConflictException("directory.siret-taken", $"SIRET {siret} is already registered.") { ConflictingResource = $"/v1/organisations/{o}" };
        }
        if (siren is not null)
        {
            // With a SIRET of its own, only a holder of the SIREN without SIRET is a clash.
            var sql = siret is null ? SirenSql : SirenWithoutSiretSql;
            var other = await c.QueryFirstOrDefaultAsync<Guid?>(db.Command(sql, new { siren, self = self ?? Guid.Empty }, ct, tx));
            if (other is { } o) throw new ConflictException("directory.siren-taken", $"SIREN {siren} is already registered to another organisation.") { ConflictingResource = $"/v1/organisations/{o}" };
        }
    }

    private const string SiretSql = "SELECT id FROM organisation WHERE siret = @siret AND id <> @self";
    private const string SirenSql = "SELECT id FROM organisation WHERE siren = @siren AND id <> @self ORDER BY id";
    private const string SirenWithoutSiretSql = "SELECT id FROM organisation WHERE siren = @siren AND siret IS NULL AND id <> @self ORDER BY id";
}
