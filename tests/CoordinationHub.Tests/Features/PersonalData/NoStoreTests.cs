using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Tests.Features.Referrals;
using CoordinationHub.Tests.Platform;

namespace CoordinationHub.Tests.Features.PersonalData;

/// <summary>
/// A shared proxy, a browser or an HTTP client cache kept the person (issue 23, finding 9): every answer of every
/// referral and access-log operation, replays included, must say <c>Cache-Control: no-store</c>.
/// </summary>
public abstract class NoStoreTests(ApiFixture fx) : ReferralTestBase(fx)
{
    private static readonly JsonElement Contract = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(ContractConformance.RepoRoot(), "..", "openapi", "coordinationhub.v1.json"))).RootElement;

    private sealed record Answer(string Operation, string Call, string? CacheControl);

    /// <summary>Every answer the host gave: the operation it belongs to and its Cache-Control.</summary>
    private sealed class Recorder(ConcurrentBag<Answer> answers) : DelegatingHandler
    {

        private static readonly List<(string Method, Regex Path, string Id)> Operations =
        [
            .. from path in Contract.GetProperty("paths").EnumerateObject()
               from op in path.Value.EnumerateObject()
               select (op.Name.ToUpperInvariant(), new Regex("^" + Regex.Replace(path.Name, @"\{[^}]+\}", "[^/]+") + "$"),
                   op.Value.GetProperty("operationId").GetString()!),
        ];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            var response = await base.SendAsync(request, ct);
            var path = request.RequestUri!.AbsolutePath;
            // Literal routes before templated ones: /v1/referrals/sent is not /v1/referrals/{id}.
            var operation = Operations.Where(o => o.Method == request.Method.Method && o.Path.IsMatch(path))
                .OrderBy(o => o.Path.ToString().Count(c => c == '[')).Select(o => o.Id).FirstOrDefault() ?? path;
            var call = $"{request.Method} {path} → {(int)response.StatusCode}";
            answers.Add(new Answer(operation, call, response.Headers.CacheControl?.ToString()));
            return response;
        }
    }

    [Fact]
    public async Task Every_answer_of_every_referral_and_access_log_operation_replays_included_is_sent_with_no_store()
    {
        var ccas = await Ccas("87085"); // Limoges
        var dep = await Dep("87");
        var partner = await Partner("Restos du cœur de Limoges", "87");
        var answers = new ConcurrentBag<Answer>();
        await using var host = Fx.CreateFactory(Fx.ConnectionString, startupTasks: false);
        HttpClient C(string key)
        {
            var client = host.CreateDefaultClient(
                new Uri("http://localhost"), new Recorder(answers), new ContractConformance.Handler());
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return client;
        }
        async Task<string> Tag(Party p, Guid id) => (await C(p.Key).GetAsync($"/v1/referrals/{id}").Ok()).Headers.ETag!.Tag;
        async Task<HttpResponseMessage> Do(Party p, HttpMethod method, string url, object? body, string? etag = null,
            HttpStatusCode expected = HttpStatusCode.OK, string? idempotencyKey = null)
        {
            var request = new HttpRequestMessage(method, url);
            if (body is not null) request.Content = JsonContent.Create(body, options: ApiFixture.Json);
            if (etag is not null) request.Headers.TryAddWithoutValidation("If-Match", etag);
            if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
            return await Task.FromResult(await C(p.Key).SendAsync(request)).Ok(expected);
        }
        async Task Act(Party p, Guid id, string action, object body) =>
            await Do(p, HttpMethod.Post, $"/v1/referrals/{id}/{action}", body, await Tag(p, id));
        async Task<Guid> New(object? consent = null, string? idempotencyKey = null)
        {
            var draft = consent is null
                ? Draft("INCOME", Person("87085"), receiverId: dep.Id)
                : Draft("INCOME", Person("87085"), receiverId: dep.Id, consent: consent, statutory: null);
            Task<HttpResponseMessage> Create() =>
                Do(ccas, HttpMethod.Post, "/v1/referrals", draft, expected: HttpStatusCode.Created, idempotencyKey: idempotencyKey);
            var created = await Create();
            if (idempotencyKey is not null) // the replay serves the person again
                Assert.Equal("true", (await Create()).Headers.GetValues("Idempotent-Replayed").Single());
            return (await created.Read<ReferralDto>()).Id;
        }
        var text = new { agent = Agent, text = "Texte." };

        var a = await New(idempotencyKey: "no-store-" + Guid.NewGuid());
        await Do(dep, HttpMethod.Post, $"/v1/referrals/{a}/receipt", new { }, await Tag(ccas, a));
        await Act(dep, a, "information-requests", text);
        await Act(ccas, a, "information-answers", text);
        await Act(dep, a, "acceptance", new { agent = Agent });
        await Do(dep, HttpMethod.Put, $"/v1/referrals/{a}/assigned-agent", new { assignedAgent = Agent }, await Tag(dep, a));
        await Do(dep, HttpMethod.Get, $"/v1/referrals/{a}/assignments", null);
        await Act(dep, a, "start", new { agent = Agent });
        await Do(ccas, HttpMethod.Post, $"/v1/referrals/{a}/messages", new { agent = Agent, body = "Message." },
            expected: HttpStatusCode.Created);
        await Do(dep, HttpMethod.Get, $"/v1/referrals/{a}/messages", null);
        var corrected = Person("87085");
        corrected["address"] = "1 place de la Mairie";
        await Do(ccas, HttpMethod.Put, $"/v1/referrals/{a}/person", new { person = corrected, agent = Agent }, await Tag(ccas, a));
        await Do(dep, HttpMethod.Get, $"/v1/referrals/{a}/person/versions", null);
        await Do(ccas, HttpMethod.Get, $"/v1/referrals/{a}/dossier", null);
        await Do(ccas, HttpMethod.Get, $"/v1/referrals/{a}/access-log", null);
        await Act(dep, a, "completion", new { agent = Agent, outcome = "FILE_SUBMITTED", text = "Déposé." });
        await Do(ccas, HttpMethod.Post, $"/v1/referrals/{a}/person/requests", new { kind = "OBJECTION", agent = Agent },
            expected: HttpStatusCode.Created);
        await Do(dep, HttpMethod.Get, "/v1/referrals/received?limit=5", null);
        await Do(ccas, HttpMethod.Get, "/v1/referrals/sent?limit=5", null);
        await Do(dep, HttpMethod.Get, "/v1/referrals/counts?box=RECEIVED", null);
        await Do(ccas, HttpMethod.Get, "/v1/referrals/routing?commune=87085&need=INCOME", null);
        await Do(ccas, HttpMethod.Put, "/v1/referrals/intake/AIDE_ALIMENTAIRE", new { expectedResponseDays = 5 });
        var admin = new Party(dep.Organisation, Fx.AdminKey);
        await Do(admin, HttpMethod.Get, "/v1/access-log?from=2026-11-25&to=2026-11-25&limit=5", null);

        var b = await New();
        await Act(dep, b, "decline",
            new { agent = Agent, reason = "NOT_COMPETENT", text = "Pas pour nous.", suggestedReceiverId = partner.Id });
        await Do(ccas, HttpMethod.Post, $"/v1/referrals/{b}/reorientation", new { agent = Agent, receiverId = partner.Id },
            await Tag(ccas, b), HttpStatusCode.Created);
        await Act(ccas, await New(), "cancellation", new { agent = Agent, reason = "SENT_BY_MISTAKE" });
        await Act(dep, await New(), "transfer", new { agent = Agent, receiverId = partner.Id, reason = "DELEGATED" });
        var c = await New(Consent("INCOME"));
        await Act(dep, c, "acceptance", new { agent = Agent });
        await Act(ccas, c, "consent/revocation", new { agent = Agent });
        // Withdrawal closes an accepted referral itself: the receiver's closure goes on another.
        var d = await New();
        await Act(dep, d, "acceptance", new { agent = Agent });
        await Act(dep, d, "closure", new { agent = Agent, reason = "PERSON_DID_NOT_COME" });
        // Refusals of these routes carry no person, but the rule does not ask what the answer holds.
        await (await C(dep.Key).GetAsync($"/v1/referrals/{Guid.NewGuid()}")).Problem(HttpStatusCode.NotFound);

        var cached = answers.Where(r => r.CacheControl != "no-store")
            .Select(r => $"{r.Call} (Cache-Control: {r.CacheControl ?? "none"})").ToList();
        Assert.True(cached.Count == 0, "Answers a cache may keep:\n" + string.Join('\n', cached));
        var expected = Contract.GetProperty("paths").EnumerateObject()
            .Where(p => p.Name.StartsWith("/v1/referrals", StringComparison.Ordinal)
                || p.Name.StartsWith("/v1/access-log", StringComparison.Ordinal))
            .SelectMany(p => p.Value.EnumerateObject())
            .Select(op => op.Value.GetProperty("operationId").GetString()!).ToHashSet();
        Assert.Empty(expected.Except(answers.Select(r => r.Operation)));
    }

    [Fact]
    public async Task Answers_without_a_person_stay_cacheable_as_before()
    {
        var competences = await Fx.Admin().GetAsync("/v1/competences").Ok();
        Assert.Null(competences.Headers.CacheControl);
    }
}

[Collection(SqliteCollection.Name)] public sealed class NoStoreTests_Sqlite(SqliteFixture f) : NoStoreTests(f);
[Collection(PostgresCollection.Name)] public sealed class NoStoreTests_Postgres(PostgresFixture f) : NoStoreTests(f);
