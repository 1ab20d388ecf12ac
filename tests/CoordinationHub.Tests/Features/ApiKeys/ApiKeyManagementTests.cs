using System.Net;
using System.Net.Http.Json;
using CoordinationHub.Features.ApiKeys;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Http;
using CoordinationHub.Tests.Platform;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Features.ApiKeys;

/// <summary>
/// Organisations run their own keys through /v1/api-keys; keys expire; every instance applies a change or an expiry
/// within a second, and keeps answering known keys from its cache while its database cannot be reached.
/// </summary>
public abstract class ApiKeyManagementTests(ApiFixture fx) : ApiTests(fx)
{
    private const string Probe = "/v1/organisations?limit=1";

    private static Task<HttpResponseMessage> Patch(HttpClient client, string url, object body, string etag)
    {
        var request = new HttpRequestMessage(HttpMethod.Patch, url) { Content = JsonContent.Create(body, options: ApiFixture.Json) };
        request.Headers.TryAddWithoutValidation("If-Match", etag);
        return client.SendAsync(request);
    }

    private async Task<ApiKeySecretDto> Create(HttpClient client, object draft) =>
        await (await client.PostJson("/v1/api-keys", draft).Ok(HttpStatusCode.Created)).Read<ApiKeySecretDto>();

    [Fact]
    public async Task An_organisations_administrator_key_creates_scopes_rotates_and_revokes_its_own_keys_and_every_change_is_audited()
    {
        var nord = await Departement("59");
        var pas = await Departement("62");
        // The platform administrator delegates: a key of the département holding api-keys:manage.
        var created = await Fx.Admin().PostJson("/v1/api-keys", new
        {
            label = "DSI du Nord", scopes = new[] { Scopes.ApiKeysManage, Scopes.DirectoryRead, Scopes.ReferralsRead }, organisationId = nord.Id,
        }).Ok(HttpStatusCode.Created);
        Assert.Equal("no-store", created.Headers.CacheControl?.ToString());
        var admin = Fx.Client((await created.Read<ApiKeySecretDto>()).Key);

        var software = await Create(admin, new { label = "logiciel RSA", scopes = new[] { Scopes.DirectoryRead }, expiresAt = TestClock.Today.AddDays(90) });
        Assert.StartsWith("chk_", software.Key);
        Assert.Equal(nord.Id, software.ApiKey.OrganisationId);
        await Fx.Client(software.Key).GetAsync(Probe).Ok();

        // What it may not do: grant a scope it does not hold, grant the platform's, make keys of another organisation.
        await (await admin.PostJson("/v1/api-keys", new { label = "x", scopes = new[] { Scopes.ReferralsWrite } }))
            .Problem(HttpStatusCode.UnprocessableEntity, "api-keys.scope-not-held");
        await (await admin.PostJson("/v1/api-keys", new { label = "x", scopes = new[] { Scopes.PlatformAdmin } }))
            .Problem(HttpStatusCode.UnprocessableEntity, "api-keys.unknown-scope");
        await (await admin.PostJson("/v1/api-keys", new { label = "x", scopes = new[] { Scopes.DirectoryRead }, organisationId = pas.Id }))
            .Problem(HttpStatusCode.Forbidden, "forbidden");
        await (await admin.PostJson("/v1/api-keys", new { label = "x", scopes = new[] { Scopes.DirectoryRead }, expiresAt = TestClock.Today.AddDays(-1) }))
            .Problem(HttpStatusCode.UnprocessableEntity, "api-keys.expiry-past");

        var listed = await (await admin.GetAsync("/v1/api-keys?limit=100").Ok()).Read<PageResponse<ApiKeyDto>>();
        Assert.Contains(listed.Items, k => k.Id == software.ApiKey.Id && k.Label == "logiciel RSA");
        Assert.All(listed.Items, k => Assert.Equal(nord.Id, k.OrganisationId));
        Assert.DoesNotContain(software.Key, await (await admin.GetAsync("/v1/api-keys?limit=100")).Content.ReadAsStringAsync());

        // Rescoped: the key loses directory:read at once.
        var get = await admin.GetAsync($"/v1/api-keys/{software.ApiKey.Id}").Ok();
        await Patch(admin, $"/v1/api-keys/{software.ApiKey.Id}", new { scopes = new[] { Scopes.ReferralsRead } }, get.Headers.ETag!.Tag).Ok();
        await (await Fx.Client(software.Key).GetAsync(Probe)).Problem(HttpStatusCode.Forbidden, "insufficient-scope");
        await Patch(admin, $"/v1/api-keys/{software.ApiKey.Id}", new { scopes = new[] { Scopes.DirectoryRead } }, "\"1\"").Ok();

        // Rotated: the new secret works, the old one no longer.
        var rotated = await (await admin.PostAsync($"/v1/api-keys/{software.ApiKey.Id}/rotation", null).Ok()).Read<ApiKeySecretDto>();
        await Fx.Client(rotated.Key).GetAsync(Probe).Ok();
        await (await Fx.Client(software.Key).GetAsync(Probe)).Problem(HttpStatusCode.Unauthorized, "unauthenticated");

        // Another organisation's administrator does not see it, let alone revoke it.
        var pasAdmin = Fx.Client((await Create(Fx.Admin(), new { label = "DSI", scopes = new[] { Scopes.ApiKeysManage }, organisationId = pas.Id })).Key);
        await (await pasAdmin.GetAsync($"/v1/api-keys/{software.ApiKey.Id}")).Problem(HttpStatusCode.NotFound, "not-found");
        await (await pasAdmin.DeleteAsync($"/v1/api-keys/{software.ApiKey.Id}")).Problem(HttpStatusCode.NotFound, "not-found");
        await (await pasAdmin.GetAsync($"/v1/api-keys?organisationId={nord.Id}")).Problem(HttpStatusCode.Forbidden, "forbidden");
        await Fx.Client(rotated.Key).GetAsync(Probe).Ok();

        var revoked = await (await admin.DeleteAsync($"/v1/api-keys/{software.ApiKey.Id}").Ok()).Read<ApiKeyDto>();
        Assert.NotNull(revoked.RevokedAt);
        await (await Fx.Client(rotated.Key).GetAsync(Probe)).Problem(HttpStatusCode.Unauthorized, "unauthenticated");
        await (await admin.PostAsync($"/v1/api-keys/{software.ApiKey.Id}/rotation", null)).Problem(HttpStatusCode.Conflict, "api-keys.revoked");

        await using var c = await Fx.Db.OpenAsync(default);
        var audited = (await c.QueryAsync<string>(Fx.Db.Command(
            "SELECT action FROM audit_event WHERE resource_type = 'api_key' AND resource_id = @id ORDER BY occurred_at, id",
            new { id = software.ApiKey.Id }, default))).ToList();
        Assert.Equal(["api-key.created", "api-key.changed", "api-key.changed", "api-key.rotated", "api-key.revoked"], audited);
        Assert.DoesNotContain(software.Key[4..20], string.Join("", await c.QueryAsync<string>(Fx.Db.Command(
            "SELECT after_state FROM audit_event WHERE resource_id = @id", new { id = software.ApiKey.Id }, default))));
    }

