using System.Diagnostics;
using System.Net;
using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Tests.Features.Delegations;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace CoordinationHub.Tests.Features.CompetenceMap;

/// <summary>The map while it changes: read-your-writes, dated holders by law, several instances.</summary>
public abstract class LiveMapTests(ApiFixture fx) : DelegationTestBase(fx)
{
    private static readonly string[] AllScopes =
        [Scopes.DirectoryRead, Scopes.DirectoryWrite, Scopes.ConventionsRead, Scopes.ConventionsWrite, Scopes.DelegationsRead, Scopes.DelegationsWrite];

    private static Guid Responsible(System.Text.Json.JsonElement entry) => entry.GetProperty("responsible").GetProperty("id").GetGuid();

    private async Task<Party> CommuneParty(string code)
    {
        var commune = await Commune(code);
        return new Party(commune, await Fx.KeyFor(commune.Id, AllScopes));
    }

    [Fact]
    public async Task No_lookup_that_starts_after_a_write_is_answered_has_the_old_holder_while_readers_hammer_the_map()
    {
        string[] communes = ["15001", "15002", "15003", "15004", "15005"];
        var ids = new Dictionary<string, Guid>();
        foreach (var code in communes) ids[code] = (await Commune(code)).Id;
        var readings = new System.Collections.Concurrent.ConcurrentBag<(string Commune, long StartedAt, Guid Responsible, long Generation)>();
        using var stop = new CancellationTokenSource();
        var started = new Barrier(9);

        // Eight readers ask about the five communes in a loop, recording when each lookup began.
        var readers = Enumerable.Range(0, 8).Select(r => Task.Run(async () =>
        {
            using var client = Fx.Admin();
            started.SignalAndWait();
            for (var i = r; !stop.IsCancellationRequested; i++)
            {
                var code = communes[i % communes.Length];
                var at = Stopwatch.GetTimestamp();
                var response = await client.GetAsync($"/v1/competence-map?commune={code}&competence=DOMICILIATION&date=2026-11-25").Ok();
                var entry = await response.Json();
                readings.Add((code, at, Responsible(entry), long.Parse(response.Headers.GetValues(MapChanges.Header).Single())));
            }
        })).ToList();
        started.SignalAndWait();
        // The writes begin once every commune has been read as it was (the race below is then real, not hoped for).
        for (var i = 0; i < 600 && communes.Any(code => !readings.Any(r => r.Commune == code)); i++) await Task.Delay(50);

        // Each registration of a CCAS makes it the holder of DOMICILIATION: record when it was answered.
        var answered = new Dictionary<string, (long At, Guid Ccas, long Generation)>();
        foreach (var code in communes)
        {
            await Task.Delay(20);
            var response = await Fx.Admin().PostJson("/v1/organisations",
                new { kind = "CCAS", name = $"CCAS {code}", communeId = ids[code], siret = NewSiret() }).Ok(HttpStatusCode.Created);
            var ccas = await response.Read<OrganisationDto>();
            answered[code] = (Stopwatch.GetTimestamp(), ccas.Id, long.Parse(response.Headers.GetValues(MapChanges.Header).Single()));
        }
        await Task.Delay(50);
        stop.Cancel();
        await Task.WhenAll(readers);

        foreach (var code in communes)
        {
            var after = readings.Where(r => r.Commune == code && r.StartedAt > answered[code].At).ToList();
            Assert.NotEmpty(after);
            var stale = after.Where(r => r.Responsible != answered[code].Ccas).ToList();
            Assert.True(stale.Count == 0, $"{stale.Count} of {after.Count} lookups of {code} begun after the CCAS was registered still named {stale.FirstOrDefault().Responsible}");
            Assert.All(after, r => Assert.True(r.Generation >= answered[code].Generation));
            Assert.Contains(readings, r => r.Commune == code && r.Responsible == ids[code]); // the race was real: the old holder was read before
        }
    }

