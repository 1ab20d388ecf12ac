using System.Text.Json;
using CoordinationHub.Features.Audit;
using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Features.Competences;
using CoordinationHub.Features.Delegations;
using CoordinationHub.Features.Conventions;
using CoordinationHub.Features.Directory;
using CoordinationHub.Features.Imports;
using CoordinationHub.Platform.Http;

namespace CoordinationHub.Platform.OpenApi;

/// <summary>One realistic example per request and response type of the contract.</summary>
public static class ContractExamples
{
    private static readonly Guid LilleId = Guid.Parse("0199a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b");
    private static readonly Guid CcasId = Guid.Parse("0199a1b3-1a2b-7c3d-9e4f-5a6b7c8d9e0f");
    private static readonly Guid MelId = Guid.Parse("0199a1b2-6b5a-7d4c-8e3f-2a1b0c9d8e7f");
    private static readonly DateTimeOffset At = new(2026, 3, 2, 9, 30, 0, TimeSpan.Zero);

    private static readonly OrganisationDto Ccas = new()
    {
        Id = CcasId, Kind = OrganisationKind.CCAS, Name = "CCAS de Lille", Siren = "265900019", Siret = "26590001900018",
        DepartementCode = "59", RegionCode = "32", CommuneId = LilleId, Email = "accueil@ccas-lille.fr", Phone = "03 20 49 50 00",
        Address = "Rue Pierre Mauroy, 59000 Lille", IsActive = true, CreatedAt = At, UpdatedAt = At,
    };

    private static readonly OrganisationDto Lille = new()
    {
        Id = LilleId, Kind = OrganisationKind.COMMUNE, Name = "Lille", Code = "59350", Siren = "215903501", DepartementCode = "59",
        RegionCode = "32", EpciId = MelId, Population = 236710, IsActive = true, CreatedAt = At, UpdatedAt = At,
    };

    private static readonly Guid NordId = Guid.Parse("0199a1b2-0000-7000-8000-000000000059");
    private static readonly Guid ConventionId = Guid.Parse("0199b2c3-4d5e-7f60-8a1b-2c3d4e5f6a7b");
    private static readonly Guid KeyId = Guid.Parse("0199a1b0-9f8e-7d6c-8b5a-4f3e2d1c0b0a");

    private static readonly ConventionDto Convention = new()
    {
        Id = ConventionId, Reference = "CD59-RSA-2026-01", Type = ConventionType.DELEGATION, Status = ConventionStatus.IN_FORCE,
        AsOf = new DateOnly(2026, 3, 1), RecordedStatus = ConventionStatus.SIGNED,
        Parties =
        [
            new ConventionPartyDto(NordId, "Nord", OrganisationKind.DEPARTEMENT, "Délégant", new DateOnly(2025, 12, 15), "M. C. Poiret, Président"),
            new ConventionPartyDto(CcasId, "CCAS de Lille", OrganisationKind.CCAS, "Délégataire", new DateOnly(2025, 12, 18), "Mme A. Dupont, Vice-présidente"),
        ],
        AmendmentNo = 0, Object = "Instruction des demandes de RSA par le CCAS de Lille pour le compte du Département du Nord.",
        Competences = ["RSA_INSTRUCTION"], CommuneIds = [LilleId], StartOn = new DateOnly(2026, 1, 1), EndOn = new DateOnly(2026, 12, 31),
        LastDay = new DateOnly(2028, 12, 31), RenewalMonths = 12, MaxRenewals = 2, NoticeDays = 90, AllowsSubdelegation = false,
        FinancialTerms = new FinancialTerms(12000.50m, Periodicity.YEARLY, NordId), CreatedAt = At, UpdatedAt = At,
    };

    private static readonly ConventionVersionDto Amendment = new(1, VersionStatus.SIGNED, new DateOnly(2027, 1, 1), "Extension à la commune de Lomme",
        [new SignatureDto(NordId, "M. C. Poiret, Président", new DateOnly(2026, 11, 2)), new SignatureDto(CcasId, "Mme A. Dupont, Vice-présidente", new DateOnly(2026, 11, 5))],
        At.AddMonths(8), At.AddMonths(8).AddDays(3));

    private static readonly AuditEventDto AuditEvent = new(Guid.Parse("0199c3d4-5e6f-7a8b-9c0d-1e2f3a4b5c6d"), At, CcasId, KeyId, "convention.signed",
        JsonSerializer.SerializeToElement(new { recordedStatus = "DRAFT", version = 2 }), JsonSerializer.SerializeToElement(new { recordedStatus = "SIGNED", version = 3 }));

    private static readonly Guid DelegationId = Guid.Parse("0199b2c4-7a8b-7c9d-8e0f-1a2b3c4d5e6f");

    private static readonly DelegationDto Delegation = new()
    {
        Id = DelegationId, DelegatorId = NordId, DelegateId = CcasId, Competence = "RSA_INSTRUCTION", ConventionId = ConventionId,
        ExternalRef = "CD59-RSA-0042", StartOn = new DateOnly(2026, 3, 1), EndOn = new DateOnly(2027, 12, 31), CommuneIds = [LilleId],
        VersionNo = 1, LastChange = DelegationChange.CREATED, RecordedAt = At, CreatedAt = At,
    };

