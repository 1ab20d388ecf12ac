using System.Text.Json;
using CoordinationHub.Features.Competences;
using CoordinationHub.Features.Delegations;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.CompetenceMap;

/// <summary>
/// The competence map in memory, so that "who is responsible" is a dictionary lookup, not a
/// chain of queries. A snapshot of the directory (holders by law) and of the precomputed
/// competence_map rows, tagged with the map generation it was read at. A write in this process
/// marks it stale at once (the next lookup reloads, so answers are exact after a change);
/// writes by other processes are seen by polling the generation every <see cref="PollEvery"/>.
/// </summary>
public sealed class CompetenceMapCache(Db db, ILogger<CompetenceMapCache> logger) : BackgroundService
{
    public static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(2);
    private readonly SemaphoreSlim reloading = new(1, 1);
    private volatile Snapshot? current;
    private volatile bool stale = true;

    public sealed record Organisation(Guid Id, string Name, string Kind, string? Code);

    public sealed record Commune(Guid Id, string Code, string Name, string DepartementCode, Guid? EpciId, Guid? DepartementId, Guid? CcasId, bool IsActive);

    public sealed record Segment(DateOnly From, DateOnly To, IReadOnlyList<ChainLink> Chain);

    public sealed class Snapshot
    {
        public long Generation { get; init; }
        public required IReadOnlyDictionary<Guid, Organisation> Organisations { get; init; }
        public required IReadOnlyDictionary<string, Commune> CommunesByCode { get; init; }
        public required IReadOnlyDictionary<string, CompetenceDto> Competences { get; init; }
        public required IReadOnlyList<CompetenceDto> Catalogue { get; init; }
        public required IReadOnlyDictionary<(Guid Commune, string Competence), Segment[]> Segments { get; init; }

        public IReadOnlyList<ChainLink> ChainOn(Commune commune, CompetenceDto competence, DateOnly date)
        {
            if (Segments.TryGetValue((commune.Id, competence.Code), out var segments))
            {
                // Segments are sorted and disjoint: binary search on the start date.
                int lo = 0, hi = segments.Length - 1;
                while (lo <= hi)
                {
                    var mid = (lo + hi) >>> 1;
                    if (segments[mid].From <= date) lo = mid + 1; else hi = mid - 1;
                }
                if (hi >= 0 && segments[hi].To >= date) return segments[hi].Chain;
            }
            return [new ChainLink(CompetenceMapWriter.LawHolder(competence.HolderKind, commune.Id, commune.DepartementId, commune.CcasId), null, null)];
        }
    }

    /// <summary>Called after a commit that changed delegations, conventions or the directory.</summary>
    public void MarkStale() => stale = true;

    public async ValueTask<Snapshot> GetAsync(CancellationToken ct)
    {
        var snapshot = current;
        if (snapshot is not null && !stale) return snapshot;
        await reloading.WaitAsync(ct);
        try
        {
            if (current is null || stale)
            {
                stale = false;
                current = await LoadAsync(ct);
            }
            return current;
        }
        finally
        {
            reloading.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(PollEvery);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                if (current is { } snapshot)
                {
                    await using var c = await db.OpenAsync(stoppingToken);
                    if (await c.ExecuteScalarAsync<long>(db.Command(GenerationSql, null, stoppingToken)) != snapshot.Generation) stale = true;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Could not poll the competence map generation");
            }
        }
    }

    private async Task<Snapshot> LoadAsync(CancellationToken ct) => await db.RetryAsync(async (c, t) =>
    {
        var generation = await c.ExecuteScalarAsync<long>(db.Command(GenerationSql, null, t));
        var organisations = (await c.QueryAsync<OrganisationRow>(db.Command(OrganisationsSql, null, t))).ToList();
        var departements = organisations.Where(o => o.Kind == "DEPARTEMENT" && o.Code is not null).ToDictionary(o => o.Code!, o => o.Id);
        var ccas = organisations.Where(o => o.Kind == "CCAS" && o.IsActive && o.CommuneId is not null).GroupBy(o => o.CommuneId!.Value).ToDictionary(g => g.Key, g => g.First().Id);
        var communes = organisations.Where(o => o.Kind == "COMMUNE" && o.Code is not null).ToDictionary(o => o.Code!, o => new Commune(
            o.Id, o.Code!, o.Name, o.DepartementCode ?? "", o.EpciId,
            o.DepartementCode is not null && departements.TryGetValue(o.DepartementCode, out var dep) ? dep : null, ccas.TryGetValue(o.Id, out var cc) ? cc : null, o.IsActive));
        var catalogue = (await c.QueryAsync<CompetenceDto>(db.Command(CompetencesSql, null, t))).ToList();
        var segments = (await c.QueryAsync<SegmentRow>(db.Command(SegmentsSql, null, t)))
            .GroupBy(r => (r.CommuneId, r.CompetenceCode))
            .ToDictionary(g => g.Key, g => g.OrderBy(r => r.ValidFrom).Select(r => new Segment(r.ValidFrom, r.ValidTo, JsonSerializer.Deserialize<ChainLink[]>(r.Chain)!)).ToArray());
        logger.LogInformation("Competence map loaded: generation {Generation}, {Segments} delegated periods", generation, segments.Sum(s => s.Value.Length));
        return new Snapshot
        {
            Generation = generation,
            Organisations = organisations.ToDictionary(o => o.Id, o => new Organisation(o.Id, o.Name, o.Kind, o.Code)),
            CommunesByCode = communes,
            Competences = catalogue.ToDictionary(x => x.Code),
            Catalogue = catalogue,
            Segments = segments,
        };
    }, ct);

    private sealed class OrganisationRow
    {
        public Guid Id { get; init; }
        public string Kind { get; init; } = "";
        public string Name { get; init; } = "";
        public string? Code { get; init; }
        public string? DepartementCode { get; init; }
        public Guid? CommuneId { get; init; }
        public Guid? EpciId { get; init; }
        public bool IsActive { get; init; }
    }

    private sealed class SegmentRow
    {
        public Guid CommuneId { get; init; }
        public string CompetenceCode { get; init; } = "";
        public DateOnly ValidFrom { get; init; }
        public DateOnly ValidTo { get; init; }
        public string Chain { get; init; } = "";
    }

    private const string GenerationSql = "SELECT generation FROM map_generation WHERE id = 1";
    private const string OrganisationsSql = "SELECT id, kind, name, code, departement_code, commune_id, epci_id, is_active FROM organisation";
    private const string CompetencesSql = "SELECT code, label, holder_kind, legal_basis, is_legal FROM competence ORDER BY sort_order";
    private const string SegmentsSql = "SELECT commune_id, competence_code, valid_from, valid_to, chain FROM competence_map";
}
