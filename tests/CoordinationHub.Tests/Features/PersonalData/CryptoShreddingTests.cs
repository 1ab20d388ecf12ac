using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using CoordinationHub.Features.PersonalData;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Security;
using CoordinationHub.Tests.Features.Referrals;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CoordinationHub.Tests.Features.PersonalData;

/// <summary>
/// Crypto-shredding and the key ring (issue 23, findings 1–4): each referral's person is sealed with a data key of its own,
/// which erasure and purge destroy; the ring is never replaced silently, its ids never reused, its rotation seen live.
/// </summary>
public abstract class CryptoShreddingTests(ApiFixture fx) : ReferralTestBase(fx)
{
    private KeyRing Ring => Fx.Services.GetRequiredService<KeyRing>();

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    private async Task<T> Scalar<T>(string sql, object? args = null)
    {
        await using var c = await Fx.Db.OpenAsync(CancellationToken.None);
        return (await c.ExecuteScalarAsync<T>(Fx.Db.Command(sql, args, CancellationToken.None)))!;
    }

    private Task Erase(Party party, Guid id) =>
        party.Client(Fx).PostJson($"/v1/referrals/{id}/person/requests", new { kind = "ERASURE", agent = Agent }).Ok(HttpStatusCode.Created);

    [Fact]
    public async Task Replaying_the_creates_Idempotency_Key_after_erasure_answers_409_and_no_person()
    {
        var ccas = await Ccas("46042"); // Cahors
        var dep = await Dep("46");
        var family = Unique("Rejoue");
        var draft = Draft("INCOME", Person("46042", family), receiverId: dep.Id, consent: Consent("INCOME"), statutory: null);
        var key = Unique("create-then-erase-");
        var created = await (await ccas.Client(Fx).PostJson("/v1/referrals", draft, key).Ok(HttpStatusCode.Created)).Read<ReferralDto>();
        var replayed = await ccas.Client(Fx).PostJson("/v1/referrals", draft, key).Ok(HttpStatusCode.Created);
        Assert.Contains(family, await replayed.Content.ReadAsStringAsync()); // before erasure, the replay is the first answer

        await Erase(ccas, created.Id);

        var replay = await ccas.Client(Fx).PostJson("/v1/referrals", draft, key);
        Assert.DoesNotContain(family, await replay.Content.ReadAsStringAsync());
        await replay.Problem(HttpStatusCode.Conflict, "idempotency-replay-erased");
    }

    [Fact]
    public async Task Replaying_a_message_after_the_purge_answers_409_and_no_body()
    {
        var ccas = await Ccas("48095"); // Mende
        var dep = await Dep("48");
        var (sent, _) = await Send(ccas, Draft("INCOME", Person("48095"), receiverId: dep.Id));
        var secret = Unique("Rappel de Mme ");
        var message = new { agent = Agent, body = secret };
        var key = Unique("message-then-purge-");
        await ccas.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/messages", message, key).Ok(HttpStatusCode.Created);
        await Act(ccas, sent.Id, "cancellation", new { agent = Agent, reason = "SENT_BY_MISTAKE" });
        // The purge's own step, within the replay's 24 hours (a retention that short is the convention's choice).
        await using (var scope = Fx.Services.CreateAsyncScope())
        {
            var purge = scope.ServiceProvider.GetRequiredService<CoordinationHub.Features.PersonalData.PersonDataPurge>();
            await Fx.Db.InTransactionAsync((c, tx, t) => purge.PurgeAsync(c, tx, [sent.Id],
                CoordinationHub.Features.PersonalData.PurgeTrigger.SCHEDULED, Fx.Clock.GetUtcNow(), t), CancellationToken.None);
        }
        var replay = await ccas.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/messages", message, key);
        var body = await replay.Content.ReadAsStringAsync();
        Assert.True(!body.Contains(secret), $"The replay served the purged message again: {body}");
        await replay.Problem(HttpStatusCode.Conflict, "idempotency-replay-erased");
    }

