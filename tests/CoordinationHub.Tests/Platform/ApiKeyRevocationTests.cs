using System.Net;
using CoordinationHub.Platform.Auth;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// A key revoked by <c>apikeys revoke</c> (another process) or on another instance kept working for 30 s on an instance
/// that had cached it (issue 23, finding 10). Two hosts over one database, each on a clock of its own, frozen: the
/// test moves the clock, never sleeps.
/// </summary>
public abstract class ApiKeyRevocationTests(ApiFixture fx) : ApiTests(fx)
{
    private KeyInstance Start() => KeyInstance.Start(Fx);

    [Fact]
    public async Task A_key_revoked_on_another_instance_is_refused_by_every_instance_that_cached_it_within_a_second()
    {
        var pau = await Commune("64445");
        await using var first = Start();
        await using var second = Start();
        var (id, key) = await first.Host.Services.GetRequiredService<ApiKeyStore>()
            .CreateAsync(pau.Id, "revoked elsewhere", [Scopes.DirectoryRead], false, default);
        // Both instances have seen the key and cached it.
        await first.Client(key).GetAsync("/v1/organisations?limit=1").Ok();
        await second.Client(key).GetAsync("/v1/organisations?limit=1").Ok();

        Assert.True(await first.Host.Services.GetRequiredService<ApiKeyStore>().RevokeAsync(id, default));
        await (await first.Client(key).GetAsync("/v1/organisations?limit=1")).Problem(HttpStatusCode.Unauthorized, "unauthenticated");

        // The other instance's clock moves by the bound: the revocation has reached it.
        second.Clock.Set(second.Clock.GetUtcNow() + ApiKeyStore.RevocationsCheckedEvery);
        var response = await second.Client(key).GetAsync("/v1/organisations?limit=1");
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized,
            $"A key revoked {ApiKeyStore.RevocationsCheckedEvery.TotalSeconds} s ago on another instance still answers "
            + $"{(int)response.StatusCode}");
        Assert.True(ApiKeyStore.RevocationsCheckedEvery <= TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task A_key_revoked_by_another_process_is_refused_once_a_second_has_passed_and_other_keys_keep_working()
    {
        var pau = await Commune("64445");
        await using var instance = Start();
        var store = Fx.Services.GetRequiredService<ApiKeyStore>(); // the fixture's host: another process, for this one
        var (id, key) = await store.CreateAsync(pau.Id, "revoked by the verb", [Scopes.DirectoryRead], false, default);
        var (_, other) = await store.CreateAsync(pau.Id, "kept", [Scopes.DirectoryRead], false, default);
        await instance.Client(key).GetAsync("/v1/organisations?limit=1").Ok();
        await instance.Client(other).GetAsync("/v1/organisations?limit=1").Ok();

        Assert.True(await store.RevokeAsync(id, default));
        for (var elapsed = 0; elapsed < 10; elapsed++)
        {
            instance.Clock.Set(instance.Clock.GetUtcNow().AddMilliseconds(250));
            var response = await instance.Client(key).GetAsync("/v1/organisations?limit=1");
            if (elapsed >= 3)
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized,
                    $"{(elapsed + 1) * 250} ms after the revocation the key still answers {(int)response.StatusCode}");
        }
        await instance.Client(other).GetAsync("/v1/organisations?limit=1").Ok();
    }
}

[Collection(SqliteCollection.Name)]
public sealed class ApiKeyRevocationTests_Sqlite(SqliteFixture f) : ApiKeyRevocationTests(f);

[Collection(PostgresCollection.Name)]
public sealed class ApiKeyRevocationTests_Postgres(PostgresFixture f) : ApiKeyRevocationTests(f);