    private KeyInstance Start() => KeyInstance.Start(Fx);

    [Fact]
    public async Task A_key_warns_in_its_last_14_days_once_by_event_and_stops_at_its_expiry_on_every_instance()
    {
        var pau = await Commune("64445");
        await using var first = Start();
        await using var second = Start();
        var expires = TestClock.Today.AddDays(20);
        var (id, key) = await first.Store.CreateAsync(pau.Id, "expiring", [Scopes.DirectoryRead], false, default, expires);
        var answer = await second.Client(key).GetAsync(Probe).Ok();
        Assert.False(answer.Headers.Contains(ApiKeyExpiry.Header), "20 days before its expiry the key is not warned of yet");

        second.Advance(TimeSpan.FromDays(7));
        answer = await second.Client(key).GetAsync(Probe).Ok();
        Assert.Equal(expires.ToString("R"), answer.Headers.GetValues(ApiKeyExpiry.Header).Single());
        var expiry = second.Host.Services.GetRequiredService<ApiKeyExpiry>();
        Assert.Equal(1, await expiry.WarnAsync(default));
        Assert.Equal(0, await first.Host.Services.GetRequiredService<ApiKeyExpiry>().WarnAsync(default)); // once, whichever instance
        await using (var c = await Fx.Db.OpenAsync(default))
            Assert.Equal(1, await c.ExecuteScalarAsync<int>(Fx.Db.Command(
                "SELECT COUNT(*) FROM outbox_event WHERE event_type = 'api-key.expiring' AND resource_id = @id", new { id }, default)));

        // At its expiry, both instances refuse it, from their caches: no database needed.
        await first.Client(key).GetAsync(Probe).Ok();
        foreach (var instance in new[] { first, second })
        {
            instance.Clock.Set(expires);
            await (await instance.Client(key).GetAsync(Probe)).Problem(HttpStatusCode.Unauthorized, "unauthenticated");
        }

        // An expiry moved earlier on one instance reaches the other within a second.
        var (otherId, other) = await first.Store.CreateAsync(pau.Id, "shortened", [Scopes.DirectoryRead, Scopes.ApiKeysManage], false, default,
            expires.AddDays(30));
        await second.Client(other).GetAsync(Probe).Ok();
        var etag = (await first.Client(other).GetAsync($"/v1/api-keys/{otherId}").Ok()).Headers.ETag!.Tag;
        await Patch(first.Client(other), $"/v1/api-keys/{otherId}", new { expiresAt = expires.AddHours(1) }, etag).Ok();
        second.Advance(ApiKeyStore.RevocationsCheckedEvery);
        await second.Client(other).GetAsync(Probe).Ok(); // the change is seen; the new expiry is an hour away
        second.Advance(TimeSpan.FromHours(1));
        await (await second.Client(other).GetAsync(Probe)).Problem(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task While_its_database_is_unreachable_an_instance_answers_known_keys_and_a_revocation_made_meanwhile_applies_once_it_is_back()
    {
        var pau = await Commune("64445");
        await using var instance = Start();
        var store = Fx.Services.GetRequiredService<ApiKeyStore>(); // another instance, whose database is up
        var (revokedId, revoked) = await store.CreateAsync(pau.Id, "revoked during the outage", [Scopes.DirectoryRead], false, default);
        var (_, kept) = await store.CreateAsync(pau.Id, "kept", [Scopes.DirectoryRead], false, default);
        await instance.Client(revoked).GetAsync(Probe).Ok();
        await instance.Client(kept).GetAsync(Probe).Ok();

        instance.Store.OutageForTests = () => new TimeoutException("the database does not answer");
        // Long past the cache's 30 s: the entries have aged, and still answer.
        instance.Advance(ApiKeyStore.CacheFor + TimeSpan.FromSeconds(5));
        await instance.Client(revoked).GetAsync(Probe).Ok();
        Assert.True(await store.RevokeAsync(revokedId, default));
        instance.Advance(TimeSpan.FromSeconds(5));
        await instance.Client(kept).GetAsync(Probe).Ok();

        instance.Store.OutageForTests = null; // back
        instance.Advance(ApiKeyStore.RevocationsCheckedEvery);
        var response = await instance.Client(revoked).GetAsync(Probe);
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized,
            $"A key revoked during the outage still answers {(int)response.StatusCode} a second after the database is back");
        await instance.Client(kept).GetAsync(Probe).Ok();
    }
}

[Collection(SqliteCollection.Name)]
public sealed class ApiKeyManagementTests_Sqlite(SqliteFixture f) : ApiKeyManagementTests(f);

[Collection(PostgresCollection.Name)]
public sealed class ApiKeyManagementTests_Postgres(PostgresFixture f) : ApiKeyManagementTests(f);
