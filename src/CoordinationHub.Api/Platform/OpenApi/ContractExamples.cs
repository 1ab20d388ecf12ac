using CoordinationHub.Features.Directory;
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
        Id = CcasId, Kind = OrganisationKind.CCAS, Name = "CCAS de Lille", Siren = "265900017", Siret = "26590001700019",
        DepartementCode = "59", RegionCode = "32", CommuneId = LilleId, Email = "accueil@ccas-lille.fr", Phone = "03 20 49 50 00",
        Address = "Rue Pierre Mauroy, 59000 Lille", IsActive = true, CreatedAt = At, UpdatedAt = At,
    };

    private static readonly OrganisationDto Lille = new()
    {
        Id = LilleId, Kind = OrganisationKind.COMMUNE, Name = "Lille", Code = "59350", Siren = "215903501", DepartementCode = "59",
        RegionCode = "32", EpciId = MelId, Population = 236710, IsActive = true, CreatedAt = At, UpdatedAt = At,
    };

    private static readonly Dictionary<Type, object> Examples = new()
    {
        [typeof(OrganisationDto)] = Ccas,
        [typeof(PageResponse<OrganisationDto>)] = new PageResponse<OrganisationDto>([Lille, Ccas], "WyJsaWxsZSIsIjAxOTlhMWIyIl0",
            "/v1/organisations?departement=59&q=lille&cursor=WyJsaWxsZSIsIjAxOTlhMWIyIl0"),
        [typeof(RegisterOrganisationCommand)] = new RegisterOrganisationCommand(OrganisationKind.CCAS, "CCAS de Lille", "26590001700019", null,
            LilleId, null, null, null, "accueil@ccas-lille.fr", "03 20 49 50 00", "Rue Pierre Mauroy, 59000 Lille"),
        [typeof(OrganisationChanges)] = new OrganisationChanges("CCAS de Lille", "26590001700019", null, null,
            "contact@ccas-lille.fr", "03 20 49 50 00", "Rue Pierre Mauroy, 59000 Lille", true),
        [typeof(DepartementTerritory)] = new DepartementTerritory(
            new OrganisationDto { Id = Guid.Parse("0199a1b2-0000-7000-8000-000000000059"), Kind = OrganisationKind.DEPARTEMENT, Name = "Nord", Code = "59", DepartementCode = "59", RegionCode = "32", IsActive = true, CreatedAt = At, UpdatedAt = At },
            [new TerritoryEpci(MelId, "200093201", "Métropole Européenne de Lille", "MET", 95)],
            [new TerritoryCommune(LilleId, "59350", "Lille", "215903501", 236710, MelId)]),
    };

    public static object? For(Type type) => Examples.GetValueOrDefault(type);
}
