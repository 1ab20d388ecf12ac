using System.Diagnostics;
using CoordinationHub.Platform.Auth;

namespace CoordinationHub.Benchmarks;

/// <summary>
/// The writer of the mixed phase: at a fixed rate, through the API with the parties' own keys, it
/// creates a delegation, moves its start, ends it, and registers a CCAS, over and over on fresh
/// communes. After each acknowledged write it publishes the map generation it was told (readers'
/// answers must never be older) and looks the written key up itself: the answer must show the write.
/// </summary>
public sealed class MixedWriter(ApiProcess apiProcess, ApiClient api, IReadOnlyList<MixedWriter.Slot> slots, IReadOnlyList<Commune> ccasCommunes)
{
    private const string Competence = "REGISTRE_VULNERABLES"; // held by the commune itself (CASF L121-6-1)
    private static readonly DateOnly Checked = new(2026, 6, 1);
    private long acknowledged;
    private int nextSlot, nextCcas, step;
    private Guid delegation;
    private string? etag;

    /// <summary>A small commune, its key, and a signed convention with a partner covering the competence there.</summary>
    public sealed record Slot(Commune Commune, string Key, Guid PartnerId, Guid ConventionId);

    public long Acknowledged => Volatile.Read(ref acknowledged);
    public List<long> Latencies { get; } = [];
    public int Mismatches { get; private set; }
    public List<string> MismatchSamples { get; } = [];

    /// <summary>Conventions for <paramref name="count"/> small communes of départements the load does not touch otherwise.</summary>
    public static async Task<MixedWriter> PrepareAsync(ApiProcess apiProcess, ApiClient api, Workload workload, int count, CancellationToken ct)
    {
        string[] scopes = [Scopes.ConventionsRead, Scopes.ConventionsWrite, Scopes.DelegationsRead, Scopes.DelegationsWrite, Scopes.DirectoryRead];
        // Small communes, never the largest of their département (whose CCAS the load registered).
        var small = workload.Communes.Where(c => c.Population is > 0 and < 300).OrderBy(c => c.Code, StringComparer.Ordinal).ToList();
        var forSlots = small.Where((_, i) => i % 2 == 0).Take(count).ToList();
        var forCcas = small.Where((_, i) => i % 2 == 1).Take(count).ToList();
        var slots = new List<Slot>();
        foreach (var group in forSlots.GroupBy(c => c.DepartementCode))
        {
            var partner = await api.PostOrExistingAsync("/v1/organisations", new
            {
                kind = "PARTNER", name = $"Association registre {group.Key} (benchmark)", partnerCategory = "ASSOCIATION", departementCode = group.Key,
            }, apiProcess.AdminKey, ct);
            var partnerKey = await apiProcess.CreateKeyAsync(partner, $"benchmark registre {group.Key}", scopes, ct);
            foreach (var commune in group)
            {
                var key = await apiProcess.CreateKeyAsync(commune.Id, $"benchmark {commune.Name}", scopes, ct);
                var convention = (await api.PostAsync("/v1/conventions", new
                {
                    type = "DELEGATION", reference = $"BENCH-REG-{commune.Code}", @object = $"Tenue du registre des personnes vulnérables ({commune.Name})",
                    parties = new[] { new { organisationId = commune.Id, role = "Délégant" }, new { organisationId = partner, role = "Délégataire" } },
                    competences = new[] { Competence }, communeIds = new[] { commune.Id },
                    startOn = new DateOnly(2025, 1, 1), endOn = new DateOnly(2030, 12, 31), noticeDays = 90, allowsSubdelegation = false,
                }, key, ct))["id"]!.GetValue<Guid>();
                foreach (var (k, signer) in new[] { (key, "Le maire"), (partnerKey, "La présidente") })
                    await api.PostAsync($"/v1/conventions/{convention}/signatures", new { signerName = signer, signedOn = new DateOnly(2024, 12, 1) }, k, ct);
                slots.Add(new Slot(commune, key, partner, convention));
            }
        }
        return new MixedWriter(apiProcess, api, slots, forCcas);
    }

