using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using CoordinationHub.Tests.Features.Referrals;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// Issue 24's first findings, each as it was found: what the server sends against what the contract declares (the
/// response validator checks every answer too; these say it where a reader of the finding looks).
/// </summary>
public abstract class ContractFindingsTests(ApiFixture fx) : ReferralTestBase(fx)
{
    private static readonly JsonNode Contract = JsonNode.Parse(File.ReadAllText(
        Path.Combine(ContractConformance.RepoRoot(), "openapi", "coordinationhub.v1.json")))!;

    private static JsonObject Schema(string name) => Contract["components"]!["schemas"]![name]!.AsObject();

    private static IEnumerable<string> Required(string schema) => Schema(schema)["required"]!.AsArray().Select(n => n!.GetValue<string>());

    private async Task<JsonElement> Raw(Party party, Guid id) => await (await party.Client(Fx).GetAsync($"/v1/referrals/{id}").Ok()).Json();

    private static void HasEveryRequired(string schema, JsonElement body, string when)
    {
        var missing = Required(schema).Where(p => !body.TryGetProperty(p, out _)).ToList();
        Assert.True(missing.Count == 0, $"{schema} {when}: required but not sent: {string.Join(", ", missing)}");
    }

    [Fact]
    public async Task Finding_1_a_referral_sends_every_property_its_schema_requires_whatever_its_status()
    {
        // The properties the finding named are required (null where they may be null).
        Assert.Superset(new HashSet<string>(["person", "context", "personPurgedAt", "assignedAgent", "declineReason", "suggestedReceiverId",
            "outcome", "closureReason", "cancelReason", "duplicateOf", "reorientedFromId", "reorientedToId", "receivedAt", "respondedAt", "closedAt"]),
            Required("Referral").ToHashSet());
        Assert.Superset(new HashSet<string>(["type", "title", "status", "detail"]), Required("ProblemDetails").ToHashSet());

        var ccas = await Ccas("03190");
        var dep = await Dep("03");
        var (sent, _) = await Send(ccas, Draft("INCOME", Person("03190")));
        HasEveryRequired("Referral", await Raw(ccas, sent.Id), "SENT");
        HasEveryRequired("Referral", await Raw(dep, sent.Id), "RECEIVED");
        foreach (var (action, body) in new (string, object)[]
        {
            ("acceptance", new { agent = Agent, assignedAgent = Agent }), ("start", new { agent = Agent }),
            ("completion", new { agent = Agent, outcome = "FILE_SUBMITTED", text = "Dossier déposé." }),
        })
        {
            var (done, _) = await Act(dep, sent.Id, action, body);
            HasEveryRequired("Referral", await Raw(dep, sent.Id), done.Status.ToString());
        }
        var (declined, _) = await Send(ccas, Draft("INCOME", Person("03190")));
        await Get(dep, declined.Id);
        await Act(dep, declined.Id, "decline", new { agent = Agent, reason = "NOT_ELIGIBLE", text = "Hors critères." });
        HasEveryRequired("Referral", await Raw(ccas, declined.Id), "DECLINED");

        var page = await (await ccas.Client(Fx).GetAsync("/v1/referrals/sent?limit=1").Ok()).Json();
        HasEveryRequired("ReferralSummary", page.GetProperty("items")[0], "in a page");
        foreach (var member in Required(Contract["paths"]!["/v1/referrals/sent"]!["get"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!["$ref"]!
            .GetValue<string>().Split('/')[^1]))
            Assert.True(page.TryGetProperty(member, out _), $"the page lacks {member}");
    }

    [Fact]
    public void Finding_2_every_member_a_problem_may_carry_is_typed_and_every_type_listed_with_its_status()
    {
        var properties = Schema("ProblemDetails")["properties"]!.AsObject();
        foreach (var member in new[] { "allowedActions", "nextReceiver", "conflictingResource", "traceId", "errors", "field", "referralStatus" })
        {
            var schema = properties[member]?.AsObject();
            Assert.True(schema is not null && (schema.ContainsKey("type") || schema.ContainsKey("allOf") || schema.ContainsKey("enum")),
                $"ProblemDetails.{member} is not typed");
        }
        var listed = Schema("ProblemDetails")["x-problem-types"]!.AsArray()
            .Select(t => (t!["type"]!.GetValue<string>().Split('/')[^1], t["status"]!.GetValue<int>())).ToHashSet();
        Assert.Superset(listed, CoordinationHub.Platform.OpenApi.ContractProblems.Types.ToHashSet());
    }

    [Fact]
    public void Finding_10_a_page_of_the_event_feed_declares_at_most_the_items_its_limit_allows()
    {
        var limit = Contract["paths"]!["/v1/events"]!["get"]!["parameters"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "limit")!;
        Assert.Equal(CoordinationHub.Platform.Http.Cursor.MaxLimit, limit["schema"]!["maximum"]!.GetValue<int>());
        Assert.Equal(CoordinationHub.Platform.Http.Cursor.MaxLimit, Schema("EventFeedPage")["properties"]!["items"]!["maxItems"]!.GetValue<int>());
    }

    [Fact]
    public async Task Finding_3_the_201_of_a_create_carries_the_Location_and_ETag_it_declares_and_If_Match_is_enforced_where_declared()
    {
        var created = Contract["paths"]!["/v1/referrals"]!["post"]!["responses"]!["201"]!["headers"]!.AsObject();
        Assert.True(created.ContainsKey("Location") && created.ContainsKey("ETag"));
        var ccas = await Ccas("03190");
        var dep = await Dep("03");
        var response = await ccas.Client(Fx).PostJson("/v1/referrals", Draft("INCOME", Person("03190"))).Ok(HttpStatusCode.Created);
        Assert.NotNull(response.Headers.Location);
        Assert.NotNull(response.Headers.ETag);
        var id = (await response.Read<CoordinationHub.Features.Referrals.ReferralDto>()).Id;
        var there = await ccas.Client(Fx).GetAsync(response.Headers.Location).Ok();
        Assert.Equal(response.Headers.ETag, there.Headers.ETag);

        // If-Match, declared required on the acceptance: 428 without it, 412 with a stale one.
        Assert.Contains(Contract["paths"]!["/v1/referrals/{id}/acceptance"]!["post"]!["parameters"]!.AsArray(),
            p => p!["name"]!.GetValue<string>() == "If-Match" && p["required"]?.GetValue<bool>() == true);
        var (_, current) = await Get(dep, id);
        await (await Post(dep, id, "acceptance", new { agent = Agent }, null)).Problem((HttpStatusCode)428, "precondition-required");
        await (await Post(dep, id, "acceptance", new { agent = Agent }, "\"1\"")).Problem(HttpStatusCode.PreconditionFailed, "precondition-failed");
        await Post(dep, id, "acceptance", new { agent = Agent }, current).Ok();

        // The intake setting declared If-Match and ignored it: it is a last-write-wins replacement, and declares none.
        var intake = Contract["paths"]!["/v1/referrals/intake/{competence}"]!["put"]!;
        Assert.DoesNotContain(intake["parameters"]?.AsArray() ?? [], p => p!["name"]!.GetValue<string>() == "If-Match");
    }
}

[Collection(SqliteCollection.Name)] public sealed class ContractFindingsTests_Sqlite(SqliteFixture f) : ContractFindingsTests(f);
[Collection(PostgresCollection.Name)] public sealed class ContractFindingsTests_Postgres(PostgresFixture f) : ContractFindingsTests(f);
