using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using CoordinationHub.Features.PersonalData;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Http;
using CoordinationHub.Platform.Security;
using CoordinationHub.Tests.Features.Referrals;
using CoordinationHub.Tests.Platform;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CoordinationHub.Tests.Features.PersonalData;

public abstract class PersonalDataTests(ApiFixture fx) : ReferralTestBase(fx)
{
    // RepoRoot walks up three folders from the calling file: this one sits one deeper than Platform/.
    private static readonly JsonElement Contract = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(ContractConformance.RepoRoot(), "..", "openapi", "coordinationhub.v1.json"))).RootElement;

    /// <summary>The schemas that hold a person's data: the person, a box line's name, a thread message, a version.</summary>
    private static readonly string[] PersonSchemas = ["Person", "PersonSummary", "ReferralMessage", "PersonVersion"];

    private sealed class AccessRow
    {
        public Guid Id { get; init; }
        public string Operation { get; init; } = "";
        public string? AgentReference { get; init; }
        public string Purpose { get; init; } = "";
        public Guid? OrganisationId { get; init; }
    }

    private async Task<List<AccessRow>> AccessRows(Guid referralId)
    {
        await using var c = await Fx.Db.OpenAsync(CancellationToken.None);
        var rows = await c.QueryAsync<AccessRow>(Fx.Db.Command(
            "SELECT id, operation, agent_reference, purpose, organisation_id FROM person_access WHERE referral_id = @id ORDER BY id",
            new { id = referralId }, CancellationToken.None));
        // X-Agent and X-Purpose are stored sealed with the platform's data key.
        var keys = Fx.Services.GetRequiredService<DataKeys>();
        var opened = new List<AccessRow>();
        foreach (var r in rows)
            opened.Add(new AccessRow
            {
                Id = r.Id, Operation = r.Operation, OrganisationId = r.OrganisationId,
                AgentReference = await keys.OpenPlatformAsync(r.AgentReference, PersonAccess.AgentContext(r.Id), CancellationToken.None),
                Purpose = (await keys.OpenPlatformAsync(r.Purpose, PersonAccess.PurposeContext(r.Id), CancellationToken.None))!,
            });
        return opened;
    }

    private static HttpClient WithAgent(HttpClient client, string agent, string? purpose = null)
    {
        client.DefaultRequestHeaders.Add(AccessContext.AgentHeader, agent);
        if (purpose is not null) client.DefaultRequestHeaders.Add(AccessContext.PurposeHeader, purpose);
        return client;
    }

    [Fact]
    public void The_contract_marks_every_operation_whose_answer_can_hold_a_person_and_no_other()
    {
        var schemas = Contract.GetProperty("components").GetProperty("schemas");
        var holding = new Dictionary<string, bool>();
        bool Holds(JsonElement schema, HashSet<string> seen)
        {
            switch (schema.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var p in schema.EnumerateObject())
                    {
                        if (p.Name == "$ref")
                        {
                            var name = p.Value.GetString()!.Split('/')[^1];
                            if (PersonSchemas.Contains(name)) return true;
                            if (holding.TryGetValue(name, out var known)) { if (known) return true; continue; }
                            if (seen.Add(name) && Holds(schemas.GetProperty(name), seen)) return true;
                        }
                        else if (p.Name != "example" && Holds(p.Value, seen)) return true;
                    }
                    return false;
                case JsonValueKind.Array:
                    return schema.EnumerateArray().Any(e => Holds(e, seen));
                default:
                    return false;
            }
        }
        var expected = new SortedSet<string>();
        foreach (var path in Contract.GetProperty("paths").EnumerateObject())
        foreach (var op in path.Value.EnumerateObject())
        {
            var id = op.Value.GetProperty("operationId").GetString()!;
            foreach (var response in op.Value.GetProperty("responses").EnumerateObject().Where(r => r.Name.StartsWith('2')))
                if (response.Value.TryGetProperty("content", out var content) && Holds(content, []))
                    expected.Add(id);
        }
        Assert.Contains("GetReferral", expected);
        Assert.Contains("ListReceivedReferrals", expected);
        Assert.DoesNotContain("CountReferrals", expected);
        Assert.Equal(expected, MarkedOperations());
    }

    [Fact]
    public async Task Every_answer_that_carries_the_person_writes_an_access_record_and_the_others_do_not()
    {
        var ccas = await Ccas("09122"); // Foix
        var dep = await Dep("09");
        var sender = WithAgent(ccas.Client(Fx), "ccas-agent-7");
        var receiver = WithAgent(dep.Client(Fx), "dep-agent-3", "instruction RSA");
        var person = Person("09122");
        var created = await (await sender.PostJson("/v1/referrals", Draft("INCOME", person, receiverId: dep.Id)).Ok(HttpStatusCode.Created)).Read<ReferralDto>();
        var id = created.Id;
        await receiver.GetAsync($"/v1/referrals/{id}").Ok(); // first read: RECEIVED
        var (_, etag) = await Get(dep, id);
        await (await Post(dep, id, "acceptance", new { agent = Agent }, etag)).Content.ReadAsStringAsync();
        await sender.PostJson($"/v1/referrals/{id}/messages", new { agent = Agent, body = "Disponible le matin." }).Ok(HttpStatusCode.Created);
        await receiver.GetAsync($"/v1/referrals/{id}/messages").Ok();
        await receiver.GetAsync("/v1/referrals/received?limit=5").Ok();
        await sender.GetAsync("/v1/referrals/sent?limit=5").Ok();
        var before = (await AccessRows(id)).Count;
        // Answers without the person: routing, counts, assignments, the access log itself.
        await receiver.GetAsync("/v1/referrals/routing?commune=09122&need=INCOME").Ok();
        await receiver.GetAsync("/v1/referrals/counts?box=RECEIVED").Ok();
        await receiver.GetAsync($"/v1/referrals/{id}/assignments").Ok();
        await sender.GetAsync($"/v1/referrals/{id}/access-log").Ok();
        Assert.Equal(before, (await AccessRows(id)).Count);

        var rows = await AccessRows(id);
        var operations = rows.Select(r => r.Operation).ToHashSet();
        foreach (var op in new[] { "CreateReferral", "GetReferral", "AcceptReferral", "PostReferralMessage", "ListReferralMessages",
                     "ListReceivedReferrals", "ListSentReferrals" })
            Assert.Contains(op, operations);
        var read = rows.First(r => r.Operation == "ListReferralMessages");
        Assert.Equal(("dep-agent-3", "instruction RSA", dep.Id), (read.AgentReference, read.Purpose, read.OrganisationId));
        var create = rows.First(r => r.Operation == "CreateReferral");
        Assert.Equal(("ccas-agent-7", "referral: sending", ccas.Id), (create.AgentReference, create.Purpose, create.OrganisationId));

        // The organisations involved read the log; anyone else gets the 404 of an unknown id.
        var log = await (await dep.Client(Fx).GetAsync($"/v1/referrals/{id}/access-log?limit=500").Ok()).Read<PageResponse<AccessEntry>>();
        Assert.Equal(rows.Count, log.Items.Count);
        var stranger = await Ccas("46042"); // Cahors
        await (await stranger.Client(Fx).GetAsync($"/v1/referrals/{id}/access-log")).Problem(HttpStatusCode.NotFound, "not-found");
        // The platform-wide export for the DPO, by period; an organisation's key is refused.
        var export = await (await Fx.Admin().GetAsync("/v1/access-log?from=2026-11-25&to=2026-11-25&limit=500").Ok()).Read<PageResponse<AccessEntry>>();
        Assert.Contains(export.Items, e => e.ReferralId == id && e.Operation == "CreateReferral");
        Assert.Equal(HttpStatusCode.Forbidden, (await dep.Client(Fx).GetAsync("/v1/access-log?from=2026-11-25&to=2026-11-25")).StatusCode);
    }

    /// <summary>The operations the contract marks as able to carry a person (x-personal-data).</summary>
    private static SortedSet<string> MarkedOperations() =>
        new(Contract.GetProperty("paths").EnumerateObject().SelectMany(p => p.Value.EnumerateObject())
            .Where(op => op.Value.TryGetProperty("x-personal-data", out _)).Select(op => op.Value.GetProperty("operationId").GetString()!));

    [Fact]
    public async Task A_replayed_answer_that_carries_the_person_is_logged_as_the_first_was()
    {
        var ccas = await Ccas("09122"); // Foix
        var dep = await Dep("09");
        var sender = WithAgent(ccas.Client(Fx), "ccas-agent-2");
        var draft = Draft("INCOME", Person("09122"), receiverId: dep.Id);
        var first = await (await sender.PostJson("/v1/referrals", draft, "replayed-create").Ok(HttpStatusCode.Created)).Read<ReferralDto>();
        var again = await sender.PostJson("/v1/referrals", draft, "replayed-create").Ok(HttpStatusCode.Created);
        Assert.Equal("true", again.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(first.Id, (await again.Read<ReferralDto>()).Id);
        var message = new { agent = Agent, body = "Rappel demain." };
        await sender.PostJson($"/v1/referrals/{first.Id}/messages", message, "replayed-message").Ok(HttpStatusCode.Created);
        await sender.PostJson($"/v1/referrals/{first.Id}/messages", message, "replayed-message").Ok(HttpStatusCode.Created);

        var rows = await AccessRows(first.Id);
        Assert.Equal(2, rows.Count(r => r.Operation == "CreateReferral" && r.AgentReference == "ccas-agent-2"));
        Assert.Equal(2, rows.Count(r => r.Operation == "PostReferralMessage"));

        // A transfer's answer, to the receiver that let the referral go, no longer carries the person: neither it nor its
        // replay is logged as a read (the replay logs exactly what the first answer logged).
        var partner = await Partner("Épicerie solidaire de Foix", "09");
        var (_, tag) = await Get(dep, first.Id);
        Task<HttpResponseMessage> Transfer() =>
            Post(dep, first.Id, "transfer", new { agent = Agent, receiverId = partner.Id, reason = "DELEGATED" }, tag, "replayed-transfer");
        Assert.Null((await (await Transfer().Ok()).Read<ReferralDto>()).Person);
        Assert.Equal("true", (await Transfer().Ok()).Headers.GetValues("Idempotent-Replayed").Single());
        Assert.DoesNotContain(await AccessRows(first.Id), r => r.Operation == "TransferReferral");
    }

    [Fact]
    public async Task Every_operation_the_contract_marks_writes_its_access_record_when_it_serves_a_person()
    {
        var ccas = await Ccas("09122");
        var dep = await Dep("09");
        var partner = await Partner("Épicerie solidaire de l'Ariège", "09");
        var ids = new List<Guid>();
        async Task<Guid> New(object? consent = null)
        {
            var (r, _) = await Send(ccas, consent is null
                ? Draft("INCOME", Person("09122"), receiverId: dep.Id)
                : Draft("INCOME", Person("09122"), receiverId: dep.Id, consent: consent, statutory: null));
            ids.Add(r.Id);
            return r.Id;
        }
        var text = new { agent = Agent, text = "Texte." };
        // The whole life of one referral, with its thread, versions and dossier.
        var a = await New();
        // The receiver acknowledges before any read of its own (a first GET would record the receipt itself).
        await Post(dep, a, "receipt", new { }, (await Get(ccas, a)).ETag).Ok();
        await Act(dep, a, "information-requests", text);
        await Act(ccas, a, "information-answers", text);
        await Act(dep, a, "acceptance", new { agent = Agent });
        var (_, tag) = await Get(dep, a);
        await dep.Client(Fx).PutJson($"/v1/referrals/{a}/assigned-agent", new { assignedAgent = Agent }, tag).Ok();
        await Act(dep, a, "start", new { agent = Agent });
        await ccas.Client(Fx).PostJson($"/v1/referrals/{a}/messages", new { agent = Agent, body = "Message." }).Ok(HttpStatusCode.Created);
        await dep.Client(Fx).GetAsync($"/v1/referrals/{a}/messages").Ok();
        (_, tag) = await Get(ccas, a);
        var corrected = Person("09122");
        corrected["address"] = "1 place de la Mairie";
        await ccas.Client(Fx).PutJson($"/v1/referrals/{a}/person", new { person = corrected, context = "Rencontrée à l'accueil du CCAS ; factures impayées.", agent = Agent }, tag).Ok();
        await dep.Client(Fx).GetAsync($"/v1/referrals/{a}/person/versions").Ok();
        await ccas.Client(Fx).GetAsync($"/v1/referrals/{a}/dossier").Ok();
        await Act(dep, a, "completion", new { agent = Agent, outcome = "FILE_SUBMITTED", text = "Déposé." });
        await dep.Client(Fx).GetAsync("/v1/referrals/received?limit=5").Ok();
        await ccas.Client(Fx).GetAsync("/v1/referrals/sent?limit=5").Ok();
        // Declined, then re-oriented.
        var b = await New();
        await Act(dep, b, "decline", new { agent = Agent, reason = "NOT_COMPETENT", text = "Pas pour nous.", suggestedReceiverId = partner.Id });
        (_, tag) = await Get(ccas, b);
        var reoriented = await (await Post(ccas, b, "reorientation", new { agent = Agent, receiverId = partner.Id }, tag).Ok(HttpStatusCode.Created)).Read<ReferralDto>();
        ids.Add(reoriented.Id);
        // Cancelled; transferred; accepted, closed without outcome, then consent withdrawn.
        await Act(ccas, await New(), "cancellation", new { agent = Agent, reason = "SENT_BY_MISTAKE" });
        await Act(dep, await New(), "transfer", new { agent = Agent, receiverId = partner.Id, reason = "DELEGATED" });
        var c = await New(Consent("INCOME"));
        await Act(dep, c, "acceptance", new { agent = Agent });
        await Act(dep, c, "closure", new { agent = Agent, reason = "PERSON_DID_NOT_COME" });
        await Act(ccas, c, "consent/revocation", new { agent = Agent });

        var logged = new SortedSet<string>();
        foreach (var id in ids) logged.UnionWith((await AccessRows(id)).Select(r => r.Operation));
        // A transfer answers its caller as an earlier receiver, which no longer sees the person: nothing is logged.
        Assert.Equal(MarkedOperations().Except(["TransferReferral"]), logged);
    }

    [Fact]
    public async Task When_the_access_log_cannot_be_written_the_person_is_not_served()
    {
        var ccas = await Ccas("48095"); // Mende
        var dep = await Dep("48");
        var person = Person("48095");
        var (sent, _) = await Send(ccas, Draft("INCOME", person, receiverId: dep.Id));
        await Get(dep, sent.Id);
        var messages = await MessageCount(sent.Id);
        await Sql("ALTER TABLE person_access RENAME TO person_access_off");
        try
        {
            var read = await dep.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}");
            var body = await read.Content.ReadAsStringAsync();
            await read.Problem(HttpStatusCode.ServiceUnavailable, "access-log-unavailable");
            Assert.DoesNotContain((string)person["familyName"]!, body);
            await (await ccas.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/messages", new { agent = Agent, body = "Rappel." }))
                .Problem(HttpStatusCode.ServiceUnavailable, "access-log-unavailable");
            await (await dep.Client(Fx).GetAsync("/v1/referrals/received?limit=5")).Problem(HttpStatusCode.ServiceUnavailable, "access-log-unavailable");
        }
        finally { await Sql("ALTER TABLE person_access_off RENAME TO person_access"); }
        // The message whose answer could not be logged was not kept either.
        Assert.Equal(messages, await MessageCount(sent.Id));
        await dep.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}").Ok();
    }

    private async Task<int> MessageCount(Guid id)
    {
        await using var c = await Fx.Db.OpenAsync(CancellationToken.None);
        return await c.ExecuteScalarAsync<int>(Fx.Db.Command("SELECT COUNT(*) FROM referral_message WHERE referral_id = @id", new { id }, CancellationToken.None));
    }

    private async Task Sql(string sql)
    {
        await using var c = await Fx.Db.OpenAsync(CancellationToken.None);
        await c.ExecuteAsync(sql);
    }

    [Fact]
    public async Task Neither_the_database_file_nor_a_dump_holds_the_persons_name()
    {
        var ccas = await Ccas("09122");
        var dep = await Dep("09");
        var family = "Quenelleau" + Guid.NewGuid().ToString("N")[..6];
        var person = Person("09122", family);
        person["address"] = "17 impasse des Glycines";
        var (sent, _) = await Send(ccas, Draft("INCOME", person, receiverId: dep.Id));
        await ccas.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/messages", new { agent = Agent, body = $"Mme {family} rappellera." }).Ok(HttpStatusCode.Created);
        Assert.Equal(family, (await Get(ccas, sent.Id)).Referral.Person!.FamilyName);

        var copy = await Snapshot();
        Assert.Contains(sent.Id.ToString(), copy); // the copy holds the referral…
        Assert.DoesNotContain(family, copy, StringComparison.OrdinalIgnoreCase); // …and no name,
        Assert.DoesNotContain("Glycines", copy);
        Assert.DoesNotContain(PersonKey.Of(family, "Jeanne Marie", new DateOnly(1958, 4, 12)), copy, StringComparison.OrdinalIgnoreCase); // nor the plain search key.
    }

    /// <summary>What an attacker with a copy sees: the SQLite file (with its WAL), or a pg_dump of the database.</summary>
    private async Task<string> Snapshot()
    {
        if (Fx.Provider == DatabaseProvider.Sqlite)
        {
            var file = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(Fx.ConnectionString).DataSource;
            var bytes = new List<byte>();
            foreach (var f in new[] { file, file + "-wal" }.Where(File.Exists))
            {
                await using var stream = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var buffer = new MemoryStream();
                await stream.CopyToAsync(buffer);
                bytes.AddRange(buffer.ToArray());
            }
            return Encoding.UTF8.GetString(bytes.ToArray()) + Encoding.Unicode.GetString(bytes.ToArray());
        }
        var cs = new NpgsqlConnectionStringBuilder(Fx.ConnectionString);
        var pgDump = new[] { "/usr/lib/postgresql/15/bin/pg_dump", "pg_dump" }.First(p => p == "pg_dump" || File.Exists(p));
        var start = new ProcessStartInfo(pgDump, ["-h", cs.Host!, "-p", cs.Port.ToString(), "-U", cs.Username!, "-d", cs.Database!, "--data-only"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"pg_dump failed: {error}");
        return output;
    }

    private async Task<string> Payload(Guid referralId)
    {
        await using var c = await Fx.Db.OpenAsync(CancellationToken.None);
        return await c.ExecuteScalarAsync<string>(Fx.Db.Command(
            "SELECT payload FROM referral_person_version WHERE referral_id = @id AND version = 1", new { id = referralId }, CancellationToken.None)) ?? "";
    }

    [Fact]
    public async Task The_purge_destroys_the_person_of_referrals_closed_past_their_retention_and_audits_it()
    {
        var ccas = await Ccas("48095");
        var dep = await Dep("48");
        var (closed, _) = await Send(ccas, Draft("INCOME", Person("48095"), receiverId: dep.Id));
        await Act(ccas, closed.Id, "cancellation", new { agent = Agent, reason = "NO_LONGER_NEEDED", text = "Reprise d'emploi." });
        var (open, _) = await Send(ccas, Draft("INCOME", Person("48095"), receiverId: dep.Id));
        try
        {
            // One day before the end of the retention period: nothing to purge yet.
            Fx.Clock.Set(TestClock.Today.AddDays(364));
            Assert.DoesNotContain(closed.Id, (await Purge(dryRun: true)).Referrals);

            Fx.Clock.Set(TestClock.Today.AddDays(366));
            var dry = await Purge(dryRun: true);
            Assert.Contains(closed.Id, dry.Referrals);
            Assert.DoesNotContain(open.Id, dry.Referrals);
            Assert.NotNull((await Get(ccas, closed.Id)).Referral.Person); // a dry run changes nothing

            var report = await Purge(dryRun: false);
            Assert.Contains(closed.Id, report.Referrals);
            Assert.True(report.Versions >= 1 && report.Messages >= 1);
            var (purged, _) = await Get(ccas, closed.Id);
            Assert.Null(purged.Person);
            Assert.Null(purged.Context);
            Assert.Equal(Fx.Clock.GetUtcNow(), purged.PersonPurgedAt);
            Assert.Equal((ReferralStatus.CANCELLED, "INCOME", "48095"), (purged.Status, purged.Need, purged.CommuneInsee)); // statistics stay
            var thread = await (await ccas.Client(Fx).GetAsync($"/v1/referrals/{closed.Id}/messages").Ok()).Read<List<ThreadMessage>>();
            Assert.All(thread, m => Assert.Null(m.Body));
            Assert.NotNull((await Get(ccas, open.Id)).Referral.Person);
            Assert.DoesNotContain(closed.Id, (await Purge(dryRun: true)).Referrals);

            await using var c = await Fx.Db.OpenAsync(CancellationToken.None);
            Assert.Equal(1, await c.ExecuteScalarAsync<int>(Fx.Db.Command(
                "SELECT COUNT(*) FROM audit_event WHERE resource_id = @id AND action = 'referral.person-purged'", new { id = closed.Id }, CancellationToken.None)));
            Assert.True(await c.ExecuteScalarAsync<int>(Fx.Db.Command(
                "SELECT COUNT(*) FROM person_purge WHERE trigger_kind = 'COMMAND_LINE' AND referrals >= 1 AND purged_at = @now",
                new { now = Fx.Clock.GetUtcNow() }, CancellationToken.None)) == 1);
            Assert.Equal(0, await c.ExecuteScalarAsync<int>(Fx.Db.Command(
                "SELECT COUNT(*) FROM referral_person_version WHERE referral_id = @id", new { id = closed.Id }, CancellationToken.None)));
        }
        finally { Fx.Clock.Reset(); }
    }

    [Fact]
    public async Task A_convention_between_sender_and_receiver_sets_a_shorter_retention_for_the_referrals_it_covers()
    {
        var ccas = await Ccas("2A004"); // Ajaccio
        var dep = await Dep("2A");
        var body = new Dictionary<string, object?>
        {
            ["type"] = "PARTNERSHIP", ["object"] = "Orientation des demandeurs de RSA", ["competences"] = new[] { "RSA_INSTRUCTION" },
            ["parties"] = new[] { new { organisationId = dep.Id, role = "Département" }, new { organisationId = ccas.Id, role = "CCAS" } },
            ["communeIds"] = new[] { ccas.Organisation.CommuneId }, ["startOn"] = "2026-01-01", ["endOn"] = "2028-12-31", ["noticeDays"] = 90,
            ["allowsSubdelegation"] = false, ["personDataRetentionDays"] = 30,
        };
        var convention = await (await dep.Client(Fx).PostJson("/v1/conventions", body).Ok(HttpStatusCode.Created)).Read<CoordinationHub.Features.Conventions.ConventionDto>();
        Assert.Equal(30, convention.PersonDataRetentionDays);
        foreach (var p in new[] { dep, ccas })
            await p.Client(Fx).PostJson($"/v1/conventions/{convention.Id}/signatures", new { signerName = "Signataire", signedOn = "2025-12-20" }).Ok();
        var (covered, _) = await Send(ccas, Draft("INCOME", Person("2A004"), receiverId: dep.Id));
        var (other, _) = await Send(ccas, Draft("AUTONOMY", Person("2A004"), receiverId: dep.Id)); // APA: not covered, 365 days
        foreach (var id in new[] { covered.Id, other.Id })
            await Act(ccas, id, "cancellation", new { agent = Agent, reason = "SENT_BY_MISTAKE" });
        try
        {
            Fx.Clock.Set(TestClock.Today.AddDays(29));
            Assert.DoesNotContain(covered.Id, (await Purge(dryRun: true)).Referrals);
            Fx.Clock.Set(TestClock.Today.AddDays(31));
            var report = await Purge(dryRun: false);
            Assert.Contains(covered.Id, report.Referrals);
            Assert.DoesNotContain(other.Id, report.Referrals);
            Assert.Null((await Get(ccas, covered.Id)).Referral.Person);
            Assert.NotNull((await Get(ccas, other.Id)).Referral.Person);
        }
        finally { Fx.Clock.Reset(); }
    }

    [Fact]
    public async Task A_database_from_before_encryption_is_sealed_by_the_migrator_and_its_plaintext_table_dropped()
    {
        var ccas = await Ccas("09122");
        var dep = await Dep("09");
        var person = Person("09122", "Plaintext" + Guid.NewGuid().ToString("N")[..6]);
        var (sent, _) = await Send(ccas, Draft("INCOME", person, receiverId: dep.Id));
        var message = await (await ccas.Client(Fx).PostJson($"/v1/referrals/{sent.Id}/messages", new { agent = Agent, body = "Texte en clair" })
            .Ok(HttpStatusCode.Created)).Read<ThreadMessage>();
        // As migrations 0005–0008 left it: the person in plaintext in referral_person, the body and the key in clear.
        var uuid = Fx.Provider == DatabaseProvider.PostgreSQL ? "uuid" : "TEXT";
        await Sql($"""
            CREATE TABLE referral_person (referral_id {uuid} NOT NULL PRIMARY KEY, family_name varchar(200) NOT NULL,
                given_names varchar(200) NOT NULL, birth_date date NOT NULL, address varchar(500) NULL, contact_channel varchar(16) NULL,
                contact_value varchar(200) NULL, allocataire_number varchar(32) NULL, context text NULL)
            """);
        await using (var c = await Fx.Db.OpenAsync(CancellationToken.None))
        {
            await c.ExecuteAsync(Fx.Db.Command("DELETE FROM referral_person_version WHERE referral_id = @id", new { id = sent.Id }, CancellationToken.None));
            await c.ExecuteAsync(Fx.Db.Command("""
                INSERT INTO referral_person (referral_id, family_name, given_names, birth_date, address, contact_channel, contact_value,
                                             allocataire_number, context)
                VALUES (@id, @family, 'Jeanne Marie', @birthDate, '3 rue des Lilas', 'PHONE', '06 12 34 56 78', '1234567', 'Contexte')
                """, new { id = sent.Id, family = (string)person["familyName"]!, birthDate = new DateOnly(1958, 4, 12) }, CancellationToken.None));
            await c.ExecuteAsync(Fx.Db.Command("UPDATE referral_message SET body = 'Texte en clair' WHERE id = @id", new { id = message.Id }, CancellationToken.None));
            await c.ExecuteAsync(Fx.Db.Command("UPDATE referral SET person_key = 'PLAIN|KEY' WHERE id = @id", new { id = sent.Id }, CancellationToken.None));
        }

        await Fx.Services.GetRequiredService<Migrator>().MigrateAsync(CancellationToken.None);

        var (read, _) = await Get(ccas, sent.Id);
        Assert.Equal(((string)person["familyName"]!, "Contexte"), (read.Person!.FamilyName, read.Context));
        Assert.StartsWith("chv2:", await Payload(sent.Id));
        var thread = await (await ccas.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}/messages").Ok()).Read<List<ThreadMessage>>();
        Assert.Equal("Texte en clair", Assert.Single(thread).Body);
        await using var check = await Fx.Db.OpenAsync(CancellationToken.None);
        Assert.StartsWith("chv2:", await check.ExecuteScalarAsync<string>(Fx.Db.Command(
            "SELECT body FROM referral_message WHERE id = @id", new { id = message.Id }, CancellationToken.None)));
        Assert.NotEqual("PLAIN|KEY", await check.ExecuteScalarAsync<string>(Fx.Db.Command(
            "SELECT person_key FROM referral WHERE id = @id", new { id = sent.Id }, CancellationToken.None)));
        // The table is gone: a second run of the migrator finds nothing to do.
        await Fx.Services.GetRequiredService<Migrator>().MigrateAsync(CancellationToken.None);
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => check.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM referral_person"));
    }

    private async Task<PurgeReport> Purge(bool dryRun)
    {
        await using var scope = Fx.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<PersonDataPurge>().RunAsync(dryRun, PurgeTrigger.COMMAND_LINE, CancellationToken.None);
    }

    [Fact]
    public async Task The_sender_rectifies_the_person_and_the_receiver_sees_what_changed()
    {
        var ccas = await Ccas("09122");
        var dep = await Dep("09");
        var person = Person("09122");
        var (sent, _) = await Send(ccas, Draft("INCOME", person, receiverId: dep.Id));
        var (_, etag) = await Get(ccas, sent.Id);
        var corrected = new Dictionary<string, object?>(person) { ["address"] = "8 rue du Palais", ["givenNames"] = "Jeanne" };
        var rectified = await (await ccas.Client(Fx).PutJson($"/v1/referrals/{sent.Id}/person", new { person = corrected, context = "Rencontrée à l'accueil du CCAS ; factures impayées.", agent = Agent }, etag).Ok()).Read<ReferralDto>();
        Assert.Equal("8 rue du Palais", rectified.Person!.Address);

        var versions = await (await dep.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}/person/versions").Ok()).Read<List<PersonVersion>>();
        Assert.Equal([1, 2], versions.Select(v => v.Version));
        Assert.Equal(["givenNames", "address"], versions[1].ChangedFields);
        Assert.Equal("3 rue des Lilas", versions[0].Person.Address);
        var thread = await (await dep.Client(Fx).GetAsync($"/v1/referrals/{sent.Id}/messages").Ok()).Read<List<ThreadMessage>>();
        Assert.Contains(thread, m => m.Kind == MessageKind.RECTIFICATION && m.Body!.Contains("givenNames, address"));
        // The search by person follows the correction (blind index).
        var found = await (await ccas.Client(Fx).GetAsync($"/v1/referrals/sent?familyName={person["familyName"]}&givenNames=Jeanne&birthDate=1958-04-12").Ok())
            .Read<PageResponse<ReferralSummary>>();
        Assert.Equal(sent.Id, Assert.Single(found.Items).Id);
        Assert.Equal("Jeanne", found.Items[0].Person!.GivenNames);

        var (_, tag) = await Get(ccas, sent.Id);
        var moved = new Dictionary<string, object?>(corrected) { ["communeInsee"] = "09225" };
        await (await ccas.Client(Fx).PutJson($"/v1/referrals/{sent.Id}/person", new { person = moved, agent = Agent }, tag))
            .Problem(HttpStatusCode.UnprocessableEntity, "referrals.commune-unchanged");
        await (await ccas.Client(Fx).PutJson($"/v1/referrals/{sent.Id}/person", new { person = corrected, context = "Rencontrée à l'accueil du CCAS ; factures impayées.", agent = Agent }, tag))
            .Problem(HttpStatusCode.UnprocessableEntity, "referrals.nothing-to-rectify");
        var (_, depTag) = await Get(dep, sent.Id);
        await (await dep.Client(Fx).PutJson($"/v1/referrals/{sent.Id}/person", new { person = corrected, agent = Agent }, depTag))
            .Problem(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Erasure_on_consent_purges_at_once_and_on_a_statutory_basis_is_refused_with_its_legal_reference()
    {
        var ccas = await Ccas("46042");
        var dep = await Dep("46");
        var (consented, _) = await Send(ccas, Draft("INCOME", Person("46042"), receiverId: dep.Id, consent: Consent("INCOME"), statutory: null));
        await Get(dep, consented.Id);
        var erased = await (await ccas.Client(Fx).PostJson($"/v1/referrals/{consented.Id}/person/requests", new { kind = "ERASURE", agent = Agent })
            .Ok(HttpStatusCode.Created)).Read<PersonRequestDto>();
        Assert.Equal(PersonRequestOutcome.ERASED, erased.Outcome);
        var (after, _) = await Get(dep, consented.Id);
        Assert.Null(after.Person);
        Assert.NotNull(after.PersonPurgedAt);
        Assert.Equal((ReferralStatus.CANCELLED, CancelReason.CONSENT_WITHDRAWN), (after.Status, after.CancelReason));

        var (statutory, _) = await Send(ccas, Draft("INCOME", Person("46042"), receiverId: dep.Id, statutory: "RSA_ORIENTATION"));
        var refused = await (await dep.Client(Fx).PostJson($"/v1/referrals/{statutory.Id}/person/requests", new { kind = "OBJECTION", agent = Agent })
            .Ok(HttpStatusCode.Created)).Read<PersonRequestDto>();
        Assert.Equal((PersonRequestOutcome.REFUSED_STATUTORY, "CASF L262-29 ; L262-40"), (refused.Outcome, refused.LegalReference));
        Assert.NotNull((await Get(ccas, statutory.Id)).Referral.Person);

        // The dossier: everything held, for the organisation to hand over; its read is logged too.
        var dossier = await (await ccas.Client(Fx).GetAsync($"/v1/referrals/{statutory.Id}/dossier").Ok()).Read<ReferralDossier>();
        Assert.Equal(statutory.Id, dossier.Referral.Id);
        Assert.NotNull(dossier.Referral.Person);
        Assert.Single(dossier.PersonVersions);
        Assert.Contains(dossier.History, e => e.Action == "referral.sent");
        Assert.Contains(dossier.History, e => e.Action == "referral.person-request");
        Assert.Contains(dossier.Thread, m => m.Kind == MessageKind.PERSON_REQUEST);
        Assert.Contains(dossier.AccessLog, a => a.Operation == "CreateReferral");
        Assert.Equal(refused.Id, Assert.Single(dossier.Requests).Id);
        Assert.Contains(await AccessRows(statutory.Id), r => r.Operation == "GetReferralDossier" && r.Purpose == "right of access (GDPR art. 15)");
        var stranger = await Ccas("48095");
        await (await stranger.Client(Fx).GetAsync($"/v1/referrals/{statutory.Id}/dossier")).Problem(HttpStatusCode.NotFound, "not-found");
    }
}

[Collection(SqliteCollection.Name)] public sealed class PersonalDataTests_Sqlite(SqliteFixture f) : PersonalDataTests(f);
[Collection(PostgresCollection.Name)] public sealed class PersonalDataTests_Postgres(PostgresFixture f) : PersonalDataTests(f);
