using CoordinationHub.Platform;
using CoordinationHub.Platform.Data;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Benchmarks;

/// <summary>
/// The API as the benchmark runs it: the product's own builder and pipeline (<c>AddCoordinationHub</c>,
/// <c>UseCoordinationHub</c>), plus the floors it is measured against and the counters it reads, mapped from
/// this assembly only. The product has none of them. Run in a process of its own under the API's runtimeconfig
/// (same GC and thread-pool settings), by <see cref="ApiProcess"/>: <c>dotnet exec --runtimeconfig
/// CoordinationHub.Api.runtimeconfig.json CoordinationHub.Benchmarks.dll --api-host [settings]</c>.
/// </summary>
public static class BenchHost
{
    public const string Mode = "--api-host";

    public static async Task<int> RunAsync(string[] args, string contentRoot)
    {
        // The product's runtime settings (its runtimeconfig), printed so that a run shows it measured them.
        Console.WriteLine($"Bench host: server GC {System.Runtime.GCSettings.IsServerGC}, gen0 max budget " +
                          $"{AppContext.GetData("System.GC.Gen0MaxBudget") ?? "default"}, pool spin limit " +
                          $"{AppContext.GetData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit") ?? "default"}");
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = contentRoot });
        builder.AddCoordinationHub(runningAsServer: true);
        var app = builder.Build();
        app.UseCoordinationHub();
        app.MapBenchmarkEndpoints();
        await app.RunAsync();
        return 0;
    }

    /// <summary>
    /// The floor the competence map is measured against: one Dapper read by primary key through <see cref="Db"/>, in
    /// the same host and middleware, with no authentication, no mediator and no validation; and the other floors.
    /// </summary>
    private static void MapBenchmarkEndpoints(this WebApplication app)
    {
        app.MapGet("/bench/baseline/{id:guid}", async Task<Results<Ok<BaselineRow>, NotFound>> (Guid id, Db db, CancellationToken ct) =>
            {
                await using var connection = await db.OpenAsync(ct);
                var row = await connection.QuerySingleOrDefaultAsync<BaselineRow>(db.Command(BaselineSql, new { id }, ct));
                return row is null ? TypedResults.NotFound() : TypedResults.Ok(row);
            })
            .AllowAnonymous()
            .ExcludeFromDescription();

        // What the in-memory competence map holds, for the benchmark's memory figures.
        app.MapGet("/bench/map", async (Features.CompetenceMap.CompetenceMapCache cache, CancellationToken ct) =>
            {
                var map = await cache.GetAsync(0, ct);
                return TypedResults.Ok(new MapStats(map.Generation, map.Periods.Values.Sum(p => p.KeyCount), map.PeriodCount, map.Organisations.Count, map.CommunesByCode.Count));
            })
            .AllowAnonymous()
            .ExcludeFromDescription();

        // The runtime's counters (collections, pauses, allocations, thread pool): the benchmark takes their difference over a window.
        app.MapGet("/bench/runtime", () => TypedResults.Ok(new RuntimeCounters(
                GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration().TotalMilliseconds,
                GC.GetTotalAllocatedBytes(), ThreadPool.CompletedWorkItemCount, ThreadPool.ThreadCount, CpuByThread())))
            .AllowAnonymous().ExcludeFromDescription();

        // The floor of create-referral: the same single INSERT of a referral row, nothing else.
        app.MapPost("/bench/baseline/referral", async (BaselineReferral body, Db db, TimeProvider clock, CancellationToken ct) =>
            {
                var now = clock.GetUtcNow();
                var row = new Features.Referrals.ReferralRow
                {
                    Id = Guid.CreateVersion7(), SenderId = body.SenderId, ReceiverId = body.ReceiverId, CommuneId = body.CommuneId,
                    Need = "INCOME", CompetenceCode = "RSA_INSTRUCTION", Urgency = "NORMAL", Status = "SENT", PersonKey = body.PersonKey,
                    SenderAgentReference = "bench", SenderAgentName = "bench", StatutoryBasis = "RSA_ORIENTATION", RoutingMode = "RESOLVED",
                    DeadlineAt = now.AddDays(10), DeadlineSource = "URGENCY", SentAt = now, Version = 1, UpdatedAt = now,
                };
                // The same write path as every command: a transaction (one writer at a time on SQLite).
                await db.InTransactionAsync(async (c, tx, t) => await Dapper.SqlMapper.ExecuteAsync(c, db.Command(Features.Referrals.ReferralStore.InsertSql, row, t, tx)), ct);
                return TypedResults.Created($"/bench/baseline/referral/{row.Id}", new { row.Id });
            })
            .AllowAnonymous()
            .ExcludeFromDescription();

        // The floor of the rows a create writes: the same statements, through the same Db and Dapper calls, in one
        // transaction (duplicate guard, referral, sealed person version, receiver history, audit row, outbox event,
        // access record), without authentication, mediator, validation, routing reads or an answer beyond the id.
        // What separates create-referral from it is the request's own overhead; what separates it from the baseline
        // is what the rows the issues demand cost.
        app.MapPost("/bench/floor/referral", async (
                FloorReferral body, HttpContext http, Db db, TimeProvider clock, CancellationToken ct) =>
            {
                var services = http.RequestServices;
                var people = services.GetRequiredService<Features.Referrals.ReferralPersonData>();
                var changeLog = services.GetRequiredService<ChangeLog>();
                var access = services.GetRequiredService<Features.PersonalData.PersonAccess>();
                // Who the create's key would be: the audit row and the access record carry it.
                services.GetRequiredService<Platform.Auth.Caller>()
                    .Set(new Platform.Auth.ApiKeyIdentity(body.KeyId, body.SenderId, false, new HashSet<string>()));
                services.GetRequiredService<Features.PersonalData.AccessContext>().Operation = "CreateReferral";
                var now = clock.GetUtcNow();
                var person = Features.Referrals.ReferralPersonData.Clean(body.Person, "Benchmark");
                var row = new Features.Referrals.ReferralRow
                {
                    Id = Guid.CreateVersion7(), SenderId = body.SenderId, ReceiverId = body.ReceiverId, CommuneId = body.CommuneId,
                    Need = "INCOME", CompetenceCode = "RSA_INSTRUCTION", Urgency = "NORMAL", Status = "SENT",
                    PersonKey = people.KeyOf(body.Person), SenderAgentReference = "bench", SenderAgentName = "Benchmark",
                    StatutoryBasis = "RSA_ORIENTATION", RoutingMode = "RESOLVED",
                    RoutingChain = System.Text.Json.JsonSerializer.Serialize(
                        new[] { new Features.CompetenceMap.ChainStep(body.ReceiverId, "Nord", "DEPARTEMENT", "LAW", null, null, "CASF L262-15 ; L262-16") },
                        System.Text.Json.JsonSerializerOptions.Web),
                    DeadlineAt = now.AddDays(10), DeadlineSource = "URGENCY", SentAt = now, Version = 1, UpdatedAt = now,
                };
                var agent = new Features.Referrals.AgentInput("bench", "Benchmark");
                // As the create does: sealed and serialised before the transaction.
                var sealedPerson = people.SealNew(row.Id, person);
                var sent = changeLog.Prepare(new ChangeLog.Entry("referral", row.Id, "referral.sent", null,
                    Features.Referrals.ReferralStore.Snapshot(row), Features.Referrals.ReferralVisibility.Audience(row.SenderId, row.ReceiverId)));
                var workflow = services.GetRequiredService<Features.Referrals.ReferralWorkflow>();
                await db.InTransactionAsync(async (c, tx, t) =>
                {
                    await Features.Referrals.CreateReferralHandler.WriteAsync(db, people, changeLog, access, workflow, c, tx, row, sealedPerson, sent,
                        agent, forceReason: null, now, t);
                    return 0;
                }, ct);
                return TypedResults.Created($"/bench/floor/referral/{row.Id}", new { row.Id });
            })
            .AllowAnonymous()
            .ExcludeFromDescription();
    }

    public sealed record RuntimeCounters(
        int Gen0, int Gen1, int Gen2, double PausedMs, long AllocatedBytes, long WorkItems, int Threads, Dictionary<string, double> CpuMs);

    /// <summary>CPU time (ms) of this process's threads by name, numbers dropped (".NET TP Worker", "SQLite writer"…); Linux only.</summary>
    private static Dictionary<string, double> CpuByThread()
    {
        var cpu = new Dictionary<string, double>();
        if (!Directory.Exists("/proc/self/task")) return cpu;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                var name = File.ReadAllText(Path.Combine(task, "comm")).Trim().TrimEnd('0', '1', '2', '3', '4', '5', '6', '7', '8', '9').Trim();
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                // utime and stime, fields 14 and 15 of the line, in clock ticks of 10 ms.
                cpu[name] = cpu.GetValueOrDefault(name) + (long.Parse(fields[11]) + long.Parse(fields[12])) * 10.0;
            }
            catch (IOException) { } // the thread ended meanwhile
        }
        return cpu;
    }

    public sealed record MapStats(long Generation, int Keys, int Periods, int Organisations, int Communes);
    public sealed record BaselineReferral(Guid SenderId, Guid ReceiverId, Guid CommuneId, string PersonKey);
    public sealed record FloorReferral(
        Guid SenderId, Guid KeyId, Guid ReceiverId, Guid CommuneId, Features.Referrals.PersonInput Person);

    public sealed class BaselineRow
    {
        public Guid Id { get; init; }
        public string Name { get; init; } = "";
    }

    private const string BaselineSql = "SELECT id, name FROM organisation WHERE id = @id";
}