    [Fact]
    public async Task After_erasure_nothing_of_the_person_in_the_raw_database_files_opens_with_the_key_ring_in_hand()
    {
        var ccas = await Ccas("09122"); // Foix
        var dep = await Dep("09");
        var draft = Draft("INCOME", Person("09122", Unique("Broyé")), receiverId: dep.Id, consent: Consent("INCOME"), statutory: null);
        var created = await (await ccas.Client(Fx).PostJson("/v1/referrals", draft, Unique("raw-")).Ok(HttpStatusCode.Created)).Read<ReferralDto>();
        var message = await (await ccas.Client(Fx).PostJson($"/v1/referrals/{created.Id}/messages", new { agent = Agent, body = "Mme rappellera." })
            .Ok(HttpStatusCode.Created)).Read<ThreadMessage>();
        var contexts = new[] { $"person:{created.Id}:1", $"message:{message.Id}" };

        // The control: before erasure, the same scan recovers the data key and opens the person.
        var before = await Raw();
        var keys = RawScan.DataKeys(before, Ring, created.Id);
        Assert.NotEmpty(keys);
        Assert.True(RawScan.Opened(before, keys, contexts) > 0, "The scan should open the person before erasure (control)");

        await Erase(ccas, created.Id);

        // The erasure's note, written after, is under a new data key: it opens nothing that was the person's.
        var after = await Raw();
        Assert.Equal(0, RawScan.Opened(after, RawScan.DataKeys(after, Ring, created.Id), contexts));
        Assert.Equal(0, RawScan.OpenedLegacy(after, Ring, contexts));
        Assert.DoesNotContain(RawScan.DataKeys(after, Ring, created.Id), k => keys.Any(k.SequenceEqual));

        // PostgreSQL keeps the wrapped data key in its WAL and dead tuples (a backup, forever): once the ring key that
        // wrapped it is retired, after a rotation re-wrapped the live data keys, no copy of it opens either.
        var previous = Ring.Active.Id;
        Ring.Rotate(DateTimeOffset.UtcNow);
        var keysOf = Fx.Services.GetRequiredService<DataKeys>();
        while (await keysOf.RewrapAsync(500, CancellationToken.None) > 0) { }
        Ring.Retire(previous);
        await foreach (var file in ClusterFiles())
            Assert.DoesNotContain(RawScan.DataKeys(file, Ring, created.Id), k => keys.Any(k.SequenceEqual));
        Assert.Null((await Get(ccas, created.Id)).Referral.Person);
        await ccas.Client(Fx).GetAsync($"/v1/referrals/{created.Id}/messages").Ok(); // what remains still reads
    }

    [Fact]
    public async Task The_consent_purpose_and_the_readers_X_Agent_and_X_Purpose_are_nowhere_in_clear_and_the_purpose_goes_with_the_person()
    {
        var ccas = await Ccas("46042");
        var dep = await Dep("46");
        var name = Unique("Nommee");
        var agent = Unique("Instructeur");
        var consent = new
        {
            purpose = $"Instruction RSA de Mme {name}", scope = new { need = "INCOME" }, method = "WRITTEN",
            givenAt = "2026-11-20T10:00:00Z", collectedBy = Agent,
        };
        var (sent, _) = await Send(ccas, Draft("INCOME", Person("46042"), receiverId: dep.Id, consent: consent, statutory: null));
        var reader = dep.Client(Fx);
        reader.DefaultRequestHeaders.Add("X-Agent", $"agent {agent}");
        reader.DefaultRequestHeaders.Add("X-Purpose", $"appel de Mme {name}");
        await reader.GetAsync($"/v1/referrals/{sent.Id}").Ok();

        var raw = await Raw();
        Assert.Contains(sent.Id.ToString(), raw); // the copy holds the referral…
        Assert.DoesNotContain(name, raw); // …not the consent's purpose nor X-Purpose,
        Assert.DoesNotContain(agent, raw); // nor X-Agent.
        Assert.Equal($"Instruction RSA de Mme {name}", (await Get(ccas, sent.Id)).Referral.LegalBasis.Consent!.Purpose);
        async Task<AccessEntry> Logged() =>
            (await (await ccas.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}/access-log?limit=500").Ok())
                .Read<CoordinationHub.Platform.Http.PageResponse<AccessEntry>>()).Items.Single(e => e.AgentReference == $"agent {agent}");
        Assert.Equal($"appel de Mme {name}", (await Logged()).Purpose);

        // Erasure shreds the consent's purpose with the person; the access log keeps who read, and why, as evidence.
        await Erase(ccas, sent.Id);
        Assert.Equal(ReferralStore.ErasedPurpose, (await Get(ccas, sent.Id)).Referral.LegalBasis.Consent!.Purpose);
        Assert.Equal($"appel de Mme {name}", (await Logged()).Purpose);
        var dossier = await (await ccas.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}/dossier").Ok()).Read<ReferralDossier>();
        Assert.Null(dossier.Referral.Person);
        Assert.Empty(dossier.PersonVersions);
        Assert.Contains(dossier.AccessLog, e => e.AgentReference == $"agent {agent}" && e.Purpose == $"appel de Mme {name}");
        Assert.Contains(dossier.Thread, m => m.Kind == MessageKind.PERSON_REQUEST && m.Body is not null); // the erasure's note, written after
    }

