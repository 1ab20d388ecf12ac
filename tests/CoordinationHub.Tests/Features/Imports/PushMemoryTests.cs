using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using CoordinationHub.Features.Imports;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Features.Imports;

/// <summary>
/// The server's memory during the largest pushes (#25). The in-process host shares the test's process, so these
/// run in collections of their own that run alone (no other test allocating meanwhile), and sample the working set.
/// </summary>
public abstract class PushMemoryTests(ApiFixture fx) : PushTestBase(fx)
{
    /// <summary>
    /// The largest growth of the process's working set while <paramref name="push"/> runs, sampled every 10 ms (the
    /// in-process host shares the test's process: its peak since start says nothing about one push).
    /// </summary>
    private static async Task<(T Result, long GrowthBytes)> PeakGrowthAsync<T>(Func<Task<T>> push)
    {
        // One measure at a time: the other provider's heavy pushes would count in this one's growth.
        await MeasureOne.WaitAsync();
        try
        {
            return await MeasureAsync(push);
        }
        finally
        {
            MeasureOne.Release();
        }
    }

    private static readonly SemaphoreSlim MeasureOne = new(1, 1);

    private static async Task<(T Result, long GrowthBytes)> MeasureAsync<T>(Func<Task<T>> push)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var idle = Environment.WorkingSet;
        var peak = idle;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, Environment.WorkingSet);
                await Task.Delay(10);
            }
        });
        var result = await push();
        await sampling.CancelAsync();
        await sampler;
        return (result, peak - idle);
    }

    private async Task<ImportReport> ReportOfAsync(HttpClient client, HttpResponseMessage response) =>
        response.StatusCode == HttpStatusCode.Accepted
            ? await FinishedAsync(client, (await response.Read<ImportReport>()).Id)
            : (await response.Problem(HttpStatusCode.UnprocessableEntity)).GetProperty("report").Deserialize<ImportReport>(ApiFixture.Json)!;

    private const long HundredMegabytes = 100L * 1000 * 1000;

    [Theory]
    [InlineData("application/x-ndjson")]
    [InlineData("application/json")]
    public async Task A_line_longer_than_the_maximum_is_refused_with_its_number_without_holding_it_in_memory(string contentType)
    {
        var s = await SetUpAsync("45", "45001");
        var json = contentType == "application/json";
        // 160 MiB on one line (one element), a few hundred KiB once gzipped.
        var mebibyte = new byte[1024 * 1024];
        Array.Fill(mebibyte, (byte)'a');
        byte[] gz;
        using (var buffer = new MemoryStream())
        {
            using (var z = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
            {
                var first = JsonSerializer.Serialize(Record(s, "CD45-1", "RSA_INSTRUCTION", ["45002"]), ApiFixture.Json);
                z.Write(Encoding.UTF8.GetBytes(json ? $"[{first},\n{{\"externalRef\":\"" : first + "\n"));
                for (var i = 0; i < 160; i++) z.Write(mebibyte);
                z.Write(json ? "\"}]"u8 : "\n"u8);
            }
            gz = buffer.ToArray();
        }
        var content = new ByteArrayContent(gz);
        content.Headers.ContentType = new(contentType);
        content.Headers.ContentEncoding.Add("gzip");

        var (report, growth) = await PeakGrowthAsync(async () => await ReportOfAsync(s.Client, await s.Client.PostAsync("/v1/imports/delegations", content)));
        var error = report.Errors.Single();
        Assert.Equal((2, "imports.malformed-record"), (error.Line, error.Type));
        Assert.Contains("longer than", error.Message);
        Assert.True(growth < HundredMegabytes, $"the working set grew by {growth / 1_000_000} MB during the push");
    }

    [Fact]
    public async Task A_push_of_200000_records_is_checked_within_100_MB_of_the_memory_before_it()
    {
        // Pas-de-Calais: 890 communes, RSA and APA instruction, two-day periods over 2026-2027.
        var s = await SetUpAsync("62", "62001");
        var communes = await Fx.Db.RetryAsync(async (c, t) => (await c.QueryAsync<string>(Fx.Db.Command(
            "SELECT code FROM organisation WHERE kind = 'COMMUNE' AND departement_code = '62' AND is_active = @active ORDER BY code",
            new { active = true }, t))).ToList(), default);
        var file = Path.Combine(Path.GetTempPath(), $"push-200k-{Guid.NewGuid():N}.ndjson.gz");
        try
        {
            await using (var z = new GZipStream(File.Create(file), CompressionLevel.Fastest))
            await using (var w = new StreamWriter(z, new UTF8Encoding(false)))
            {
                var perWindow = communes.Count * 2;
                for (var i = 0; i < PushDelegationsHandler.MaxRecords; i++)
                {
                    var start = new DateOnly(2026, 1, 1).AddDays(i / perWindow * 2);
                    await w.WriteAsync($"{{\"externalRef\":\"CD62-{i}\",\"competence\":\"{(i % 2 == 0 ? "RSA_INSTRUCTION" : "APA_INSTRUCTION")}\","
                        + $"\"delegateCcasCommune\":\"62001\",\"communes\":[\"{communes[i / 2 % communes.Count]}\"],\"startOn\":\"{start:yyyy-MM-dd}\","
                        + $"\"endOn\":\"{start.AddDays(1):yyyy-MM-dd}\",\"conventionId\":\"{s.Convention}\"}}\n");
                }
            }
            var (report, growth) = await PeakGrowthAsync(async () =>
            {
                await using var body = File.OpenRead(file);
                var content = new StreamContent(body);
                content.Headers.ContentType = new("application/x-ndjson");
                content.Headers.ContentEncoding.Add("gzip");
                return await ReportOfAsync(s.Client, await s.Client.PostAsync("/v1/imports/delegations?dryRun=true", content));
            });
            Assert.Equal((ImportStatus.VALIDATED, PushDelegationsHandler.MaxRecords, PushDelegationsHandler.MaxRecords),
                (report.Status, report.Counts.Read, report.Counts.Created));
            Assert.True(growth < HundredMegabytes, $"the working set grew by {growth / 1_000_000} MB during the push");
        }
        finally
        {
            File.Delete(file);
            // The rolled-back pages of 200,000 records stay in SQLite's write-ahead log until a checkpoint truncates it.
            if (Fx.Provider == CoordinationHub.Platform.Data.DatabaseProvider.Sqlite)
                await using (var c = await Fx.Db.OpenAsync(default))
                    await c.ExecuteAsync("PRAGMA wal_checkpoint(TRUNCATE)");
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SqliteAloneCollection : ICollectionFixture<SqliteFixture> { public const string Name = "sqlite-alone"; }

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PostgresAloneCollection : ICollectionFixture<PostgresFixture> { public const string Name = "postgres-alone"; }

[Collection(SqliteAloneCollection.Name)] public sealed class PushMemoryTests_Sqlite(SqliteFixture f) : PushMemoryTests(f);
[Collection(PostgresAloneCollection.Name)] public sealed class PushMemoryTests_Postgres(PostgresFixture f) : PushMemoryTests(f);