    private static readonly CompetenceMapEntry MapEntry = new(new MapCommune(LilleId, "59350", "Lille"), "RSA_INSTRUCTION", true, new DateOnly(2026, 6, 1),
        new MapOrganisation(CcasId, "CCAS de Lille", "CCAS"),
        [
            new ChainStep(NordId, "Nord", "DEPARTEMENT", "LAW", null, null, "CASF L262-15 ; L262-16"),
            new ChainStep(CcasId, "CCAS de Lille", "CCAS", "DELEGATION", DelegationId, ConventionId, null),
        ]);

    /// <summary>The CSV export, as a département's system receives it.</summary>
    public static readonly string MapCsv = ExportCompetenceMapHandler.ToCsv([MapEntry]);

    private static readonly PushRecord Push = new()
    {
        ExternalRef = "CD59-RSA-0042", Competence = "RSA_INSTRUCTION", DelegateCcasCommune = "59350", Communes = ["59350"],
        StartOn = new DateOnly(2026, 3, 1), EndOn = new DateOnly(2027, 12, 31), ConventionReference = "CD59-RSA-2026-01",
    };

    private static readonly ImportReport Report = new(Guid.Parse("0199d4e5-6f70-7a8b-9c0d-1e2f3a4b5c6d"), NordId, PushMode.SNAPSHOT, false, ImportStatus.APPLIED,
        "9f2c4e1d8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d", new ImportCounts(648, 648, 12, 3, 632, 1), [], At, At.AddSeconds(4), false);

    /// <summary>CSV and NDJSON bodies, by operation and direction: what the contract shows as their example.</summary>
    public static string? Text(string? operationId, bool request) => (operationId, request) switch
    {
        ("PushDelegations", true) => PushRecords.CsvHeader + "\nCD59-RSA-0042;RSA_INSTRUCTION;;;59350;59350;2026-03-01;2027-12-31;;CD59-RSA-2026-01\n",
        ("GetImport", false) => GetImportHandler.ErrorsCsv(Report with
        {
            Errors = [new ImportError(151, "CD59-RSA-0150", "imports.outside-territory", "Abrest (03001) is not in département 59.")],
        }),
        (var id, false) => Features.Indicators.IndicatorExamples.Csv(id),
        _ => null,
    };

    public static string PushNdjson => JsonSerializer.Serialize(Push, new JsonSerializerOptions(JsonSerializerDefaults.Web)
        { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull }) + "\n";

