using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CoordinationHub.Features.Imports;
using CoordinationHub.Features.PersonalData;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Security;
using Dapper;

namespace CoordinationHub.Tests.Features.Referrals;

/// <summary>The ways a NIR was slipped past the guard (issue 23, finding 8), each tried from outside.</summary>
public abstract class NirGuardTests(ApiFixture fx) : ReferralTestBase(fx)
{
    /// <summary>1 84 12 75 116 005 22: a NIR whose key checks, as an agent would paste it, spaced in the ways that got through.</summary>
    public static readonly TheoryData<string, string> Disguised = new()
    {
        { "plain spaces", "1 84 12 75 116 005 22" },
        { "no-break spaces (U+00A0)", "1\u00A084\u00A012\u00A075\u00A0116\u00A0005\u00A022" },
        { "narrow no-break spaces (U+202F)", "1\u202F84\u202F12\u202F75\u202F116\u202F005\u202F22" },
        { "thin spaces (U+2009)", "1\u200984\u200912\u200975\u2009116\u2009005\u200922" },
        { "double spaces", "1  84  12  75  116  005  22" },
        { "fullwidth digits", "１８４１２７５１１６００５２２" },
        { "non-breaking hyphens (U+2011)", "1\u201184\u201112\u201175\u2011116\u2011005\u201122" },
        { "zero-width spaces (U+200B)", "184\u200B127\u200B511\u200B600\u200B522" },
        { "glued to a label", "NIR184127511600522" },
    };

    private async Task<long> Count(string sql, object args)
    {
        await using var c = await Fx.Db.OpenAsync(default);
        return await c.ExecuteScalarAsync<long>(Fx.Db.Command(sql, args, default));
    }

    private static (string?, string?) Where(JsonElement problem) =>
        (problem.GetProperty("field").GetString(), problem.GetProperty("source").GetString());

    private static HttpClient With(HttpClient client, string header, string value)
    {
        client.DefaultRequestHeaders.TryAddWithoutValidation(header, value);
        return client;
    }

    [Fact]
    public async Task A_NIR_however_spaced_in_X_Purpose_or_X_Agent_is_refused_naming_the_header_and_nothing_is_logged()
    {
        var ccas = await Ccas("41018"); // Blois
        var dep = await Dep("41");
        var (sent, _) = await Send(ccas, Draft("INCOME", Person("41018"), receiverId: dep.Id));
        const string logged = "SELECT COUNT(*) FROM person_access WHERE referral_id = @id";
        var before = await Count(logged, new { id = sent.Id });
        foreach (var header in new[] { AccessContext.PurposeHeader, AccessContext.AgentHeader })
            foreach (var (how, nir) in Disguised.Select(row => ((string)row[0], (string)row[1])))
            {
                var text = header == AccessContext.PurposeHeader ? $"Instruction RSA de {nir}" : nir;
                foreach (var url in new[]
                         { $"/v1/referrals/{sent.Id}", $"/v1/referrals/{sent.Id}/dossier", "/v1/referrals/received?limit=5" })
                {
                    var response = await With(dep.Client(Fx), header, text).GetAsync(url);
                    Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity,
                        $"A NIR written with {how} in {header} of GET {url} was served ({(int)response.StatusCode}) instead of refused");
                    var problem = await response.Problem(HttpStatusCode.UnprocessableEntity, NirGuard.Code);
                    Assert.Equal((header, "header"), Where(problem));
                    Assert.DoesNotContain(nir, problem.GetRawText());
                }
            }
        Assert.Equal(before, await Count(logged, new { id = sent.Id }));
        // The export for the data protection officer holds no purpose or agent with the NIR.
        var export = await (await Fx.Admin().GetAsync("/v1/access-log?from=2026-11-25&to=2026-11-25&limit=500").Ok())
            .Content.ReadAsStringAsync();
        Assert.DoesNotContain("116 005 22", export);

