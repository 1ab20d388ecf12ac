using System.Diagnostics;
using CoordinationHub.Platform.Auth;
using Dapper;

namespace CoordinationHub.Benchmarks;

/// <summary>
/// Loads the national-scale map the way a client would, through the API: on every département
/// (or every n-th with --every n, always Nord, 59), the département delegates each of its legal competences on
/// the whole département to the CCAS of its largest commune, under a signed convention that allows
/// sub-delegation; that CCAS sub-delegates RSA_ACCOMPAGNEMENT on the 20 largest communes to a
/// partner association, under a second convention. Every other département stays as the law has it.
/// </summary>
public sealed class MapLoader(ApiProcess apiProcess, ApiClient api, Workload workload, int every)
{
    public const string Nord = "59";
    public const string SubdelegatedCompetence = "RSA_ACCOMPAGNEMENT";
    private const int SubdelegatedCommunes = 20;
    private static readonly DateOnly StartOn = new(2025, 1, 1);
    private static readonly DateOnly EndOn = new(2030, 12, 31);
    private static readonly string[] PartyScopes = [Scopes.ConventionsRead, Scopes.ConventionsWrite, Scopes.DelegationsRead, Scopes.DelegationsWrite, Scopes.DirectoryRead];

    private string Admin => apiProcess.AdminKey;

    public async Task LoadAsync(CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var departements = (await api.GetAllPagesAsync("/v1/organisations?kind=DEPARTEMENT&limit=500", Admin, ct))
            .Select(d => (Id: d["id"]!.GetValue<Guid>(), Code: d["code"]!.GetValue<string>(), Name: d["name"]!.GetValue<string>()))
            .OrderBy(d => d.Code, StringComparer.Ordinal)
            .ToList();
        var chosen = departements.Where((d, i) => i % every == 0 || d.Code == Nord).ToList();
        var competences = workload.Legal.Where(c => c.HolderKind == "DEPARTEMENT").Select(c => c.Code).ToArray();
        Console.WriteLine($"Loading the map: {chosen.Count} of {departements.Count} départements, {competences.Length} legal competences of the département each " +
                          $"({string.Join(", ", competences)}), sub-delegation of {SubdelegatedCompetence} on {SubdelegatedCommunes} communes each.");

        var done = 0;
        // A few départements at a time, as several départements' IT systems would push: the writes
        // serialise in the database anyway.
        await Parallel.ForEachAsync(chosen, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (d, t) =>
        {
            await LoadDepartementAsync(d.Id, d.Code, d.Name, competences, t);
            var n = Interlocked.Increment(ref done);
            if (n % 5 == 0 || n == chosen.Count) Console.WriteLine($"  {n}/{chosen.Count} départements loaded ({sw.Elapsed.TotalSeconds:F0} s)");
        });

        await using var connection = await apiProcess.Db.OpenAsync(ct);
        var delegations = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM delegation");
        var conventions = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM convention");
        var mapRows = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM competence_map");
        Console.WriteLine($"Loaded in {sw.Elapsed.TotalSeconds:F1} s: {conventions:N0} conventions, {delegations:N0} delegations, {mapRows:N0} competence_map rows.");
    }