    [Fact]
    public async Task A_CCAS_created_on_a_date_holds_from_that_date_and_a_commune_delegation_made_before_is_followed_while_the_commune_holds()
    {
        var commune = await CommuneParty("15006");
        var partner = await PartnerParty("Association Domiciliation Cantal", "15");
        var k = await SignedConvention([commune, partner], ["DOMICILIATION"], new { communeIds = new[] { commune.Id } }, new(2025, 1, 1), new(2027, 12, 31));
        await commune.Client(Fx).PostJson("/v1/delegations",
            Delegation(commune, partner, "DOMICILIATION", k, new { communeIds = new[] { commune.Id } }, new(2025, 1, 1), new(2027, 12, 31))).Ok(HttpStatusCode.Created);
        Assert.Equal(partner.Id, Responsible(await Map("15006", "DOMICILIATION", new(2026, 6, 1))));

        var ccas = await (await Fx.Admin().PostJson("/v1/organisations", new
        {
            kind = "CCAS", name = "CCAS d'Anglards-de-Salers", communeId = commune.Id, siret = NewSiret(), activeFrom = "2026-03-01",
        }).Ok(HttpStatusCode.Created)).Read<OrganisationDto>();
        Assert.Equal(new DateOnly(2026, 3, 1), ccas.ActiveFrom);

        // The commune's delegation holds while the commune held the competence; the CCAS from its creation.
        Assert.Equal(partner.Id, Responsible(await Map("15006", "DOMICILIATION", new(2025, 6, 1))));
        Assert.Equal(partner.Id, Responsible(await Map("15006", "DOMICILIATION", new(2026, 2, 28))));
        var created = await Map("15006", "DOMICILIATION", new(2026, 3, 1));
        Assert.Equal(ccas.Id, Responsible(created));
        Assert.Equal("LAW", created.GetProperty("chain")[0].GetProperty("via").GetString());
        // A competence of the commune itself does not move.
        Assert.Equal(commune.Id, Responsible(await Map("15006", "REGISTRE_VULNERABLES", new(2026, 6, 1))));

        // The commune can no longer delegate it over days its CCAS holds it.
        var late = await SignedConvention([commune, partner], ["DOMICILIATION"], new { communeIds = new[] { commune.Id } }, new(2026, 1, 1), new(2028, 12, 31));
        var refused = await commune.Client(Fx).PostJson("/v1/delegations",
            Delegation(commune, partner, "DOMICILIATION", late, new { communeIds = new[] { commune.Id } }, new(2028, 1, 1), new(2028, 6, 30)));
        await refused.Problem(HttpStatusCode.UnprocessableEntity, "delegations.delegator-does-not-hold");

        // Dissolved on 30 September 2026: from 1 October the commune holds again, and its delegation is followed again.
        var etag = (await Fx.Admin().GetAsync($"/v1/organisations/{ccas.Id}").Ok()).Headers.ETag!.Tag;
        var dissolved = await (await Fx.Admin().PutJson($"/v1/organisations/{ccas.Id}",
            new { name = ccas.Name, siret = ccas.Siret, isActive = false, activeUntil = "2026-09-30" }, etag).Ok()).Read<OrganisationDto>();
        Assert.Equal((false, (DateOnly?)new DateOnly(2026, 3, 1), (DateOnly?)new DateOnly(2026, 9, 30)), (dissolved.IsActive, dissolved.ActiveFrom, dissolved.ActiveUntil));
        Assert.Equal(ccas.Id, Responsible(await Map("15006", "DOMICILIATION", new(2026, 9, 30))));
        Assert.Equal(partner.Id, Responsible(await Map("15006", "DOMICILIATION", new(2026, 10, 1))));
        Assert.Equal(commune.Id, Responsible(await Map("15006", "DOMICILIATION", new(2028, 1, 1))));
    }

    [Fact]
    public async Task A_CCAS_registered_without_a_date_holds_on_every_date_and_the_export_agrees_with_the_lookup()
    {
        var ccas = await RegisterCcas("15007");
        Assert.Null(ccas.ActiveFrom);
        Assert.Equal(ccas.Id, Responsible(await Map("15007", "DOMICILIATION", new(2001, 1, 1))));
        var export = await (await Fx.Admin().GetAsync("/v1/competence-map/export?departement=15&competence=DOMICILIATION&date=2001-01-01").Ok()).Json();
        var row = export.EnumerateArray().Single(r => r.GetProperty("commune").GetProperty("code").GetString() == "15007");
        Assert.Equal(ccas.Id, Responsible(row));
    }

