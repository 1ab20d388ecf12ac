using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text.Json;
using CoordinationHub.Features.Competences;
using CoordinationHub.Features.Delegations;
using CoordinationHub.Platform.Data;
using Dapper;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CoordinationHub.Features.CompetenceMap;

/// <summary>
/// The competence map in memory, so that "who is responsible" is a dictionary lookup, not a chain of
/// queries. Readers take the current <see cref="Snapshot"/> (immutable) and never wait. Changes are
/// applied as deltas from the change feed (<c>map_change</c>, in generation order) into a new
/// snapshot published with one assignment: at once after a local commit (the writing request waits
/// for it), every <see cref="PollEvery"/> for other processes' commits. The whole map is loaded once
/// at start (before /health/ready), and again only when this process is too far behind the feed.
/// </summary>
public sealed class CompetenceMapCache(Db db, TimeProvider clock, ILogger<CompetenceMapCache> logger) : BackgroundService
{
    public static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(500);
    /// <summary>Feed rows kept this long; a process further behind loads the whole map.</summary>
    public static readonly TimeSpan FeedRetention = TimeSpan.FromDays(1);
    /// <summary>Beyond this many pending feed rows a full load is cheaper than the deltas.</summary>
    public const int MaxDeltaRows = 200_000;

    /// <summary>Periods built (a load, the feed) before the memory the garbage collector grew to is given back: a push of
    /// 20,000 records, or about seven of a national load's (then about one pause every 10 s).</summary>
    public const int CompactAfterPeriods = 20_000;

    private readonly SemaphoreSlim applying = new(1, 1);
    private volatile Snapshot? current;
    private DateTimeOffset lastPrune;
    /// <summary>Periods built since the last compaction; counted under <see cref="applying"/>.</summary>
    private int periodsBuilt;

    public sealed record Organisation(Guid Id, string Name, string Kind, string? Code);

    public sealed record Commune(Guid Id, string Code, string Name, string DepartementCode, Guid? EpciId, Guid? DepartementId, bool IsActive);

    /// <summary>A period of a (commune, competence) and its chain, as the feed carries it.</summary>
    public readonly record struct Segment(DateOnly From, DateOnly To, IReadOnlyList<ChainLink> Chain);

    public sealed class Snapshot
    {
        public long Generation { get; init; }
        public required ImmutableDictionary<Guid, Organisation> Organisations { get; init; }
        public required FrozenDictionary<string, Commune> CommunesByCode { get; init; }
        public required FrozenDictionary<string, CompetenceDto> Competences { get; init; }
        public required IReadOnlyList<CompetenceDto> Catalogue { get; init; }
        /// <summary>Each competence's index in <see cref="Catalogue"/>, as <see cref="CommunePeriods"/> knows it.</summary>
        public required FrozenDictionary<string, int> CompetenceIndexes { get; init; }
        /// <summary>The CCAS tenures of each commune that has had one.</summary>
        public required ImmutableDictionary<Guid, ImmutableArray<CcasTenure>> Ccas { get; init; }
        /// <summary>Delegated periods, by commune; outside them the holder by law answers.</summary>
        public required ImmutableDictionary<Guid, CommunePeriods> Periods { get; init; }

        public CommuneLaw LawOf(Commune commune) =>
            new(commune.Id, commune.DepartementId, Ccas.TryGetValue(commune.Id, out var tenures) ? tenures : []);

        public IReadOnlyList<ChainLink> ChainOn(Commune commune, CompetenceDto competence, DateOnly date) =>
            Periods.TryGetValue(commune.Id, out var periods) && CompetenceIndexes.TryGetValue(competence.Code, out var k)
                && periods.ChainOn(k, date) is { } chain
                ? chain
                : [new ChainLink(LawOf(commune).HolderOn(competence.HolderKind, date), null, null)];

        /// <summary>Periods held in memory (logged when the map is loaded).</summary>
        public int PeriodCount => Periods.Values.Sum(p => p.PeriodCount);
    }

    public bool IsLoaded => current is not null;

    /// <summary>The server keeps the map (a CLI verb does not): set before the first load begins.</summary>
    public bool Hosted { get; private set; }

    /// <summary>
    /// The current snapshot, at least at <paramref name="minGeneration"/>: a request that was told of a
    /// later generation (its own write, or a <c>Map-Min-Generation</c> header) waits for it, no other.
    /// </summary>
    public ValueTask<Snapshot> GetAsync(long minGeneration, CancellationToken ct)
    {
        var snapshot = current;
        return snapshot is not null && snapshot.Generation >= minGeneration
            ? ValueTask.FromResult(snapshot)
            : new ValueTask<Snapshot>(WaitForAsync(minGeneration, ct));
    }