    private async Task LoadDepartementAsync(Guid departementId, string code, string name, string[] competences, CancellationToken ct)
    {
        var communes = workload.Communes.Where(c => c.DepartementCode == code).OrderByDescending(c => c.Population).ThenBy(c => c.Code, StringComparer.Ordinal).ToList();
        if (communes.Count == 0) return;
        var largest = communes[0];

        var ccasId = await api.PostOrExistingAsync("/v1/organisations", new { kind = "CCAS", name = $"CCAS de {largest.Name}", communeId = largest.Id }, Admin, ct);
        var partnerId = await api.PostOrExistingAsync("/v1/organisations",
            new { kind = "PARTNER", name = $"Association d'insertion {name} (benchmark)", partnerCategory = "ASSOCIATION", departementCode = code }, Admin, ct);
        var departementKey = await apiProcess.CreateKeyAsync(departementId, $"benchmark {name}", PartyScopes, ct);
        var ccasKey = await apiProcess.CreateKeyAsync(ccasId, $"benchmark CCAS de {largest.Name}", PartyScopes, ct);
        var partnerKey = await apiProcess.CreateKeyAsync(partnerId, $"benchmark partner {code}", PartyScopes, ct);

        // Département → CCAS: every legal competence of the département, on the whole département.
        var convention = await CreateSignedConventionAsync(new
        {
            type = "DELEGATION",
            reference = $"BENCH-{code}-CD-CCAS",
            @object = $"Délégation au CCAS de {largest.Name} des compétences légales du département ({name})",
            parties = new[] { new { organisationId = departementId, role = "Délégant" }, new { organisationId = ccasId, role = "Délégataire" } },
            competences,
            departementCodes = new[] { code },
            startOn = StartOn, endOn = EndOn, noticeDays = 90,
            allowsSubdelegation = true,
        }, (departementKey, $"Président du conseil départemental ({name})"), (ccasKey, $"Vice-président du CCAS de {largest.Name}"), ct);
        foreach (var competence in competences)
        {
            await api.PostAsync("/v1/delegations", new
            {
                delegatorId = departementId, delegateId = ccasId, competence, conventionId = convention,
                departementCodes = new[] { code }, startOn = StartOn, endOn = EndOn, externalRef = $"BENCH-{code}-{competence}",
            }, departementKey, ct);
        }

        // CCAS → partner: the RSA référent unique on the largest communes (a sub-delegation).
        if (!competences.Contains(SubdelegatedCompetence)) return;
        var top = communes.Take(SubdelegatedCommunes).Select(c => c.Id).ToArray();
        var subConvention = await CreateSignedConventionAsync(new
        {
            type = "DELEGATION",
            reference = $"BENCH-{code}-CCAS-PARTNER",
            @object = $"Accompagnement des bénéficiaires du RSA des {top.Length} plus grandes communes ({name})",
            parties = new[] { new { organisationId = ccasId, role = "Délégant" }, new { organisationId = partnerId, role = "Délégataire" } },
            competences = new[] { SubdelegatedCompetence },
            communeIds = top,
            startOn = StartOn, endOn = EndOn, noticeDays = 90,
            allowsSubdelegation = false,
        }, (ccasKey, $"Vice-président du CCAS de {largest.Name}"), (partnerKey, "Présidente de l'association"), ct);
        await api.PostAsync("/v1/delegations", new
        {
            delegatorId = ccasId, delegateId = partnerId, competence = SubdelegatedCompetence, conventionId = subConvention,
            communeIds = top, startOn = StartOn, endOn = EndOn, externalRef = $"BENCH-{code}-SUB-{SubdelegatedCompetence}",
        }, ccasKey, ct);
    }

    /// <summary>Creates the convention with the first party's key, then each party signs it with its own key.</summary>
    private async Task<Guid> CreateSignedConventionAsync(object body, (string Key, string Signer) first, (string Key, string Signer) second, CancellationToken ct)
    {
        var created = await api.PostAsync("/v1/conventions", body, first.Key, ct);
        var id = created["id"]!.GetValue<Guid>();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        foreach (var (key, signer) in new[] { first, second })
            await api.PostAsync($"/v1/conventions/{id}/signatures", new { signerName = signer, signedOn = today }, key, ct);
        return id;
    }

    /// <summary>A key of Nord with delegations:read only: what a reader of the map holds.</summary>
    public static async Task<string> ReaderKeyAsync(ApiProcess apiProcess, ApiClient api, CancellationToken ct)
    {
        var nord = (await api.GetAsync($"/v1/organisations?kind=DEPARTEMENT&departement={Nord}", apiProcess.AdminKey, ct))["items"]!.AsArray()
            .Single()!["id"]!.GetValue<Guid>();
        return await apiProcess.CreateKeyAsync(nord, "benchmark reader", [Scopes.DelegationsRead], ct);
    }
}