        // The same headers without a NIR are logged as before.
        var agent = With(dep.Client(Fx), AccessContext.AgentHeader, "agent-41");
        await With(agent, AccessContext.PurposeHeader, "Instruction RSA").GetAsync($"/v1/referrals/{sent.Id}").Ok();
        Assert.Equal(before + 1, await Count(logged, new { id = sent.Id }));
    }

    [Fact]
    public async Task A_NIR_as_the_agent_display_name_of_a_person_request_is_refused_and_no_request_is_recorded()
    {
        var ccas = await Ccas("41018");
        var dep = await Dep("41");
        var (sent, _) = await Send(ccas, Draft("INCOME", Person("41018"), receiverId: dep.Id));
        foreach (var (how, nir) in Disguised.Select(row => ((string)row[0], (string)row[1])))
        {
            var response = await dep.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/person/requests",
                new { kind = "OBJECTION", agent = new { reference = "agent-41", displayName = nir } });
            Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity,
                $"A NIR written with {how} as agent.displayName of a person request was recorded ({(int)response.StatusCode})");
            var problem = await response.Problem(HttpStatusCode.UnprocessableEntity, NirGuard.Code);
            Assert.Equal(("agent.displayName", "body"), Where(problem));
        }
        Assert.Equal(0, await Count("SELECT COUNT(*) FROM person_request WHERE referral_id = @id", new { id = sent.Id }));
    }

    [Theory]
    [MemberData(nameof(Disguised))]
    public async Task A_NIR_however_spaced_in_the_context_of_a_referral_is_refused_and_nothing_is_sent(
        string how, string nir)
    {
        var ccas = await Ccas("41018");
        var dep = await Dep("41");
        var person = Person("41018");
        var draft = Draft("INCOME", person, receiverId: dep.Id);
        draft["context"] = $"Dossier CAF en cours, NIR : {nir}.";
        var response = await ccas.Client(Fx).PostJson("/v1/referrals", draft);
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity,
            $"A NIR written with {how} in the context was sent ({(int)response.StatusCode})");
        Assert.Equal(("context", "body"), Where(await response.Problem(HttpStatusCode.UnprocessableEntity, NirGuard.Code)));
        var sent = await (await ccas.Client(Fx).GetAsync("/v1/referrals/sent?limit=500").Ok())
            .Content.ReadAsStringAsync();
        Assert.DoesNotContain((string)person["familyName"]!, sent);
    }

    [Fact]
    public async Task A_NIR_in_a_query_string_or_an_idempotency_key_is_refused_naming_where_before_anything_is_stored()
    {
        var ccas = await Ccas("41018");
        var dep = await Dep("41");
        foreach (var (how, nir) in Disguised.Select(row => ((string)row[0], (string)row[1])))
        {
            var url = $"/v1/referrals/received?familyName={Uri.EscapeDataString(nir)}&givenNames=Jeanne&birthDate=1958-04-12";
            var problem = await (await dep.Client(Fx).GetAsync(url)).Problem(HttpStatusCode.UnprocessableEntity, NirGuard.Code);
            Assert.True(("familyName", "query") == Where(problem), $"A NIR written with {how} in the query string: {problem}");
        }
        var key = "184127511600522";
        var draft = Draft("INCOME", Person("41018"), receiverId: dep.Id);
        var refused = await (await ccas.Client(Fx).PostJson("/v1/referrals", draft, key))
            .Problem(HttpStatusCode.UnprocessableEntity, NirGuard.Code);
        Assert.Equal(("Idempotency-Key", "header"), Where(refused));
        Assert.Equal(0, await Count("SELECT COUNT(*) FROM idempotency_record WHERE idempotency_key = @key", new { key }));
    }

    [Fact]
    public async Task A_NIR_in_a_pushed_record_is_refused_in_NDJSON_JSON_and_CSV_and_the_report_never_repeats_it()
    {
        var dep = await Departement("65"); // Hautes-Pyrénées
        var client = Fx.Client(await Fx.KeyFor(dep.Id, Scopes.DelegationsImport));
        const string nir = "1\u202F84\u202F12\u202F75\u202F116\u202F005\u202F22";
        var record = new
        {
            externalRef = $"CD65-{nir}", competence = "RSA_INSTRUCTION", delegateCcasCommune = "65440",
            communes = new[] { "65440" }, startOn = "2026-02-01", endOn = "2027-12-31", conventionReference = "CONV-65",
        };
        var csvLine = string.Join(';',
            "CD65-1", "RSA_INSTRUCTION", "", "", "65440", "65440", "2026-02-01", "2027-12-31", "", $"NIR {nir}");
        foreach (var (type, body) in new[]
                 {
                     ("application/x-ndjson", JsonSerializer.Serialize(record, ApiFixture.Json) + "\n"),
                     ("application/json", JsonSerializer.Serialize(new[] { record }, ApiFixture.Json)),
                     ("text/csv", PushRecords.CsvHeader + "\n" + csvLine + "\n"),
                 })
        {
            var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body))
            {
                Headers = { ContentType = new MediaTypeHeaderValue(type) },
            };
            var problem = await (await client.PostAsync("/v1/imports/delegations", content))
                .Problem(HttpStatusCode.UnprocessableEntity, "imports.refused");
            var error = Assert.Single(problem.GetProperty("report").GetProperty("errors").EnumerateArray());
            Assert.True(error.GetProperty("type").GetString() == NirGuard.Code, $"A NIR in a {type} push: {error}");
            Assert.Equal(JsonValueKind.Null, error.GetProperty("externalRef").ValueKind);
            var message = error.GetProperty("message").GetString()!;
            Assert.Contains(type == "text/csv" ? "conventionReference" : "externalRef", message);
            Assert.DoesNotContain("116", message);
        }
        Assert.Equal(0, await Count("SELECT COUNT(*) FROM delegation WHERE delegator_id = @id", new { id = dep.Id }));
    }
}

