using CoordinationHub.Platform.OpenApi;
using CoordinationHub.Platform.Http;
using CoordinationHub.Features.Directory;
using System.Data.Common;
using System.Text;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Conventions;

[ContractName("ConventionPartyDraft")]
public sealed record ConventionPartyInput(Guid OrganisationId, string Role);

/// <summary>
/// A new convention, as a DRAFT until every party signs it. The territory is the union of
/// <c>communeIds</c> and the active communes of <c>departementCodes</c> and <c>epciSirens</c>.
/// </summary>
[ContractName("ConventionDraft")]
public sealed record CreateConventionCommand(
    ConventionType Type, string? Reference, string Object, IReadOnlyList<ConventionPartyInput> Parties,
    IReadOnlyList<string>? Competences, IReadOnlyList<Guid>? CommuneIds, IReadOnlyList<string>? DepartementCodes, IReadOnlyList<string>? EpciSirens,
    DateOnly StartOn, DateOnly EndOn, int? RenewalMonths, int? MaxRenewals, int NoticeDays, bool AllowsSubdelegation,
    FinancialTerms? FinancialTerms) : ICommand<ConventionDto>, IConventionTermsInput
{
    public IReadOnlyList<ReferralResponseDays>? ReferralResponseDays { get; init; }
    /// <summary>Days the person's data of a referral between the parties is kept once it closes (else the platform's setting).</summary>
    public int? PersonDataRetentionDays { get; init; }
}

/// <summary>Days a receiver has to answer a referral for a covered competence, between the parties.</summary>
public sealed record ReferralResponseDays(string Competence, int Days);

/// <summary>The terms a convention and an amendment both carry, validated alike.</summary>
public interface IConventionTermsInput
{
    IReadOnlyList<string>? Competences { get; }
    IReadOnlyList<Guid>? CommuneIds { get; }
    IReadOnlyList<string>? DepartementCodes { get; }
    IReadOnlyList<string>? EpciSirens { get; }
    int? RenewalMonths { get; }
    int? MaxRenewals { get; }
    FinancialTerms? FinancialTerms { get; }
    IReadOnlyList<ReferralResponseDays>? ReferralResponseDays { get; }
}

public sealed class ConventionTermsRules : AbstractValidator<IConventionTermsInput>
{
    public ConventionTermsRules()
    {
        RuleForEach(c => c.Competences).NotEmpty().MaximumLength(32);
        RuleFor(c => c.Competences).MaxItems(100);
        RuleFor(c => c.CommuneIds).MaxItems(40_000).WithMessage("At most 40,000 communes.");
        RuleFor(c => c.DepartementCodes).MaxItems(101);
        RuleFor(c => c.EpciSirens).MaxItems(1_500);
        RuleForEach(c => c.CommuneIds).NotEmpty();
        RuleForEach(c => c.DepartementCodes).NotEmpty().Matches("^(\\d{2,3}|2A|2B)$").WithMessage("A département is its COG code: 01…95, 2A, 2B, 971…989.");
        RuleForEach(c => c.EpciSirens).NotEmpty().Matches("^\\d{9}$").WithMessage("An EPCI is its SIREN (9 digits).");
        RuleFor(c => c.RenewalMonths).InclusiveBetween(1, 120);
        RuleFor(c => c.MaxRenewals).InclusiveBetween(1, 50);
        RuleFor(c => c.FinancialTerms!.Amount).GreaterThanOrEqualTo(0).LessThan(1_000_000_000_000m).When(c => c.FinancialTerms is not null);
        RuleFor(c => c.FinancialTerms!.Periodicity).IsInEnum().When(c => c.FinancialTerms is not null);
        RuleFor(c => c.ReferralResponseDays).Must(l => l!.Count <= 32).When(c => c.ReferralResponseDays is not null)
            .WithMessage("At most 32 competences.");
        RuleForEach(c => c.ReferralResponseDays).ChildRules(r =>
        {
            r.RuleFor(x => x.Competence).NotEmpty().MaximumLength(32);
            r.RuleFor(x => x.Days).InclusiveBetween(1, 365);
        });
    }
}

