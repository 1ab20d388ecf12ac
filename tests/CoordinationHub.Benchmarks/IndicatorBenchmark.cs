using System.Diagnostics;
using CoordinationHub.Features.Indicators;
using CoordinationHub.Features.Referrals;

namespace CoordinationHub.Benchmarks;

/// <summary>
/// Issue 26: a département's public indicators (needs by competence and month, answers by competence) with the rollups
/// of 10,000 then 1,000,000 referrals in the database. The rollups are seeded by the handlers' own write path
/// (<see cref="IndicatorRollup.Delta"/> and <see cref="IndicatorRollup.WriteAsync"/>), in batches, from synthetic
/// referrals in their final states spread over the whole country (by population) and the last 24 months; the measured
/// requests are the real endpoints, without a key.
/// </summary>
public sealed class IndicatorBenchmark(ApiProcess apiProcess, LoadGenerator generator, BenchmarkOptions options, Workload workload)
{
    private const string Nord = "59";
    private const int Batch = 100_000;

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var requests = new[]
        {
            new Uri(apiProcess.BaseAddress, $"/v1/indicators/needs?level=DEPARTEMENT&code={Nord}"),
            new Uri(apiProcess.BaseAddress, $"/v1/indicators/answers?level=DEPARTEMENT&code={Nord}"),
        };
        var results = new List<(long Referrals, LoadResult Result)>();
        var random = new Random(26);
        var communes = workload.Communes.Where(c => c.Population > 0).ToArray();
        var cumulative = new long[communes.Length];
        for (long i = 0, sum = 0; i < communes.Length; i++) cumulative[i] = sum += communes[i].Population;
        long seeded = 0;
        foreach (var target in new long[] { 10_000, 1_000_000 })
        {
            var started = Stopwatch.StartNew();
            while (seeded < target)
            {
                var n = (int)Math.Min(Batch, target - seeded);
                // The commune-level cells (read by communes', EPCIs' and own figures, not by a département's public
                // answer) are seeded for the first 10,000 only: at 1,000,000 they are ~8 million rows, ~6 min to seed here.
                await SeedAsync(n, random, communes, cumulative, cells: seeded < 10_000, ct);
                seeded += n;
            }
            Console.WriteLine($"  rollups of {seeded:N0} referrals (seeded in {started.Elapsed.TotalSeconds:F1} s); " +
                              $"warming up for {options.Warmup.TotalSeconds:F0} s…");
            await generator.RunAsync("indicators warm-up", requests, null, options.Warmup, ct);
            var result = await generator.RunAsync($"Nord's indicators, {seeded:N0} referrals", requests, null, options.Duration, ct);
            result.Print();
            results.Add((seeded, result));
        }
        Console.WriteLine();
        Console.WriteLine($"| referrals | requests | p50 (ms) | p99 (ms) | errors |");
        Console.WriteLine($"|---:|---:|---:|---:|---:|");
        foreach (var (referrals, r) in results)
            Console.WriteLine($"| {referrals:N0} | {r.Requests:N0} | {r.PercentileMs(50):F2} | {r.PercentileMs(99):F2} | {r.ErrorCount} |");
        var p99 = results[^1].Result.PercentileMs(99);
        Console.WriteLine(p99 <= 50 ? $"p99 at 1,000,000: {p99:F2} ms ≤ 50 ms: met." : $"p99 at 1,000,000: {p99:F2} ms > 50 ms: MISSED.");
        return results.Any(r => r.Result.ErrorCount > 0) ? 1 : 0;
    }

    /// <summary>Counts <paramref name="count"/> synthetic referrals in the rollups, in one transaction.</summary>
    private async Task SeedAsync(int count, Random random, Commune[] communes, long[] cumulative, bool cells, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var delta = new IndicatorRollup.Delta();
        var needs = Enum.GetValues<NeedCategory>();
        for (var i = 0; i < count; i++)
        {
            var at = random.NextInt64(cumulative[^1]);
            var index = Array.BinarySearch(cumulative, at + 1); // the first commune whose running total passes `at`
            var commune = communes[index >= 0 ? index : ~index];
            var need = needs[random.Next(needs.Length)];
            var row = Referral(random, commune, need, now);
            delta.Add(row, commune.DepartementCode, 1);
            if (random.Next(20) != 0) continue;
            // One in twenty was first sent elsewhere and transferred.
            var first = row.Copy();
            first.ReceiverId = Party(commune.DepartementCode, "first");
            delta.AddTransfer(first, commune.DepartementCode, row.SentAt.AddHours(random.Next(1, 200)));
        }
        var db = apiProcess.Db;
        await db.InTransactionAsync(async (c, tx, t) => { await IndicatorRollup.WriteAsync(db, c, tx, delta, t, cells); return 0; }, ct);
    }

    private static ReferralRow Referral(Random random, Commune commune, NeedCategory need, DateTimeOffset now)
    {
        var sent = now.AddHours(-random.Next(1, 24 * 730));
        var deadline = sent.AddDays(10);
        var responded = sent.AddHours(Math.Pow(random.NextDouble(), 2) * 600);
        var status = random.Next(100) switch
        {
            < 10 => ReferralStatus.SENT, < 15 => ReferralStatus.RECEIVED, < 30 => ReferralStatus.ACCEPTED, < 40 => ReferralStatus.IN_PROGRESS,
            < 75 => ReferralStatus.COMPLETED, < 88 => ReferralStatus.DECLINED, < 94 => ReferralStatus.CLOSED_WITHOUT_OUTCOME,
            _ => ReferralStatus.CANCELLED,
        };
        var awaiting = status is ReferralStatus.SENT or ReferralStatus.RECEIVED or ReferralStatus.CANCELLED;
        return new ReferralRow
        {
            Id = Guid.CreateVersion7(), SenderId = Party(commune.Code, "ccas"), ReceiverId = Party(commune.DepartementCode, need.ToString()),
            CommuneId = commune.Id, Need = need.ToString(), CompetenceCode = Needs.Competence[need], Status = status.ToString(),
            SentAt = sent, DeadlineAt = deadline, RespondedAt = awaiting ? null : responded,
            ClosedAt = status is ReferralStatus.COMPLETED or ReferralStatus.DECLINED or ReferralStatus.CLOSED_WITHOUT_OUTCOME
                ? responded.AddDays(random.Next(0, 60)) : null,
            Outcome = status == ReferralStatus.COMPLETED ? Enum.GetNames<Outcome>()[random.Next(6)] : null,
            DeclineReason = status == ReferralStatus.DECLINED ? Enum.GetNames<DeclineReason>()[random.Next(6)] : null,
            ReorientedToId = status == ReferralStatus.DECLINED && random.Next(3) == 0 ? Guid.Empty : null,
            ConsentWithdrawnAt = random.Next(100) == 0 ? responded : null,
        };
    }

    /// <summary>A stable id per name: the same CCAS for a commune, the same receiver for a département and need.</summary>
    private static Guid Party(string scope, string role) =>
        new(System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes(scope + "|" + role)));
}
