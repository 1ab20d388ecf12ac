using System.Net;
using System.Text.Json.Nodes;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Tests.Features.Referrals;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// The authorization matrix's fourth column, generated from the contract: every operation that addresses a resource an
/// organisation owns (in its path, or by a query parameter that names it) answers an unrelated organisation holding
/// every scope as for an id that does not exist (404), reads and writes alike, and changes nothing; a read declared
/// <c>x-public</c> (public by design) answers it as anyone (200), and a write on such a resource is refused 403 (it is no
/// secret): delegations, organisations (not their access settings), and signed conventions (a draft is its parties' only). An operation whose path names a resource this test does
/// not know fails it: a new kind of resource comes with its owned example here.
/// </summary>
public abstract class CrossOrganisationMatrixTests(ApiFixture fx) : ReferralTestBase(fx)
{
    private static readonly JsonNode Contract =
        JsonNode.Parse(File.ReadAllText(Path.Combine(ContractConformance.RepoRoot(), "openapi", "coordinationhub.v1.json")))!;

    /// <summary>Paths whose parameter names no organisation's resource: the referential, and the caller's own setting.</summary>
    private static readonly string[] NotOwned = ["/v1/departements/{code}/", "/v1/referrals/intake/{competence}"];

    private sealed record Operation(string Method, string Template, string Id, bool Public, JsonNode? Example);

    private static IEnumerable<Operation> Operations()
    {
        var schemas = Contract["components"]!["schemas"]!;
        foreach (var (template, item) in Contract["paths"]!.AsObject())
        foreach (var (method, definition) in item!.AsObject())
        {
            if (!template.Contains('{') || definition?["operationId"] is null) continue;
            var reference = definition["requestBody"]?["content"]?["application/json"]?["schema"]?["$ref"]?.GetValue<string>();
            yield return new Operation(method.ToUpperInvariant(), template, definition["operationId"]!.GetValue<string>(),
                definition["x-public"]?.GetValue<bool>() == true, reference is null ? null : schemas[reference.Split('/')[^1]]?["example"]);
        }
    }