    [Fact]
    public async Task Two_instances_over_one_database_answer_each_others_writes_within_two_seconds_and_their_own_at_once()
    {
        await using var other = Fx.CreateFactory(Fx.ConnectionString);
        using var b = other.CreateDefaultClient(new Platform.ContractConformance.Handler());
        b.DefaultRequestHeaders.Authorization = new("Bearer", Fx.AdminKey);
        var commune = await Commune("15008");
        Assert.Equal(commune.Id, Responsible(await (await b.GetAsync("/v1/competence-map?commune=15008&competence=DOMICILIATION").Ok()).Json()));

        // Written through A: from A's answer on, B answers it within the bound, by polling the feed.
        var response = await Fx.Admin().PostJson("/v1/organisations", new { kind = "CCAS", name = "CCAS d'Antignac", communeId = commune.Id, siret = NewSiret() })
            .Ok(HttpStatusCode.Created);
        var written = Stopwatch.StartNew();
        var ccas = await response.Read<OrganisationDto>();
        var generation = response.Headers.GetValues(MapChanges.Header).Single();
        while (Responsible(await (await b.GetAsync("/v1/competence-map?commune=15008&competence=DOMICILIATION").Ok()).Json()) != ccas.Id)
        {
            Assert.True(written.Elapsed < TimeSpan.FromSeconds(2), "instance B still named the commune 2 s after the write through A");
            await Task.Delay(50);
        }

        // Written through B: B answers it at once, and A at once when the client names the generation it was given.
        var commune2 = await Commune("15009");
        var response2 = await b.PostJson("/v1/organisations", new { kind = "CCAS", name = "CCAS d'Apchon", communeId = commune2.Id, siret = NewSiret() })
            .Ok(HttpStatusCode.Created);
        var ccas2 = await response2.Read<OrganisationDto>();
        Assert.Equal(ccas2.Id, Responsible(await (await b.GetAsync("/v1/competence-map?commune=15009&competence=DOMICILIATION").Ok()).Json()));
        var fromA = new HttpRequestMessage(HttpMethod.Get, "/v1/competence-map?commune=15009&competence=DOMICILIATION");
        fromA.Headers.Add(MapChanges.MinHeader, response2.Headers.GetValues(MapChanges.Header).Single());
        Assert.Equal(ccas2.Id, Responsible(await (await Fx.Admin().SendAsync(fromA).Ok()).Json()));
        Assert.True(long.Parse(response2.Headers.GetValues(MapChanges.Header).Single()) > long.Parse(generation));
    }

    [Fact]
    public async Task An_instance_behind_a_pruned_feed_loads_the_whole_map_and_answers_right()
    {
        await using var other = Fx.CreateFactory(Fx.ConnectionString);
        using var b = other.CreateDefaultClient(new Platform.ContractConformance.Handler());
        b.DefaultRequestHeaders.Authorization = new("Bearer", Fx.AdminKey);
        _ = await (await b.GetAsync("/v1/competence-map?commune=15010&competence=DOMICILIATION").Ok()).Json();
        var cache = other.Services.GetRequiredService<CompetenceMapCache>();
        var before = (await cache.GetAsync(0, default)).Generation;

        // A writes twice, and the feed rows B needs are deleted before B reads them.
        var first = await RegisterCcas("15010");
        var second = await RegisterCcas("15011");
        await using (var c = await Fx.Db.OpenAsync(default))
            await c.ExecuteAsync(Fx.Db.Command("DELETE FROM map_change WHERE generation <= @g", new { g = before + 1 }, default));
        await cache.CatchUpAsync(long.MaxValue, default);

        Assert.Equal(first.Id, Responsible(await (await b.GetAsync("/v1/competence-map?commune=15010&competence=DOMICILIATION").Ok()).Json()));
        Assert.Equal(second.Id, Responsible(await (await b.GetAsync("/v1/competence-map?commune=15011&competence=DOMICILIATION").Ok()).Json()));
    }

    [Fact]
    public async Task A_bad_map_generation_header_is_a_400()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/competence-map?commune=15001&competence=DOMICILIATION");
        request.Headers.Add(MapChanges.MinHeader, "yesterday");
        await (await Fx.Admin().SendAsync(request)).Problem(HttpStatusCode.BadRequest, "map-min-generation");
    }
}

[Collection(SqliteCollection.Name)] public sealed class LiveMapTests_Sqlite(SqliteFixture f) : LiveMapTests(f);
[Collection(PostgresCollection.Name)] public sealed class LiveMapTests_Postgres(PostgresFixture f) : LiveMapTests(f);
