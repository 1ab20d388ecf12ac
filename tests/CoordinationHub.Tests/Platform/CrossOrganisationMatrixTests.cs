using System.Net;
using System.Text.Json.Nodes;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Tests.Features.Referrals;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// The authorization matrix's fourth column, generated from the contract for the private resources: every read or
/// delete under a referral or a webhook subscription answers 404 to an unrelated organisation holding every scope,
/// as for an id that does not exist; a read declared <c>x-public</c> (public by design) answers it as to anyone.
/// </summary>
public abstract class CrossOrganisationMatrixTests(ApiFixture fx) : ReferralTestBase(fx)
{
    private static IEnumerable<(string Method, string Template, string Id)> Operations(string prefix, bool publicOnly = false)
    {
        var contract = JsonNode.Parse(File.ReadAllText(Path.Combine(ContractConformance.RepoRoot(), "openapi", "coordinationhub.v1.json")))!;
        foreach (var (template, item) in contract["paths"]!.AsObject())
        foreach (var (method, definition) in item!.AsObject())
            if (template.StartsWith(prefix, StringComparison.Ordinal) && method is "get" or "delete"
                && (definition!["x-public"]?.GetValue<bool>() == true) == publicOnly)
                yield return (method.ToUpperInvariant(), template, definition!["operationId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Every_read_of_another_organisation_s_referral_or_subscription_answers_404_as_for_no_such_id()
    {
        var ccas = await Ccas("01053"); // Bourg-en-Bresse
        var (referral, _) = await Send(ccas, Draft("INCOME", Person("01053")));
        var stranger = await Ccas((await AnotherCommune("01", "01053")).Code!);
        var owner = ccas.Client(Fx);
        owner.DefaultRequestHeaders.Authorization = new("Bearer", await Fx.KeyFor(ccas.Id, [.. Scopes.All.Where(s => s != Scopes.PlatformAdmin)]));
        var subscription = await (await owner.PostJson("/v1/webhook-subscriptions",
            new { url = "http://127.0.0.1:9/matrix", eventTypes = new[] { "*" }, description = "matrix" }).Ok(HttpStatusCode.Created)).Json();
        var everyScope = Fx.Client(await Fx.KeyFor(stranger.Organisation.Id, [.. Scopes.All.Where(s => s != Scopes.PlatformAdmin)]));

        var failures = new List<string>();
        var checkedOperations = 0;
        foreach (var (prefix, id) in new[] { ("/v1/referrals/{id}", referral.Id), ("/v1/webhook-subscriptions/{id}", subscription.GetProperty("id").GetGuid()) })
        foreach (var (method, template, operation) in Operations(prefix))
        {
            var url = System.Text.RegularExpressions.Regex.Replace(template.Replace("{id}", id.ToString()), @"\{[^}]+\}", Guid.CreateVersion7().ToString());
            var response = await everyScope.SendAsync(new HttpRequestMessage(new HttpMethod(method), url));
            checkedOperations++;
            if (response.StatusCode != HttpStatusCode.NotFound)
                failures.Add($"{operation} ({method} {url}) → {(int)response.StatusCode} to an unrelated organisation, not 404");
        }
        Assert.True(checkedOperations >= 8, $"only {checkedOperations} operations checked");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        // Public by design (x-public): the stranger reads the owner's organisation as anyone does.
        var publicReads = 0;
        foreach (var (method, template, operation) in Operations("/v1/organisations/{id}", publicOnly: true))
        {
            var response = await everyScope.GetAsync(template.Replace("{id}", ccas.Id.ToString()));
            publicReads++;
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{operation} is x-public but answered {(int)response.StatusCode} to another organisation");
        }
        Assert.True(publicReads >= 1, "no x-public operation under /v1/organisations/{id}");
        // The owner still reads both: the 404 was the stranger's.
        await owner.GetAsync($"/v1/referrals/{referral.Id}").Ok();
        await owner.GetAsync($"/v1/webhook-subscriptions/{subscription.GetProperty("id").GetGuid()}").Ok();
    }
}

[Collection(SqliteCollection.Name)] public sealed class CrossOrganisationMatrixTests_Sqlite(SqliteFixture f) : CrossOrganisationMatrixTests(f);
[Collection(PostgresCollection.Name)] public sealed class CrossOrganisationMatrixTests_Postgres(PostgresFixture f) : CrossOrganisationMatrixTests(f);