    private static readonly Dictionary<Type, object> Examples = new()
    {
        [typeof(CompetenceDto)] = new CompetenceDto { Code = "RSA_INSTRUCTION", Label = "Instruction des demandes de RSA", HolderKind = HolderKind.DEPARTEMENT, LegalBasis = "CASF L262-15 ; L262-16", IsLegal = true },
        [typeof(CompetenceMapEntry)] = MapEntry,
        [typeof(PushRecord)] = Push,
        [typeof(ImportReport)] = Report,
        [typeof(Reconciliation)] = new Reconciliation(NordId, Report.Id, new DateOnly(2026, 11, 25),
            [new NeverSent(DelegationId, null, "APA_INSTRUCTION", new DateOnly(2026, 1, 1), new DateOnly(2027, 12, 31))],
            [new HeldDifferently(12, "CD59-RSA-0042", DelegationId, new DateOnly(2026, 3, 1), new DateOnly(2027, 12, 31),
                new DateOnly(2026, 3, 1), new DateOnly(2026, 12, 31), false)]),
        [typeof(DelegationDto)] = Delegation,
        [typeof(CreateDelegationCommand)] = new CreateDelegationCommand(NordId, CcasId, "RSA_INSTRUCTION", ConventionId, [LilleId], null, null,
            new DateOnly(2026, 3, 1), new DateOnly(2027, 12, 31), "CD59-RSA-0042"),
        [typeof(DelegationChanges)] = new DelegationChanges(new DateOnly(2026, 3, 1), new DateOnly(2027, 6, 30), null, null, null, "Fin anticipée d'un commun accord"),
        [typeof(EndDelegationRequest)] = new EndDelegationRequest(new DateOnly(2026, 12, 31), "Reprise de l'instruction en régie"),
        [typeof(DelegationVersionDto)] = new DelegationVersionDto { VersionNo = 1, StartOn = new DateOnly(2026, 3, 1), EndOn = new DateOnly(2027, 12, 31), Change = DelegationChange.CREATED, RecordedAt = At, Communes = 1 },
        [typeof(PageResponse<DelegationSummary>)] = new PageResponse<DelegationSummary>(
            [new DelegationSummary { Id = DelegationId, DelegatorId = NordId, DelegateId = CcasId, Competence = "RSA_INSTRUCTION", ConventionId = ConventionId, ExternalRef = "CD59-RSA-0042", StartOn = new DateOnly(2026, 3, 1), EndOn = new DateOnly(2027, 12, 31), VersionNo = 1 }],
            null, null),
        [typeof(ConventionDto)] = Convention,
        [typeof(PageResponse<ConventionDto>)] = new PageResponse<ConventionDto>([Convention], "WyIwMTk5YjJjMyJd", "/v1/conventions?departement=59&status=IN_FORCE&cursor=WyIwMTk5YjJjMyJd"),
        [typeof(ConventionPartyDto)] = Convention.Parties[0],
        [typeof(FinancialTerms)] = Convention.FinancialTerms!,
        [typeof(ConventionPartyInput)] = new ConventionPartyInput(NordId, "Délégant"),
        [typeof(CreateConventionCommand)] = new CreateConventionCommand(ConventionType.DELEGATION, "CD59-RSA-2026-01",
            "Instruction des demandes de RSA par le CCAS de Lille pour le compte du Département du Nord.",
            [new ConventionPartyInput(NordId, "Délégant"), new ConventionPartyInput(CcasId, "Délégataire")],
            ["RSA_INSTRUCTION"], [LilleId], null, null, new DateOnly(2026, 1, 1), new DateOnly(2026, 12, 31), 12, 2, 90, false,
            new FinancialTerms(12000.50m, Periodicity.YEARLY, NordId)),
        [typeof(SignConventionCommand)] = new SignConventionCommand("Mme A. Dupont, Vice-présidente", new DateOnly(2025, 12, 18)),
        [typeof(AmendConventionCommand)] = new AmendConventionCommand(new DateOnly(2027, 1, 1), "Extension à la commune de Lomme", null,
            new DateOnly(2027, 12, 31), null, null, null, null, null, null, null, ["200093201"], new FinancialTerms(15000m, Periodicity.YEARLY, NordId)),
        [typeof(TerminateConventionCommand)] = new TerminateConventionCommand(new DateOnly(2026, 9, 1), "Réorganisation de l'instruction du RSA par le Département.", false),
        [typeof(ConventionVersionDto)] = Amendment,
        [typeof(SignatureDto)] = Amendment.Signatures[0],
        [typeof(TerminationDto)] = new TerminationDto(new DateOnly(2026, 9, 1), new DateOnly(2026, 8, 31), "Réorganisation de l'instruction du RSA par le Département.", NordId, At.AddMonths(2)),
        [typeof(ConventionHistoryDto)] = new ConventionHistoryDto(ConventionId, "CD59-RSA-2026-01",
            [new ConventionVersionDto(0, VersionStatus.SIGNED, new DateOnly(2026, 1, 1), null,
                [new SignatureDto(NordId, "M. C. Poiret, Président", new DateOnly(2025, 12, 15)), new SignatureDto(CcasId, "Mme A. Dupont, Vice-présidente", new DateOnly(2025, 12, 18))],
                At.AddMonths(-3), At.AddMonths(-3).AddDays(3)), Amendment],
            new TerminationDto(new DateOnly(2027, 9, 1), new DateOnly(2027, 8, 31), "Reprise de l'instruction du RSA par le Département.", NordId, At.AddMonths(14))),
        [typeof(AuditEventDto)] = AuditEvent,
        [typeof(PageResponse<AuditEventDto>)] = new PageResponse<AuditEventDto>([AuditEvent], null, null),
        [typeof(OrganisationDto)] = Ccas,
        [typeof(PageResponse<OrganisationDto>)] = new PageResponse<OrganisationDto>([Lille, Ccas], "WyJsaWxsZSIsIjAxOTlhMWIyIl0",
            "/v1/organisations?departement=59&q=lille&cursor=WyJsaWxsZSIsIjAxOTlhMWIyIl0"),
        [typeof(RegisterOrganisationCommand)] = new RegisterOrganisationCommand(OrganisationKind.CCAS, "CCAS de Lille", "26590001900018", null,
            LilleId, null, null, null, "accueil@ccas-lille.fr", "03 20 49 50 00", "Rue Pierre Mauroy, 59000 Lille"),
        [typeof(OrganisationChanges)] = new OrganisationChanges("CCAS de Lille", "26590001900018", null, null,
            "contact@ccas-lille.fr", "03 20 49 50 00", "Rue Pierre Mauroy, 59000 Lille", true),
        [typeof(DepartementTerritory)] = new DepartementTerritory(
            new OrganisationDto { Id = Guid.Parse("0199a1b2-0000-7000-8000-000000000059"), Kind = OrganisationKind.DEPARTEMENT, Name = "Nord", Code = "59", DepartementCode = "59", RegionCode = "32", IsActive = true, CreatedAt = At, UpdatedAt = At },
            [new TerritoryEpci(MelId, "200093201", "Métropole Européenne de Lille", "MET", 95)],
            [new TerritoryCommune(LilleId, "59350", "Lille", "215903501", 236710, MelId)]),
    };

    public static object? For(Type type) =>
        Examples.GetValueOrDefault(type) ?? Features.Referrals.ReferralExamples.For(type) ?? Features.Webhooks.WebhookExamples.For(type)
            ?? Features.PersonalData.PersonalDataExamples.For(type) ?? Features.Indicators.IndicatorExamples.For(type)
            ?? Features.ApiKeys.ApiKeyExamples.For(type);
}