[Collection(SqliteCollection.Name)] public sealed class NirGuardTests_Sqlite(SqliteFixture f) : NirGuardTests(f);
[Collection(PostgresCollection.Name)] public sealed class NirGuardTests_Postgres(PostgresFixture f) : NirGuardTests(f);

/// <summary>What the guard reads as a NIR, and what it must let through (false positives block real work).</summary>
public sealed class NirGuardFoldTests
{
    [Theory]
    [MemberData(nameof(NirGuardTests.Disguised), MemberType = typeof(NirGuardTests))]
    public void A_NIR_is_found_however_it_is_spaced(string how, string nir) =>
        Assert.True(NirGuard.Contains($"Usager : {nir}."), $"not found when written with {how}");

    [Theory]
    [InlineData("269052A00401525")] // Corsica
    [InlineData("2 69 05 2A 004 015 25")]
    [InlineData("2\u00A069\u00A005\u00A02Ａ\u00A0004\u00A0015\u00A025")] // fullwidth A, no-break spaces
    [InlineData("1.84.12.75.116.005.22")]
    [InlineData("1-84-12-75-116-005-22")]
    [InlineData("1\u201384\u201312\u201375\u2013116\u2013005\u201322")] // en dashes
    [InlineData("1 84 12 75 116 005\n22")]
    public void Other_spellings_of_a_NIR_are_found(string text) => Assert.True(NirGuard.Contains(text), text);

    [Theory]
    [InlineData("184127511600523")] // the key does not check
    [InlineData("1 84 12 75 116 005 23")]
    [InlineData("06 12 34 56 78")] // a phone number
    [InlineData("21590350100017")] // a SIRET
    [InlineData("Allocataire 1234567, dossier 2026-11-25")]
    [InlineData("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")]
    [InlineData("9184127511600522")] // 16 digits: not a NIR
    [InlineData("518412751160052")] // first digit 5
    public void Numbers_that_are_not_a_NIR_pass(string text) => Assert.False(NirGuard.Contains(text), text);
}