public sealed class CreateConventionValidator : AbstractValidator<CreateConventionCommand>
{
    public CreateConventionValidator()
    {
        RuleFor(c => c.Reference).MaximumLength(40).Matches("^[A-Za-z0-9][A-Za-z0-9._/-]*$").When(c => c.Reference is not null)
            .WithMessage("A reference is up to 40 letters, digits, '.', '_', '/' or '-'.");
        RuleFor(c => c.Object).NotEmpty().MaximumLength(4000);
        RuleFor(c => c.PersonDataRetentionDays).InclusiveBetween(1, 3650);
        RuleFor(c => c.Parties).NotNull().MaxItems(100).Must(p => p.Count >= 2).WithMessage("A convention binds at least two parties.")
            .Must(p => p.Select(x => x.OrganisationId).Distinct().Count() == p.Count).WithMessage("Each party appears once.");
        RuleForEach(c => c.Parties).ChildRules(p =>
        {
            p.RuleFor(x => x.OrganisationId).NotEmpty();
            p.RuleFor(x => x.Role).NotEmpty().MaximumLength(200);
        });
        RuleFor(c => c.StartOn).NotEmpty().InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange);
        RuleFor(c => c.EndOn).InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange);
        RuleFor(c => c.EndOn).NotEmpty().GreaterThanOrEqualTo(c => c.StartOn).WithMessage("The end date cannot precede the start date.");
        RuleFor(c => c.NoticeDays).InclusiveBetween(0, 3650);
        Include(new ConventionTermsRules());
        RuleFor(c => c.MaxRenewals).NotNull().When(c => c.RenewalMonths is not null).WithMessage("Give renewalMonths and maxRenewals together, or neither.");
        RuleFor(c => c.RenewalMonths).NotNull().When(c => c.MaxRenewals is not null).WithMessage("Give renewalMonths and maxRenewals together, or neither.");
    }
}

public sealed class CreateConventionHandler(Db db, Caller caller, TimeProvider clock, ChangeLog changeLog)
    : ICommandHandler<CreateConventionCommand, ConventionDto>
{
    public async ValueTask<ConventionDto> Handle(CreateConventionCommand command, CancellationToken ct)
    {
        var partyIds = command.Parties.Select(p => p.OrganisationId).ToList();
        if (!caller.IsPlatformAdmin && !partyIds.Contains(caller.OrganisationId ?? Guid.Empty))
            throw new NotAPartyException("The organisation creating a convention must be one of its parties.");
        if (command.FinancialTerms?.PayerId is { } payer && !partyIds.Contains(payer))
            throw new RuleException("conventions.payer-not-a-party", "The payer of the financial terms must be a party.");

        var id = Guid.CreateVersion7();
        var now = clock.GetUtcNow();
        var reference = command.Reference?.Trim() ?? $"CONV-{now.Year}-{Convert.ToHexString(Guid.NewGuid().ToByteArray()[..4])}";
        var today = ConventionAccess.Today(clock);
        return await db.InTransactionAsync(async (c, tx, t) =>
        {
            foreach (var party in partyIds) await ConventionTerritory.RequireActiveOrganisationAsync(db, c, tx, party, t);
            var competences = await ConventionTerritory.CompetencesAsync(db, c, tx, command.Competences ?? [], t);
            var communes = await ConventionTerritory.ExpandAsync(db, c, tx, command.CommuneIds, command.DepartementCodes, command.EpciSirens, t);
            if (competences.Count > 0 && communes.Count == 0)
                throw new RuleException("conventions.territory-required", "A convention covering competences names the communes where it applies (communeIds, departementCodes or epciSirens).");

            var taken = await c.QuerySingleOrDefaultAsync<Guid?>(db.Command(ReferenceSql, new { reference }, t, tx));
            if (taken is { } other)
                throw new ConflictException("conventions.reference-taken", $"Reference {reference} is already used.") { ConflictingResource = $"/v1/conventions/{other}" };

            await c.ExecuteAsync(db.Command(InsertSql, new
            {
                id, reference, type = command.Type.ToString(), createdBy = caller.OrganisationId ?? partyIds[0], command.PersonDataRetentionDays, now,
            }, t, tx));
            foreach (var party in command.Parties)
                await c.ExecuteAsync(db.Command(PartySql, new { conventionId = id, party.OrganisationId, role = party.Role.Trim() }, t, tx));
            await ConventionTerritory.InsertVersionAsync(db, c, tx, id, new ConventionTerms(
                0, false, command.StartOn, command.Object.Trim(), command.StartOn, command.EndOn, command.RenewalMonths, command.MaxRenewals,
                command.NoticeDays, command.AllowsSubdelegation, command.FinancialTerms?.Amount, command.FinancialTerms?.Periodicity,
                command.FinancialTerms?.PayerId, null, competences, communes)
            {
                ReferralResponseDays = ConventionTerritory.ResponseDays(command.ReferralResponseDays, competences) ?? new Dictionary<string, int>(),
            }, now, t);

            var state = (await ConventionStore.LoadAsync(db, c, tx, id, t))!;
            await changeLog.RecordAsync(c, tx, "convention", id, "convention.created", null, ConventionAudit.Snapshot(state), t);
            return await ConventionAccess.ToDtoAsync(db, c, tx, state, today, caller, t);
        }, ct);
    }

    private const string ReferenceSql = "SELECT id FROM convention WHERE reference = @reference";
    private const string InsertSql = """
        INSERT INTO convention (id, reference, type, status, created_by, signed_at, terminated_on, termination_reason, terminated_by,
                                person_data_retention_days, version, created_at, updated_at)
        VALUES (@id, @reference, @type, 'DRAFT', @createdBy, NULL, NULL, NULL, NULL, @personDataRetentionDays, 1, @now, @now)
        """;
    private const string PartySql = "INSERT INTO convention_party (convention_id, organisation_id, role) VALUES (@conventionId, @organisationId, @role)";
}