    /// <summary>What an attacker with a copy holds: the SQLite file with its WAL, or a pg_dump of the database.</summary>
    private async Task<string> Raw()
    {
        if (Fx.Provider == DatabaseProvider.Sqlite)
        {
            var file = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(Fx.ConnectionString).DataSource;
            var text = new StringBuilder();
            foreach (var f in new[] { file, file + "-wal" }.Where(File.Exists)) text.Append(await ReadShared(f));
            return text.ToString();
        }
        var cs = new NpgsqlConnectionStringBuilder(Fx.ConnectionString);
        var pgDump = new[] { "/usr/lib/postgresql/15/bin/pg_dump", "pg_dump" }.First(p => p == "pg_dump" || File.Exists(p));
        var start = new ProcessStartInfo(pgDump, ["-h", cs.Host!, "-p", cs.Port.ToString(), "-U", cs.Username!, "-d", cs.Database!, "--data-only"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        if (cs.Password is { Length: > 0 } password) start.Environment["PGPASSWORD"] = password;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"pg_dump failed: {error}");
        return await output;
    }

    /// <summary>The SQLite file and WAL; on PostgreSQL the database's files and the cluster's WAL when this process can read them.</summary>
    private async IAsyncEnumerable<string> ClusterFiles()
    {
        yield return await Raw();
        if (Fx.Provider == DatabaseProvider.Sqlite) yield break;
        string? directory = null;
        long oid = 0;
        try
        {
            directory = await Scalar<string>("SHOW data_directory");
            oid = await Scalar<long>("SELECT oid FROM pg_database WHERE datname = current_database()");
        }
        catch (NpgsqlException) { } // not a superuser: the dump is what this test can see
        if (directory is null) yield break;
        await using (var c = await Fx.Db.OpenAsync(CancellationToken.None))
            await c.ExecuteAsync(new CommandDefinition("CHECKPOINT", commandType: System.Data.CommandType.Text));
        var files = new[] { Path.Combine(directory, "base", oid.ToString()), Path.Combine(directory, "pg_wal") }
            .Where(System.IO.Directory.Exists).SelectMany(d => System.IO.Directory.EnumerateFiles(d)).ToList();
        Assert.NotEmpty(files);
        foreach (var f in files) yield return await ReadShared(f);
    }

    private static async Task<string> ReadShared(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        return Encoding.Latin1.GetString(buffer.ToArray());
    }

    [Fact]
    public async Task Started_without_its_key_ring_over_sealed_data_the_API_refuses_to_start_and_says_how_to_recover()
    {
        var ccas = await Ccas("09122");
        var dep = await Dep("09");
        await Send(ccas, Draft("INCOME", Person("09122"), receiverId: dep.Id));
        var folder = Path.Combine(Path.GetTempPath(), "coordinationhub-tests", "keyrings");
        var missing = Path.Combine(folder, Guid.NewGuid().ToString("N") + ".json");

        var refused = StartWithRing(missing);
        Assert.Contains($"The key ring {missing} is missing, but the database holds data sealed with it", refused);
        Assert.Contains("Restore keyring.json from its backup", refused);
        Assert.False(File.Exists(missing), "No throwaway ring may be written over a database that holds sealed data");

        // A ring that lacks the key in use (another deployment's, an old backup) is refused the same way.
        var other = Path.Combine(folder, Guid.NewGuid().ToString("N") + ".json");
        new KeyRing(other).CreateIfMissing(DateTimeOffset.UtcNow);
        Assert.Contains($"lacks key(s) the database holds data wrapped with (key {Ring.Active.Id}", StartWithRing(other));
        // The real ring still serves everything.
        await ccas.Client(Fx).GetAsync("/v1/referrals/sent?limit=5").Ok();
    }

    private string StartWithRing(string path)
    {
        using var host = Fx.CreateFactory(Fx.ConnectionString, settings: new Dictionary<string, string> { ["PersonalData:KeyRingPath"] = path });
        var e = Assert.ThrowsAny<Exception>(() => host.Server);
        return e.ToString();
    }

    [Fact]
    public async Task A_retired_key_id_is_never_given_again_by_a_rotation()
    {
        var path = Path.Combine(Path.GetTempPath(), "coordinationhub-tests", "keyrings", Guid.NewGuid().ToString("N") + ".json");
        var ring = new KeyRing(path);
        ring.CreateIfMissing(DateTimeOffset.UtcNow);
        var ids = new List<string> { ring.Active.Id };
        for (var i = 0; i < 5; i++)
        {
            var previous = ring.Active.Id;
            ids.Add(ring.Rotate(DateTimeOffset.UtcNow).Id);
            ring.Retire(previous); // the old code's ids were k{count+1}: after a retirement, the next one was a live key's
        }
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(ids[..^1].Order(), new KeyRing(path).Retired.Order());
        Assert.Throws<InvalidOperationException>(() => ring.Retire(ring.Active.Id));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task A_rotation_made_by_another_process_is_used_by_the_running_API_within_its_bound_without_restart()
    {
        var ccas = await Ccas("46042");
        var dep = await Dep("46");
        // Another process (the keys verb) rotates the same file: the running API's own ring object is not told.
        var rotated = new KeyRing(Ring.Path).Rotate(DateTimeOffset.UtcNow);
        var watch = Stopwatch.StartNew();
        string wrappedBy;
        do
        {
            var (sent, _) = await Send(ccas, Draft("INCOME", Person("46042"), receiverId: dep.Id));
            wrappedBy = await Scalar<string>("SELECT ring_key_id FROM data_key WHERE owner_id = @id", new { id = sent.Id });
            if (wrappedBy != rotated.Id) await Task.Delay(200);
        }
        while (wrappedBy != rotated.Id && watch.Elapsed < KeyRing.RefreshEvery + TimeSpan.FromSeconds(2));
        Assert.True(wrappedBy == rotated.Id,
            $"A new referral's data key is still wrapped by {wrappedBy} {watch.Elapsed.TotalSeconds:0.0} s after the rotation to {rotated.Id}");
        while (await Fx.Services.GetRequiredService<DataKeys>().RewrapAsync(500, CancellationToken.None) > 0) { }
    }

    [Fact]
    public async Task A_database_sealed_with_the_ring_key_directly_is_moved_under_data_keys_at_start_and_then_shreds()
    {
        var ccas = await Ccas("09122");
        var dep = await Dep("09");
        var family = Unique("Ancien");
        var (sent, _) = await Send(ccas, Draft("INCOME", Person("09122", family), receiverId: dep.Id, consent: Consent("INCOME"), statutory: null));
        // As the first scheme left it: the payload sealed with the ring's key itself, no data key.
        var keys = Fx.Services.GetRequiredService<DataKeys>();
        var cipher = Fx.Services.GetRequiredService<PersonCipher>();
        var context = $"person:{sent.Id}:1";
        await using (var c = await Fx.Db.OpenAsync(CancellationToken.None))
        {
            var payload = await c.ExecuteScalarAsync<string>(Fx.Db.Command(
                "SELECT payload FROM referral_person_version WHERE referral_id = @id", new { id = sent.Id }, CancellationToken.None));
            var json = cipher.Open(await keys.FindAsync(c, null, sent.Id, CancellationToken.None), payload!, context);
            await c.ExecuteAsync(Fx.Db.Command("UPDATE referral_person_version SET payload = @legacy WHERE referral_id = @id",
                new { id = sent.Id, legacy = FirstScheme(Ring.Active, json, context) }, CancellationToken.None));
            await c.ExecuteAsync(Fx.Db.Command("DELETE FROM data_key WHERE owner_id = @id", new { id = sent.Id }, CancellationToken.None));
            // And the consent's purpose in clear, as before issue 23.
            await c.ExecuteAsync(Fx.Db.Command("UPDATE referral SET consent_purpose = 'Instruction de la demande' WHERE id = @id",
                new { id = sent.Id }, CancellationToken.None));
        }
        Assert.Equal(family, (await Get(ccas, sent.Id)).Referral.Person!.FamilyName); // still read as it is

        await Fx.Services.GetRequiredService<Migrator>().MigrateAsync(CancellationToken.None);

        Assert.StartsWith("chv2:", await Scalar<string>("SELECT payload FROM referral_person_version WHERE referral_id = @id", new { id = sent.Id }));
        Assert.StartsWith("chv2:", await Scalar<string>("SELECT consent_purpose FROM referral WHERE id = @id", new { id = sent.Id }));
        Assert.Equal(1, await Scalar<int>("SELECT COUNT(*) FROM data_key WHERE owner_id = @id", new { id = sent.Id }));
        var (read, _) = await Get(ccas, sent.Id);
        Assert.Equal((family, "Instruction de la demande"), (read.Person!.FamilyName, read.LegalBasis.Consent!.Purpose));
        await Erase(ccas, sent.Id);
        Assert.Null((await Get(ccas, sent.Id)).Referral.Person);
    }

    /// <summary>A value as the first scheme sealed it: <c>chv1:&lt;ring key id&gt;:</c> AES-GCM under the ring key itself.</summary>
    private static string FirstScheme(KeyRing.Key key, string plaintext, string context)
    {
        var input = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[28 + input.Length];
        RandomNumberGenerator.Fill(output.AsSpan(0, 12));
        using (var aes = new AesGcm(key.Material, 16))
            aes.Encrypt(output.AsSpan(0, 12), input, output.AsSpan(28), output.AsSpan(12, 16), Encoding.UTF8.GetBytes(context));
        return $"chv1:{key.Id}:{Convert.ToBase64String(output)}";
    }
}

/// <summary>What an attacker holding raw bytes and the key ring can open of one referral.</summary>
internal static class RawScan
{
    private static readonly Regex Wrapped = new(@"chk1:([A-Za-z0-9]+):([A-Za-z0-9+/]{80})", RegexOptions.Compiled);
    private static readonly Regex Sealed = new(@"chv2:([A-Za-z0-9+/=]{40,})", RegexOptions.Compiled);
    private static readonly Regex Legacy = new(@"chv1:([A-Za-z0-9]+):([A-Za-z0-9+/=]{40,})", RegexOptions.Compiled);

    /// <summary>Every data key of <paramref name="owner"/> that a wrapped copy in <paramref name="raw"/> gives with a key of the ring.</summary>
    public static List<byte[]> DataKeys(string raw, KeyRing ring, Guid owner)
    {
        var found = new List<byte[]>();
        foreach (Match m in Wrapped.Matches(raw))
        {
            var key = ring.Keys.FirstOrDefault(k => k.Id == m.Groups[1].Value);
            if (key is not null && TryOpen(key.Material, m.Groups[2].Value, $"data-key:{owner}") is { } dataKey) found.Add(dataKey);
        }
        return found;
    }

    /// <summary>How many sealed values in <paramref name="raw"/> open with one of these data keys under one of these contexts.</summary>
    public static int Opened(string raw, IReadOnlyList<byte[]> keys, IReadOnlyList<string> contexts) =>
        Sealed.Matches(raw).Count(m => keys.Any(k => contexts.Any(c => TryOpen(k, m.Groups[1].Value, c) is not null)));

    /// <summary>How many values of the first scheme open with a key of the ring under one of these contexts.</summary>
    public static int OpenedLegacy(string raw, KeyRing ring, IReadOnlyList<string> contexts) =>
        Legacy.Matches(raw).Count(m => ring.Keys.FirstOrDefault(k => k.Id == m.Groups[1].Value) is { } key
            && contexts.Any(c => TryOpen(key.Material, m.Groups[2].Value, c) is not null));

    /// <summary>Opens a base64 nonce|tag|ciphertext; the raw bytes after it may look like base64 too, so shorter lengths are tried.</summary>
    private static byte[]? TryOpen(byte[] key, string base64, string context)
    {
        for (var length = base64.Length - base64.Length % 4; length >= 40 && length > base64.Length - 80; length -= 4)
        {
            byte[] input;
            try { input = Convert.FromBase64String(base64[..length]); }
            catch (FormatException) { continue; }
            if (input.Length <= 28) continue;
            var output = new byte[input.Length - 28];
            try
            {
                using var aes = new AesGcm(key, 16);
                aes.Decrypt(input.AsSpan(0, 12), input.AsSpan(28), input.AsSpan(12, 16), output, Encoding.UTF8.GetBytes(context));
                return output;
            }
            catch (CryptographicException) { }
        }
        return null;
    }
}

[Collection(SqliteCollection.Name)] public sealed class CryptoShreddingTests_Sqlite(SqliteFixture f) : CryptoShreddingTests(f);
[Collection(PostgresCollection.Name)] public sealed class CryptoShreddingTests_Postgres(PostgresFixture f) : CryptoShreddingTests(f);
