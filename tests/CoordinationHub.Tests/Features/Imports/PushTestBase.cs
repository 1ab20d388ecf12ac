using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using CoordinationHub.Features.Imports;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Tests.Features.Delegations;
using Dapper;

namespace CoordinationHub.Tests.Features.Imports;

/// <summary>What the push tests share: a département set up to push, its records, and the push itself.</summary>
public abstract class PushTestBase(ApiFixture fx) : DelegationTestBase(fx)
{
    protected static readonly string[] PusherScopes =
        [Scopes.DirectoryRead, Scopes.ConventionsRead, Scopes.ConventionsWrite, Scopes.DelegationsRead, Scopes.DelegationsWrite, Scopes.DelegationsImport];

    protected sealed record Setup(Party Departement, Party Ccas, Guid Convention, string CcasCommune, HttpClient Client);

    /// <summary>The département, the CCAS of its first commune, and a signed convention for RSA and APA instruction on the whole département.</summary>
    protected async Task<Setup> SetUpAsync(string departement, string ccasCommune)
    {
        var dep = await Departement(departement);
        var party = new Party(dep, await Fx.KeyFor(dep.Id, PusherScopes));
        var ccas = await CcasParty(ccasCommune);
        var k = await SignedConvention([party, ccas], ["RSA_INSTRUCTION", "APA_INSTRUCTION"], new { departementCodes = new[] { departement } }, Jan2026, Dec2028);
        return new Setup(party, ccas, k, ccasCommune, party.Client(Fx));
    }

    protected static object Record(Setup s, string externalRef, string competence, string[] communes, string start = "2026-02-01", string end = "2027-12-31") => new
    {
        externalRef, competence, delegateCcasCommune = s.CcasCommune, communes, startOn = start, endOn = end, conventionId = s.Convention,
    };

    protected static string Ndjson(params object[] records) => string.Join('\n', records.Select(r => JsonSerializer.Serialize(r, ApiFixture.Json))) + "\n";

    protected static Task<HttpResponseMessage> Push(HttpClient client, string body, string contentType = "application/x-ndjson", string query = "",
        bool gzip = false, string? idempotencyKey = null) =>
        PushBytes(client, Encoding.UTF8.GetBytes(body), contentType, query, gzip, idempotencyKey);

    protected static Task<HttpResponseMessage> PushBytes(HttpClient client, byte[] bytes, string contentType = "application/x-ndjson", string query = "",
        bool gzip = false, string? idempotencyKey = null)
    {
        if (gzip)
        {
            using var buffer = new MemoryStream();
            using (var z = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) z.Write(bytes);
            bytes = buffer.ToArray();
        }
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        if (gzip) content.Headers.ContentEncoding.Add("gzip");
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/imports/delegations" + query) { Content = content };
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        return client.SendAsync(request);
    }

    protected async Task<long> DelegationsOf(Guid delegator)
    {
        await using var c = await Fx.Db.OpenAsync(default);
        return await c.ExecuteScalarAsync<long>(Fx.Db.Command("SELECT COUNT(*) FROM delegation WHERE delegator_id = @delegator", new { delegator }, default));
    }

    protected static Guid Responsible(JsonElement entry) => entry.GetProperty("responsible").GetProperty("id").GetGuid();

    /// <summary>400 one-commune records, two days each: more than a synchronous push takes.</summary>
    protected static string LargePush(Setup s, string prefix, string[] communes) => Ndjson([.. Enumerable.Range(0, 400).Select(i =>
    {
        var start = new DateOnly(2026, 1, 1).AddDays(i / (2 * communes.Length) * 2);
        return Record(s, $"{prefix}-{i}", i % 2 == 0 ? "RSA_INSTRUCTION" : "APA_INSTRUCTION", [communes[i / 2 % communes.Length]],
            start: start.ToString("yyyy-MM-dd"), end: start.AddDays(1).ToString("yyyy-MM-dd"));
    })]);

    protected async Task<ImportReport> FinishedAsync(HttpClient client, Guid job)
    {
        // Ten minutes: the 200,000-record push shares two cores with the rest of the suite.
        for (var i = 0; i < 6000; i++)
        {
            var report = await (await client.GetAsync($"/v1/imports/{job}").Ok()).Read<ImportReport>();
            if (report.Status is not (ImportStatus.QUEUED or ImportStatus.RUNNING)) return report;
            await Task.Delay(100);
        }
        throw new TimeoutException($"import job {job} did not finish in 600 s");
    }
}