    private async Task<Snapshot> WaitForAsync(long minGeneration, CancellationToken ct)
    {
        await CatchUpAsync(minGeneration, ct);
        return current!;
    }

    /// <summary>
    /// After a commit that wrote <paramref name="generation"/>: a server's map, loaded or loading, includes
    /// it before the writer answers. A CLI verb keeps no map, and loads none for this.
    /// </summary>
    public Task IncludeAsync(long generation) => IsLoaded || Hosted ? CatchUpAsync(generation, CancellationToken.None) : Task.CompletedTask;

    /// <summary>Applies the feed up to (at least) <paramref name="generation"/>; loads the map if it never was.</summary>
    public async Task CatchUpAsync(long generation, CancellationToken ct)
    {
        if (current is { } s && s.Generation >= generation) return;
        await applying.WaitAsync(ct);
        try
        {
            var snapshot = current;
            if (snapshot is not null && snapshot.Generation >= generation) return;
            current = snapshot is null ? await LoadAsync(ct) : await db.RetryAsync((c, t) => ApplyFeedAsync(c, snapshot, reloadAllowed: true, t), ct);
            Volatile.Write(ref Platform.Telemetry.MapGeneration, current.Generation);
            if (Hosted && periodsBuilt >= CompactAfterPeriods) GiveBackMemory();
        }
        finally
        {
            applying.Release();
        }
    }

    /// <summary>
    /// Building many periods (the whole map, a large push) allocates far more than the map keeps, and the garbage
    /// collector keeps the memory it grew to: after the national map's load it held 408 MB for 144 MB of live
    /// objects. A compacting collection gives it back once the new snapshot is published (in the push benchmark,
    /// 60–100 MB committed → 30–55 MB). It stops every thread, 30–110 ms with the national map (300 ms once, after
    /// a 200,000-record push on a busy machine), so it runs only after such a phase: lookups during the national
    /// load kept their p99 under 10 ms.
    /// </summary>
    private void GiveBackMemory()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var before = GC.GetGCMemoryInfo().TotalCommittedBytes;
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        logger.LogInformation("Competence map: {Periods} periods built, memory given back in {Ms} ms: GC committed {Before} → {After} MB",
            periodsBuilt, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds.ToString("F0"),
            before >> 20, GC.GetGCMemoryInfo().TotalCommittedBytes >> 20);
        periodsBuilt = 0;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Hosted = true;
        using var timer = new PeriodicTimer(PollEvery);
        do
        {
            try
            {
                await CatchUpAsync(long.MaxValue, stoppingToken);
                Volatile.Write(ref Platform.Telemetry.MapUpToDateAt, System.Diagnostics.Stopwatch.GetTimestamp());
                await PruneAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (!db.Outage.Observe(e)) logger.LogWarning(e, "Could not bring the competence map up to date");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Feed rows older than the retention go, about every ten minutes, by whichever process.</summary>
    private async Task PruneAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        if (now - lastPrune < TimeSpan.FromMinutes(10)) return;
        lastPrune = now;
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync(db.Command(PruneSql, new { before = now - FeedRetention }, ct));
    }

    private async Task<Snapshot> LoadAsync(CancellationToken ct) => await db.RetryAsync(async (c, t) =>
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        // The generation first: whatever commits during the load is in the feed after it, and replayed.
        var generation = await c.ExecuteScalarAsync<long>(db.Command(CompetenceMapWriter.GenerationSql, null, t));
        var organisations = (await c.QueryAsync<MapOrganisationRow>(db.Command(OrganisationsSql, null, t))).ToList();
        var departements = organisations.Where(o => o.Kind == "DEPARTEMENT" && o.Code is not null).ToDictionary(o => o.Code!, o => o.Id);
        var communes = organisations.Where(o => o.Kind == "COMMUNE" && o.Code is not null).Select(o => new Commune(
            o.Id, o.Code!, o.Name, o.DepartementCode ?? "", o.EpciId,
            o.DepartementCode is not null && departements.TryGetValue(o.DepartementCode, out var dep) ? dep : null, o.IsActive)).ToList();
        var catalogue = (await c.QueryAsync<CompetenceDto>(db.Command(CompetencesSql, null, t))).ToList();

        // Streamed in key order, so that a national map never sits in memory twice: each commune is built
        // in its compact form once its rows are read.
        var indexes = catalogue.Select((competence, k) => (competence.Code, k)).ToFrozenDictionary(x => x.Code, x => x.k, StringComparer.Ordinal);
        var periods = ImmutableDictionary.CreateBuilder<Guid, CommunePeriods>();
        CommunePeriods.Builder? commune = null;
        var segments = new List<Segment>();
        (Guid Commune, string Competence) key = (Guid.Empty, "");
        void EndKey()
        {
            if (segments.Count == 0) return;
            // A competence no longer in the catalogue: no lookup can reach it.
            if (indexes.TryGetValue(key.Competence, out var k)) commune!.Replace(k, segments);
            periodsBuilt += segments.Count;
            segments.Clear();
        }
        await foreach (var r in c.QueryUnbufferedAsync<SegmentRow>(SegmentsSql).WithCancellation(t))
        {
            if ((r.CommuneId, r.CompetenceCode) != key)
            {
                EndKey();
                if (r.CommuneId != key.Commune)
                {
                    if (commune?.Build() is { } built) periods[key.Commune] = built;
                    commune = new CommunePeriods.Builder(null, catalogue.Count);
                }
                key = (r.CommuneId, r.CompetenceCode);
            }
            segments.Add(new Segment(r.ValidFrom, r.ValidTo, JsonSerializer.Deserialize<ChainLink[]>(r.Chain)!));
        }
        EndKey();
        if (commune?.Build() is { } last) periods[key.Commune] = last;

        var loaded = new Snapshot
        {
            Generation = generation,
            Organisations = organisations.ToImmutableDictionary(o => o.Id, ToOrganisation),
            CommunesByCode = communes.ToFrozenDictionary(x => x.Code, StringComparer.Ordinal),
            Competences = catalogue.ToFrozenDictionary(x => x.Code, StringComparer.Ordinal),
            Catalogue = catalogue,
            CompetenceIndexes = indexes,
            Ccas = organisations.Where(o => o.Tenure is not null).GroupBy(o => o.CommuneId!.Value)
                .ToImmutableDictionary(g => g.Key, g => g.Select(o => o.Tenure!).ToImmutableArray()),
            Periods = periods.ToImmutable(),
        };
        var snapshot = await ApplyFeedAsync(c, loaded, reloadAllowed: false, t);
        logger.LogInformation("Competence map loaded in {Ms} ms: generation {Generation}, {Segments} delegated periods",
            System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds.ToString("F0"), snapshot.Generation, snapshot.PeriodCount);
        return snapshot;
    }, ct);