    [Fact]
    public async Task Every_operation_on_another_organisation_s_resource_answers_404_as_for_no_such_id_and_changes_nothing()
    {
        var everyScope = (Guid organisation) => Fx.KeyFor(organisation, [.. Scopes.All.Where(s => s != Scopes.PlatformAdmin)]);
        var ccasParty = await Ccas("01053"); // Bourg-en-Bresse
        var depParty = await Dep("01");
        var ccas = new Party(ccasParty.Organisation, await everyScope(ccasParty.Id));
        var dep = new Party(depParty.Organisation, await everyScope(depParty.Id));
        var stranger = await Ccas((await AnotherCommune("01", "01053")).Code!);
        var other = Fx.Client(await everyScope(stranger.Id));

        // One resource of each kind, owned by the CCAS or the département (or both, as parties).
        var (referral, _) = await Send(ccas, Draft("INCOME", Person("01053")));
        var subscription = (await (await ccas.Client(Fx).PostJson("/v1/webhook-subscriptions",
            new { url = "http://127.0.0.1:9/matrix", eventTypes = new[] { "*" }, description = "matrix" }).Ok(HttpStatusCode.Created)).Json()).GetProperty("id").GetGuid();
        var draft = await SignedConvention([dep, ccas], ["RSA_INSTRUCTION"], new { departementCodes = new[] { "01" } }, Jan2026, Dec2028, sign: false);
        var signed = await SignedConvention([dep, ccas], ["RSA_INSTRUCTION"], new { departementCodes = new[] { "01" } }, Jan2026, Dec2028);
        var delegation = (await (await dep.Client(Fx).PostJson("/v1/delegations",
            Delegation(dep, ccas, "RSA_INSTRUCTION", signed, new { communeIds = new[] { ccas.Organisation.CommuneId } }, Jan2026, Dec2028))
            .Ok(HttpStatusCode.Created)).Json()).GetProperty("id").GetGuid();
        var import = (await (await dep.Client(Fx).PostAsync("/v1/imports/delegations?dryRun=true&allowEmpty=true",
            new StringContent("", System.Text.Encoding.UTF8, "application/x-ndjson"))).Json()).GetProperty("id").GetGuid();
        var apiKey = (await (await ccas.Client(Fx).PostJson("/v1/api-keys", new { label = "matrix", scopes = new[] { Scopes.ReferralsRead } })
            .Ok(HttpStatusCode.Created)).Json()).GetProperty("apiKey").GetProperty("id").GetGuid();
        var owned = new Dictionary<string, Guid>
        {
            ["/v1/api-keys/{id}"] = apiKey, ["/v1/organisations/{id}/access"] = ccas.Id,
            ["/v1/referrals/{id}"] = referral.Id, ["/v1/webhook-subscriptions/{id}"] = subscription, ["/v1/conventions/{id}"] = draft,
            ["/v1/delegations/{id}"] = delegation, ["/v1/organisations/{id}"] = ccas.Id, ["/v1/imports/{id}"] = import,
        };

        // Paths whose read is public by design: a write there is refused 403 (the resource is no secret), not 404.
        var publicPaths = Operations().Where(o => o.Public && o.Method == "GET").Select(o => o.Template).ToHashSet();
        var results = new List<string>();
        var failures = new List<string>();
        async Task<HttpResponseMessage> Attempt(Operation op, string url)
        {
            using var request = new HttpRequestMessage(new HttpMethod(op.Method), url);
            if (op.Method != "GET" && op.Method != "DELETE")
                request.Content = new StringContent(op.Example?.ToJsonString() ?? "{}", System.Text.Encoding.UTF8, "application/json");
            request.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
            return await other.SendAsync(request);
        }
        async Task Check(Operation op, string url, HttpStatusCode expected)
        {
            var response = await Attempt(op, url);
            results.Add($"{op.Id} {op.Method} {op.Template} → {(int)response.StatusCode}");
            // A body refused before the resource is looked up (an example's date now past…) answers alike for no such id.
            if (response.StatusCode == HttpStatusCode.UnprocessableEntity && expected == HttpStatusCode.NotFound
                && await SameAsForNoSuchId(op, url, response)) return;
            if (response.StatusCode != expected)
                failures.Add($"{op.Id} ({op.Method} {url}) → {(int)response.StatusCode} to an unrelated organisation, not {(int)expected}");
        }
        async Task<bool> SameAsForNoSuchId(Operation op, string url, HttpResponseMessage answer)
        {
            var unknown = System.Text.RegularExpressions.Regex.Replace(url, "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                _ => Guid.CreateVersion7().ToString());
            var control = await Attempt(op, unknown);
            return control.StatusCode == answer.StatusCode
                && (await control.Json()).GetProperty("type").GetString() == (await answer.Json()).GetProperty("type").GetString();
        }
        foreach (var op in Operations())
        {
            if (NotOwned.Any(n => op.Template.StartsWith(n, StringComparison.Ordinal))) continue;
            var prefix = owned.Keys.Where(k => op.Template == k || op.Template.StartsWith(k + "/", StringComparison.Ordinal)).MaxBy(k => k.Length);
            if (prefix is null)
            {
                failures.Add($"{op.Id} ({op.Method} {op.Template}): no owned resource known for this path: add one to the matrix");
                continue;
            }
            var url = System.Text.RegularExpressions.Regex.Replace(op.Template.Replace("{id}", owned[prefix].ToString()), @"\{[^}]+\}", Guid.CreateVersion7().ToString());
            await Check(op, url, op.Public && op.Method == "GET" ? HttpStatusCode.OK
                : publicPaths.Contains(prefix) ? HttpStatusCode.Forbidden : HttpStatusCode.NotFound);
            // A signed convention is public too (a draft is its parties' only): read as anyone, written by its parties only.
            if (prefix == "/v1/conventions/{id}")
                await Check(op, url.Replace(draft.ToString(), signed.ToString()), op.Method == "GET" ? HttpStatusCode.OK : HttpStatusCode.Forbidden);
        }
        Assert.True(results.Count >= 45, $"only {results.Count} operations checked");
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        // Query parameters that name an owned resource: its audit trail, a département's reconciliation.
        // The audit trail is its parties' only, even of a public resource: every kind the contract lists.
        var auditOf = new Dictionary<string, Guid> { ["convention"] = signed, ["delegation"] = delegation };
        var kinds = Contract["paths"]!["/v1/audit-events"]!["get"]!["parameters"]!.AsArray()
            .Single(p => p!["name"]!.GetValue<string>() == "resourceType")!["schema"]!["enum"]!.AsArray().Select(k => k!.GetValue<string>()).ToList();
        foreach (var kind in kinds)
        {
            Assert.True(auditOf.ContainsKey(kind), $"no owned {kind} for the audit trail: add one to the matrix");
            var audit = await other.GetAsync($"/v1/audit-events?resourceType={kind}&resourceId={auditOf[kind]}");
            Assert.True(audit.StatusCode == HttpStatusCode.NotFound, $"the audit of another's {kind}: {(int)audit.StatusCode}");
            await dep.Client(Fx).GetAsync($"/v1/audit-events?resourceType={kind}&resourceId={auditOf[kind]}").Ok();
        }
        var reconciliation = await other.GetAsync("/v1/imports/reconciliation?departement=01");
        Assert.True(reconciliation.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden, $"another's reconciliation: {(int)reconciliation.StatusCode}");

        // Nothing changed, and the owners still read what is theirs.
        var (after, _) = await Get(ccas, referral.Id);
        Assert.Equal(referral.Status, after.Status);
        await ccas.Client(Fx).GetAsync($"/v1/webhook-subscriptions/{subscription}").Ok();
        await dep.Client(Fx).GetAsync($"/v1/conventions/{draft}").Ok();
        await ccas.Client(Fx).GetAsync($"/v1/api-keys/{apiKey}").Ok();
    }
}

[Collection(SqliteCollection.Name)] public sealed class CrossOrganisationMatrixTests_Sqlite(SqliteFixture f) : CrossOrganisationMatrixTests(f);
[Collection(PostgresCollection.Name)] public sealed class CrossOrganisationMatrixTests_Postgres(PostgresFixture f) : CrossOrganisationMatrixTests(f);