/// <summary>Checks and writes of what a version covers: parties, competences, communes. Shared by creation and amendments.</summary>
internal static class ConventionTerritory
{
    public static async Task RequireActiveOrganisationAsync(Db db, DbConnection c, DbTransaction tx, Guid id, CancellationToken ct)
    {
        var row = await c.QuerySingleOrDefaultAsync<OrganisationRow>(db.Command(OrganisationSql, new { id }, ct, tx));
        if (row is null) throw new RuleException("conventions.unknown-party", $"No organisation with id '{id}' in the directory.");
        if (!row.IsActive) throw new RuleException("conventions.inactive-party", $"{row.Name} is no longer active (merged or dissolved).") { ConflictingResource = $"/v1/organisations/{id}" };
    }

    public static async Task<IReadOnlyList<string>> CompetencesAsync(Db db, DbConnection c, DbTransaction tx, IEnumerable<string> codes, CancellationToken ct)
    {
        var known = (await c.QueryAsync<string>(db.Command(CompetencesSql, null, ct, tx))).ToHashSet(StringComparer.Ordinal);
        var asked = codes.Select(x => x.Trim().ToUpperInvariant()).Distinct().Order(StringComparer.Ordinal).ToList();
        var unknown = asked.Where(x => !known.Contains(x)).ToList();
        if (unknown.Count > 0)
            throw new RuleException("conventions.unknown-competence", $"Unknown competence(s): {string.Join(", ", unknown)}; see GET /v1/competences.");
        return asked;
    }

    /// <summary>The union of the communes named and of the active communes of the départements and EPCI named, de-duplicated.</summary>
    public static async Task<IReadOnlyList<Guid>> ExpandAsync(Db db, DbConnection c, DbTransaction tx,
        IReadOnlyList<Guid>? communeIds, IReadOnlyList<string>? departementCodes, IReadOnlyList<string>? epciSirens, CancellationToken ct) =>
        (await Territory.ExpandAsync(db, c, tx, new TerritoryInput(communeIds, departementCodes, epciSirens), "conventions", ct)).Select(x => x.Id).ToList();

