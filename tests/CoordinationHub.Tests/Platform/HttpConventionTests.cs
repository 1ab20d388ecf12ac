using System.Net;
using System.Net.Http.Headers;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Platform;

public abstract class HttpConventionTests(ApiFixture fx) : ApiTests(fx)
{
    [Fact]
    public async Task Without_a_key_the_API_answers_401_with_a_Bearer_challenge()
    {
        var response = await Fx.Client().GetAsync("/v1/organisations");
        await response.Problem(HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Theory]
    [InlineData("chk_not-a-real-key")]
    [InlineData("something-else")]
    public async Task An_unknown_key_is_401(string key)
    {
        var problem = await (await Fx.Client(key).GetAsync("/v1/organisations")).Problem(HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Contains("unknown or revoked", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_non_bearer_authorization_header_is_401()
    {
        var client = Fx.Client();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", "dXNlcjpwYXNz");
        await (await client.GetAsync("/v1/organisations")).Problem(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task A_revoked_key_stops_working_at_once()
    {
        var commune = await Commune("62041");
        var (id, key) = await Fx.Services.GetRequiredService<ApiKeyStore>().CreateAsync(commune.Id, "to revoke", [Scopes.DirectoryRead], false, default);
        await Fx.Client(key).GetAsync("/v1/organisations?limit=1").Ok();
        Assert.True(await Fx.Services.GetRequiredService<ApiKeyStore>().RevokeAsync(id, default));
        await (await Fx.Client(key).GetAsync("/v1/organisations?limit=1")).Problem(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task A_key_without_the_scope_is_403_naming_the_scope()
    {
        var commune = await Commune("62041");
        var key = await Fx.KeyFor(commune.Id, Scopes.DirectoryRead);
        var problem = await (await Fx.Client(key).PostJson("/v1/organisations", new { kind = "CCAS", name = "x", communeId = commune.Id }))
            .Problem(HttpStatusCode.Forbidden, "insufficient-scope");
        Assert.Contains("directory:write", problem.GetProperty("detail").GetString());

        var noRead = await Fx.KeyFor(commune.Id, Scopes.ReferralsRead);
        await (await Fx.Client(noRead).GetAsync("/v1/organisations")).Problem(HttpStatusCode.Forbidden, "insufficient-scope");
    }

    [Fact]
    public async Task Keys_are_stored_only_as_hashes_and_record_their_last_use()
    {
        var commune = await Commune("62041");
        var (id, key) = await Fx.Services.GetRequiredService<ApiKeyStore>().CreateAsync(commune.Id, "hash check", [Scopes.DirectoryRead], false, default);
        Assert.StartsWith("chk_", key);
        Assert.True(key.Length >= 4 + 43, "256 random bits, base64url");
        await Fx.Client(key).GetAsync("/v1/organisations?limit=1").Ok();

        await using var c = await Fx.Db.OpenAsync(default);
        var stored = await c.QuerySingleAsync<string>(Fx.Db.Command("SELECT key_hash FROM api_key WHERE id = @id", new { id }, default));
        Assert.Equal(ApiKeyStore.Hash(key), stored.Trim());
        var everything = string.Join("|", (await c.QueryAsync(Fx.Db.Command("SELECT * FROM api_key WHERE id = @id", new { id }, default))).Single());
        Assert.DoesNotContain(key, everything);
        // The last use is recorded in the background (no request waits for it): it shows within seconds.
        var store = Fx.Services.GetRequiredService<ApiKeyStore>();
        var until = DateTime.UtcNow.AddSeconds(10);
        while ((await store.ListAsync(default)).Single(k => k.Id == id).LastUsedAt is null && DateTime.UtcNow < until) await Task.Delay(20);
        Assert.NotNull((await store.ListAsync(default)).Single(k => k.Id == id).LastUsedAt);
    }

    [Fact]
    public async Task A_request_does_not_wait_for_its_key_last_use_to_be_written()
    {
        var commune = await Commune("62041");
        var (id, key) = await Fx.Services.GetRequiredService<ApiKeyStore>().CreateAsync(commune.Id, "busy writer", [Scopes.DirectoryRead], false, default);
        var db = Fx.Services.GetRequiredService<Db>();
        var (held, release) = (new TaskCompletionSource(), new TaskCompletionSource());
        // A write holds the key's row (PostgreSQL) and the one writer (SQLite), as a bulk push holds it for seconds.
        var writing = db.InTransactionAsync(async (c, tx, t) =>
        {
            await c.ExecuteAsync(db.Command("UPDATE api_key SET name = name WHERE id = @id", new { id }, t, tx));
            held.SetResult();
            await release.Task;
            return 0;
        }, default).AsTask();
        await held.Task;
        try
        {
            // The key's first use is recorded; the answer does not wait for that write.
            await Fx.Client(key).GetAsync("/v1/organisations?limit=1").WaitAsync(TimeSpan.FromSeconds(10)).Ok();
        }
        finally
        {
            release.SetResult();
            await writing;
        }
    }

    [Fact]
    public async Task Malformed_JSON_is_400_saying_so()
    {
        var problem = await (await Fx.Admin().PostRaw("/v1/organisations", "{\"kind\": \"CCAS\", ")).Problem(HttpStatusCode.BadRequest, "malformed-json");
        Assert.DoesNotContain("CoordinationHub.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task An_unknown_enum_value_is_400_listing_the_allowed_values()
    {
        var problem = await (await Fx.Admin().PostRaw("/v1/organisations", """{"kind":"MAIRIE","name":"x"}""")).Problem(HttpStatusCode.BadRequest, "malformed-json");
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("$.kind", detail);
        Assert.Contains("CCAS", detail);
        Assert.Contains("PARTNER", detail);
    }

    [Fact]
    public async Task A_wrong_content_type_is_415()
    {
        await (await Fx.Admin().PostRaw("/v1/organisations", "kind=CCAS", "application/x-www-form-urlencoded")).Problem(HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Fact]
    public async Task An_oversize_body_is_413_and_nothing_is_written()
    {
        var before = await CountOrganisations();
        var huge = new string('x', 70_000);
        var response = await Fx.Admin().PostJson("/v1/organisations", new { kind = "PARTNER", name = "Big", partnerCategory = "OTHER", address = huge });
        await response.Problem(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        Assert.Equal(before, await CountOrganisations());
    }

    [Theory]
    [InlineData("/v1/organisations?cursor=not-a-cursor", "invalid-cursor")]
    [InlineData("/v1/organisations?cursor=WyJhIl0", "invalid-cursor")]
    [InlineData("/v1/organisations?cursor=WyJhIiwiYiJd", "invalid-cursor")]
    [InlineData("/v1/delegations?cursor=WyJhIl0", "invalid-cursor")]
    [InlineData("/v1/conventions?cursor=WyJhIl0", "invalid-cursor")]
    [InlineData("/v1/organisations?limit=0", "validation")]
    [InlineData("/v1/organisations?limit=501", "validation")]
    [InlineData("/v1/organisations?departement=999999", "validation")]
    [InlineData("/v1/organisations?kind=VILLE", "validation")]
    [InlineData("/v1/organisations?active=perhaps", "validation")]
    public async Task Bad_query_parameters_are_400(string url, string type)
    {
        await (await Fx.Admin().GetAsync(url)).Problem(HttpStatusCode.BadRequest, type);
    }

    [Fact]
    public async Task Unknown_routes_and_methods_answer_problem_details()
    {
        await (await Fx.Admin().GetAsync("/v1/nothing-here")).Problem(HttpStatusCode.NotFound, "not-found");
        await (await Fx.Admin().DeleteAsync("/v1/organisations")).Problem(HttpStatusCode.MethodNotAllowed, "method-not-allowed");
    }

    [Fact]
    public async Task The_same_idempotency_key_and_body_replays_the_first_response()
    {
        var key = Guid.NewGuid().ToString();
        var body = new { kind = "PARTNER", name = "Mission locale du Cambrésis", partnerCategory = "MISSION_LOCALE", departementCode = "59", siret = NewSiret() };
        var first = await Fx.Admin().PostJson("/v1/organisations", body, key).Ok(HttpStatusCode.Created);
        var second = await Fx.Admin().PostJson("/v1/organisations", body, key).Ok(HttpStatusCode.Created);

        Assert.Equal((await first.Read<OrganisationDto>()).Id, (await second.Read<OrganisationDto>()).Id);
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        Assert.True(second.Headers.Contains("Idempotent-Replayed"));
        // The replay carries the ETag the first answer carried (it came without one, which If-Match then lacked).
        Assert.NotNull(first.Headers.ETag);
        Assert.Equal(first.Headers.ETag, second.Headers.ETag);
        var matches = await (await Fx.Admin().GetAsync("/v1/organisations?kind=PARTNER&q=mission%20locale%20du%20cambresis").Ok()).Read<CoordinationHub.Platform.Http.PageResponse<OrganisationDto>>();
        Assert.Single(matches.Items);
    }

    [Fact]
    public async Task The_same_idempotency_key_with_another_body_is_422()
    {
        var key = Guid.NewGuid().ToString();
        await Fx.Admin().PostJson("/v1/organisations", new { kind = "PARTNER", name = "Épicerie solidaire A", partnerCategory = "ASSOCIATION" }, key).Ok(HttpStatusCode.Created);
        var other = await Fx.Admin().PostJson("/v1/organisations", new { kind = "PARTNER", name = "Épicerie solidaire B", partnerCategory = "ASSOCIATION" }, key);
        await other.Problem(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
    }

    [Fact]
    public async Task A_refused_request_does_not_burn_its_idempotency_key()
    {
        var key = Guid.NewGuid().ToString();
        var commune = await Commune("62041");
        var ccasKey = await Fx.KeyFor(commune.Id, Scopes.DirectoryWrite);
        // Refused (403): nothing was done, so no response is kept and the key may carry another request.
        await (await Fx.Client(ccasKey).PostJson("/v1/organisations", new { kind = "PARTNER", name = "Secours local", partnerCategory = "ASSOCIATION" }, key)).Problem(HttpStatusCode.Forbidden);
        await using (var c = await Fx.Db.OpenAsync(default))
            Assert.Equal(0, await c.ExecuteScalarAsync<long>(Fx.Db.Command("SELECT COUNT(*) FROM idempotency_record WHERE idempotency_key = @key", new { key }, default)));
        await (await Fx.Client(ccasKey).PostJson("/v1/organisations", new { kind = "CCAS", name = "CCAS d'Arras (bis)", communeId = Guid.CreateVersion7() }, key))
            .Problem(HttpStatusCode.UnprocessableEntity, "directory.commune-required");
    }

    [Fact]
    public async Task Health_endpoints_answer_without_a_key()
    {
        await Fx.Client().GetAsync("/health/live").Ok();
        await Fx.Client().GetAsync("/health/ready").Ok();
    }

    [Fact]
    public async Task A_database_that_is_down_answers_503_with_Retry_After()
    {
        await using var down = Fx.CreateFactory(Fx.UnreachableConnectionString, startupTasks: false);
        var client = down.CreateDefaultClient(new ContractConformance.Handler());
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Fx.AdminKey);
        var response = await client.GetAsync("/v1/organisations");
        await response.Problem(HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health/ready")).StatusCode);
    }

    private async Task<long> CountOrganisations()
    {
        await using var c = await Fx.Db.OpenAsync(default);
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM organisation");
    }
}

[Collection(SqliteCollection.Name)] public sealed class HttpConventionTests_Sqlite(SqliteFixture f) : HttpConventionTests(f);
[Collection(PostgresCollection.Name)] public sealed class HttpConventionTests_Postgres(PostgresFixture f) : HttpConventionTests(f);