    /// <summary>The snapshot with every change after its generation applied, in order; or a full load when too far behind.</summary>
    private async Task<Snapshot> ApplyFeedAsync(System.Data.Common.DbConnection c, Snapshot snapshot, bool reloadAllowed, CancellationToken ct)
    {
        var latest = await c.ExecuteScalarAsync<long>(db.Command(CompetenceMapWriter.GenerationSql, null, ct));
        Volatile.Write(ref Platform.Telemetry.MapLatestGeneration, latest);
        if (latest <= snapshot.Generation) return snapshot;
        // A span for a catch-up that applies something; none for the polls that find the map up to date.
        using var activity = Platform.Telemetry.Source.StartActivity("MapFeedApply");
        activity?.SetTag("coordinationhub.map.from_generation", snapshot.Generation);
        activity?.SetTag("coordinationhub.map.to_generation", latest);
        // What is pending, before reading it: a bulk push's generation can hold thousands of rows of periods,
        // read one at a time below rather than all at once.
        var pending = await c.QuerySingleAsync<PendingRow>(db.Command(PendingSql, new { after = snapshot.Generation }, ct));
        // A gap (pruned feed), too many rows or a RELOAD: the deltas cannot rebuild the map, a load can.
        // (Every generation has its BEGIN row, so the first row read is the next generation's.)
        var complete = pending.RowCount is > 0 and <= MaxDeltaRows && pending.FirstGeneration == snapshot.Generation + 1;
        if (reloadAllowed && (!complete || pending.Reloads > 0))
        {
            logger.LogInformation("Competence map at generation {Generation} is too far behind {Latest}: loading it whole", snapshot.Generation, latest);
            return await LoadAsync(ct);
        }
        if (pending.RowCount == 0) return snapshot;

        var organisations = snapshot.Organisations.ToBuilder();
        var ccas = snapshot.Ccas.ToBuilder();
        // Each commune the feed changes is built again once, after its last row.
        var changed = new Dictionary<Guid, CommunePeriods.Builder>();
        var feed = c.QueryUnbufferedAsync<FeedRow>(FeedSql, new { after = snapshot.Generation, last = pending.LastGeneration });
        // The rows are read after they were counted: a prune in between would leave a gap. Every generation has
        // rows (its BEGIN), so the generations read must follow one another to the last one counted.
        var expected = snapshot.Generation + 1;
        await foreach (var row in feed.WithCancellation(ct))
        {
            if (row.Generation > expected) return await GapAsync(snapshot, reloadAllowed, ct);
            if (row.Generation == expected) expected++;
            switch (row.Kind)
            {
                // A competence no longer in the catalogue: no lookup can reach it.
                case "SEGMENTS" when snapshot.CompetenceIndexes.TryGetValue(row.CompetenceCode!, out var k):
                    var commune = row.CommuneId!.Value;
                    if (!changed.TryGetValue(commune, out var periods))
                        changed[commune] = periods = new(snapshot.Periods.GetValueOrDefault(commune), snapshot.Catalogue.Count);
                    var segments = JsonSerializer.Deserialize<Segment[]>(row.Data!)!;
                    periods.Replace(k, segments);
                    periodsBuilt += segments.Length;
                    break;
                case "ORGANISATION":
                    var o = JsonSerializer.Deserialize<MapOrganisationRow>(row.Data!)!;
                    organisations[o.Id] = ToOrganisation(o);
                    if (o is { Kind: "CCAS", CommuneId: { } ccasCommune })
                    {
                        var tenures = ccas.TryGetValue(ccasCommune, out var t) ? t.Where(x => x.Id != o.Id).ToList() : [];
                        if (o.Tenure is { } tenure) tenures.Add(tenure);
                        ccas[ccasCommune] = [.. tenures];
                    }
                    break;
            }
        }
        if (expected != pending.LastGeneration + 1) return await GapAsync(snapshot, reloadAllowed, ct);
        var communes = snapshot.Periods.ToBuilder();
        foreach (var (commune, periods) in changed)
        {
            if (periods.Build() is { } built) communes[commune] = built;
            else communes.Remove(commune);
        }
        return new Snapshot
        {
            Generation = pending.LastGeneration,
            Organisations = organisations.ToImmutable(),
            CommunesByCode = snapshot.CommunesByCode,
            Competences = snapshot.Competences,
            Catalogue = snapshot.Catalogue,
            CompetenceIndexes = snapshot.CompetenceIndexes,
            Ccas = ccas.ToImmutable(),
            Periods = communes.ToImmutable(),
        };
    }