    /// <summary>Writes a version with its competences and communes; communes go in multi-row INSERTs (a département is ~650 rows).</summary>
    public static async Task InsertVersionAsync(Db db, DbConnection c, DbTransaction tx, Guid conventionId, ConventionTerms v, DateTimeOffset now, CancellationToken ct)
    {
        await c.ExecuteAsync(db.Command(VersionSql, new
        {
            conventionId, v.AmendmentNo, v.EffectiveOn, v.Object, v.StartOn, v.EndOn, v.RenewalMonths, v.MaxRenewals, v.NoticeDays,
            v.AllowsSubdelegation, v.Amount, periodicity = v.Periodicity?.ToString(), v.PayerId, v.Summary, now,
        }, ct, tx));
        foreach (var code in v.Competences)
            await c.ExecuteAsync(db.Command(CompetenceSql, new
            {
                conventionId, v.AmendmentNo, code, days = v.ReferralResponseDays.TryGetValue(code, out var d) ? d : (int?)null,
            }, ct, tx));
        await InsertCommunesAsync(db, c, tx, conventionId, v.AmendmentNo, v.Communes, ct);
    }

    /// <summary>Response days per competence; each must be a competence the version covers (422).</summary>
    public static IReadOnlyDictionary<string, int>? ResponseDays(IReadOnlyList<ReferralResponseDays>? given, IReadOnlyList<string> competences)
    {
        if (given is null) return null;
        var days = new Dictionary<string, int>();
        foreach (var d in given)
        {
            var code = d.Competence.Trim().ToUpperInvariant();
            if (!competences.Contains(code))
                throw new RuleException("conventions.response-days-not-covered",
                    $"Referral response days are set for {code}, which the convention does not cover.");
            days[code] = d.Days;
        }
        return days;
    }

    internal static readonly string[] CommuneColumns = ["convention_id", "amendment_no", "commune_id"];

    private static Task InsertCommunesAsync(Db db, DbConnection c, DbTransaction tx, Guid conventionId, int amendmentNo, IReadOnlyList<Guid> communes, CancellationToken ct) =>
        db.InsertRowsAsync(c, tx, "convention_commune", CommuneColumns, [System.Data.DbType.Guid, System.Data.DbType.Int32, System.Data.DbType.Guid],
            communes.Select(commune => new object?[] { conventionId, amendmentNo, commune }), ct);

    private sealed class OrganisationRow { public string Name { get; init; } = ""; public bool IsActive { get; init; } }

    private const string OrganisationSql = "SELECT name, is_active FROM organisation WHERE id = @id";
    private const string CompetencesSql = "SELECT code FROM competence";
    private const string VersionSql = """
        INSERT INTO convention_version (convention_id, amendment_no, status, effective_on, object, start_on, end_on, renewal_months, max_renewals,
                                        notice_days, allows_subdelegation, amount, periodicity, payer_id, summary, created_at, signed_at)
        VALUES (@conventionId, @amendmentNo, 'DRAFT', @effectiveOn, @object, @startOn, @endOn, @renewalMonths, @maxRenewals,
                @noticeDays, @allowsSubdelegation, @amount, @periodicity, @payerId, @summary, @now, NULL)
        """;
    private const string CompetenceSql = """
        INSERT INTO convention_competence (convention_id, amendment_no, competence_code, referral_response_days)
        VALUES (@conventionId, @amendmentNo, @code, @days)
        """;
}

/// <summary>
/// What the audit trail keeps of a convention before and after a change. Communes are counted,
/// not listed: each version's territory is written once and never changed, so it stays readable
/// in the version itself and a département (~650 ids) is not copied into every audit record.
/// </summary>
internal static class ConventionAudit
{
    public static object Snapshot(ConventionState s) => new
    {
        s.Id, s.Reference, s.Type, RecordedStatus = s.Recorded, s.TerminatedOn, s.TerminationReason, s.Version,
        Parties = s.Parties.Select(p => new { p.OrganisationId, p.Role }),
        Versions = s.Versions.Select(v => new
        {
            v.AmendmentNo, v.Signed, v.EffectiveOn, v.Summary, v.Object, v.StartOn, v.EndOn, v.RenewalMonths, v.MaxRenewals, v.NoticeDays,
            v.AllowsSubdelegation, v.Amount, v.Periodicity, v.PayerId, v.Competences, v.ReferralResponseDays,
            CommuneCount = v.Communes.Count,
        }),
        Signatures = s.Signatures.Select(x => new { x.AmendmentNo, x.OrganisationId, x.SignerName, x.SignedOn }),
    };
}