    /// <summary>Writes at <paramref name="perSecond"/> until <paramref name="until"/> (a Stopwatch timestamp).</summary>
    public async Task RunAsync(double perSecond, long until, CancellationToken ct)
    {
        var interval = (long)(Stopwatch.Frequency / perSecond);
        var next = Stopwatch.GetTimestamp();
        while (next < until && !ct.IsCancellationRequested)
        {
            var wait = next - Stopwatch.GetTimestamp();
            if (wait > 0) await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency), ct);
            next += interval;
            var started = Stopwatch.GetTimestamp();
            var (commune, competence, date, expected) = await WriteOnceAsync(ct);
            Latencies.Add(Stopwatch.GetTimestamp() - started);
            var answer = await api.GetAsync($"/v1/competence-map?commune={commune}&competence={competence}&date={date:yyyy-MM-dd}", apiProcess.AdminKey, ct);
            var responsible = answer["responsible"]!["id"]!.GetValue<Guid>();
            if (responsible != expected)
            {
                Mismatches++;
                if (MismatchSamples.Count < 3) MismatchSamples.Add($"{commune} {competence} {date}: {responsible}, expected {expected}");
            }
        }
    }

    /// <summary>The next write of the cycle; answers the key it changed and the responsible body it must now show.</summary>
    private async Task<(string Commune, string Competence, DateOnly Date, Guid Expected)> WriteOnceAsync(CancellationToken ct)
    {
        var slot = slots[nextSlot % slots.Count];
        long generation;
        (string, string, DateOnly, Guid) check;
        switch (step++ % 4)
        {
            case 0:
                var created = await api.WriteAsync(HttpMethod.Post, "/v1/delegations", new
                {
                    delegatorId = slot.Commune.Id, delegateId = slot.PartnerId, competence = Competence, conventionId = slot.ConventionId,
                    communeIds = new[] { slot.Commune.Id }, startOn = new DateOnly(2026, 1, 1), endOn = new DateOnly(2027, 12, 31),
                }, slot.Key, null, ct);
                (delegation, etag, generation) = (created.Body["id"]!.GetValue<Guid>(), created.ETag, created.Generation);
                check = (slot.Commune.Code, Competence, Checked, slot.PartnerId);
                break;
            case 1:
                var changed = await api.WriteAsync(HttpMethod.Put, $"/v1/delegations/{delegation}", new
                {
                    startOn = new DateOnly(2026, 7, 1), endOn = new DateOnly(2027, 12, 31), reason = "Report du démarrage",
                }, slot.Key, etag, ct);
                (etag, generation) = (changed.ETag, changed.Generation);
                check = (slot.Commune.Code, Competence, Checked, slot.Commune.Id);
                break;
            case 2:
                var ended = await api.WriteAsync(HttpMethod.Post, $"/v1/delegations/{delegation}/end",
                    new { lastDay = new DateOnly(2026, 12, 31), reason = "Reprise en régie" }, slot.Key, etag, ct);
                generation = ended.Generation;
                check = (slot.Commune.Code, Competence, new DateOnly(2027, 6, 1), slot.Commune.Id);
                nextSlot++;
                break;
            default:
                var commune = ccasCommunes[nextCcas++ % ccasCommunes.Count];
                var ccas = await api.WriteAsync(HttpMethod.Post, "/v1/organisations",
                    new { kind = "CCAS", name = $"CCAS de {commune.Name}", communeId = commune.Id }, apiProcess.AdminKey, null, ct);
                generation = ccas.Generation;
                check = (commune.Code, "DOMICILIATION", Checked, ccas.Body["id"]!.GetValue<Guid>());
                break;
        }
        if (generation == 0) throw new InvalidOperationException("A write that changed the map did not send Map-Generation.");
        InterlockedMax(ref acknowledged, generation);
        return check;
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }
}