    /// <summary>The feed lost rows while being read (pruned): load the whole map, or, inside a load, start it again.</summary>
    private async Task<Snapshot> GapAsync(Snapshot snapshot, bool reloadAllowed, CancellationToken ct)
    {
        logger.LogInformation("Competence map feed after generation {Generation} was pruned while read: loading it whole", snapshot.Generation);
        return reloadAllowed ? await LoadAsync(ct) : throw new InvalidOperationException("The map feed was pruned during the load; loading again.");
    }

    private sealed class PendingRow
    {
        public long RowCount { get; init; }
        public long? FirstGeneration { get; init; }
        public long LastGeneration { get; init; }
        public long Reloads { get; init; }
    }

    private static Organisation ToOrganisation(MapOrganisationRow o) => new(o.Id, o.Name, o.Kind, o.Code);

    private sealed class SegmentRow
    {
        public Guid CommuneId { get; init; }
        public string CompetenceCode { get; init; } = "";
        public DateOnly ValidFrom { get; init; }
        public DateOnly ValidTo { get; init; }
        public string Chain { get; init; } = "";
    }

    private sealed class FeedRow
    {
        public long Generation { get; init; }
        public string Kind { get; init; } = "";
        public Guid? CommuneId { get; init; }
        public string? CompetenceCode { get; init; }
        public string? Data { get; init; }
    }

    private const string OrganisationsSql = $"SELECT {MapOrganisationRow.Columns} FROM organisation";
    private const string CompetencesSql = "SELECT code, label, holder_kind, legal_basis, is_legal FROM competence ORDER BY sort_order";
    private const string SegmentsSql = """
        SELECT commune_id, competence_code, valid_from, valid_to, chain FROM competence_map
        ORDER BY commune_id, competence_code, valid_from
        """;
    private const string PendingSql = """
        SELECT COUNT(*) AS row_count, MIN(generation) AS first_generation, COALESCE(MAX(generation), 0) AS last_generation,
               COALESCE(SUM(CASE WHEN kind = 'RELOAD' THEN 1 ELSE 0 END), 0) AS reloads
        FROM map_change WHERE generation > @after
        """;
    private const string FeedSql = """
        SELECT generation, kind, commune_id, competence_code, data
        FROM map_change WHERE generation > @after AND generation <= @last ORDER BY generation, seq
        """;
    private const string PruneSql = "DELETE FROM map_change WHERE recorded_at < @before";
}

/// <summary>Not ready until the map is in memory: a load balancer sends no lookup to a process still loading it.</summary>
public sealed class CompetenceMapHealthCheck(CompetenceMapCache cache) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        Task.FromResult(cache.IsLoaded ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("The competence map is loading."));
}
