using System.Data.Common;
using System.Text.Json;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.OpenApi;
using CoordinationHub.Platform.Security;
using Dapper;

namespace CoordinationHub.Features.Referrals;

/// <summary>The person as stored for one referral, with the sender's free-text context.</summary>
public sealed record PersonRecord(PersonInput Person, string? Context);

/// <summary>Who wrote a version of the person's data.</summary>
public sealed record PersonAuthor(Guid OrganisationId, AgentInput Agent);

/// <summary>One version of the person's data: the first as sent, then each correction by the sender.</summary>
[ContractName("PersonVersion")]
public sealed record PersonVersion(
    int Version, PersonInput Person, string? Context, IReadOnlyList<string> ChangedFields, Guid AuthorOrganisationId, AgentInput AuthorAgent,
    DateTimeOffset CreatedAt);

/// <summary>
/// The only code that reads or writes the person's data: names, birth date, address, contact,
/// allocataire number, free-text context and the bodies of thread messages. All of it is sealed
/// (AES-GCM, <see cref="PersonCipher"/>) before it reaches the database; the duplicate guard and the
/// search by person use a blind index (<see cref="KeyOf"/>), never the names.
/// </summary>
public sealed class ReferralPersonData(Db db, PersonCipher cipher)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The blind index of the person (normalised family name, every given name, birth date).</summary>
    public string KeyOf(string familyName, string givenNames, DateOnly birthDate) => cipher.BlindIndex(PersonKey.Of(familyName, givenNames, birthDate));

    public string KeyOf(PersonInput p) => KeyOf(p.FamilyName, p.GivenNames, p.BirthDate);

    /// <summary>Writes version <paramref name="version"/> of the person of a referral.</summary>
    public Task WriteAsync(DbConnection c, DbTransaction tx, Guid referralId, int version, PersonRecord record, IReadOnlyList<string> changed,
        PersonAuthor author, DateTimeOffset now, CancellationToken ct) =>
        WriteAsync(c, tx, Seal(referralId, version, record), changed, author, now, ct);

    /// <summary>Version <paramref name="version"/> of a referral's person, sealed to be written (before the transaction, if need be).</summary>
    public SealedPerson Seal(Guid referralId, int version, PersonRecord record) =>
        new(referralId, version, cipher.Seal(JsonSerializer.Serialize(record, Json), Context(referralId, version)));

    public sealed record SealedPerson(Guid ReferralId, int Version, string Payload);

    /// <summary>Writes a version of the person of a referral, sealed by <see cref="Seal"/>.</summary>
    public Task WriteAsync(DbConnection c, DbTransaction tx, SealedPerson person, IReadOnlyList<string> changed, PersonAuthor author,
        DateTimeOffset now, CancellationToken ct) =>
        c.ExecuteAsync(db.Command(InsertSql, new
        {
            person.ReferralId, person.Version, person.Payload,
            changedFields = changed.Count == 0 ? null : string.Join(',', changed), authorOrganisationId = author.OrganisationId,
            authorAgentReference = author.Agent.Reference.Trim(), authorAgentName = author.Agent.DisplayName.Trim(), createdAt = now,
        }, ct, tx));

    /// <summary>The person as it is stored: trimmed.</summary>
    public static PersonRecord Clean(PersonInput p, string? context) => new(p with
    {
        FamilyName = p.FamilyName.Trim(), GivenNames = p.GivenNames.Trim(), Address = p.Address?.Trim(),
        Contact = p.Contact is { } c ? c with { Value = c.Value.Trim() } : null, AllocataireNumber = p.AllocataireNumber?.Trim(),
    }, context?.Trim());

    /// <summary>The fields that differ between two versions, by their contract names.</summary>
    public static IReadOnlyList<string> Changes(PersonRecord before, PersonRecord after)
    {
        var (a, b) = (before.Person, after.Person);
        var changed = new List<string>();
        void If(bool differs, string field) { if (differs) changed.Add(field); }
        If(a.FamilyName != b.FamilyName, "familyName");
        If(a.GivenNames != b.GivenNames, "givenNames");
        If(a.BirthDate != b.BirthDate, "birthDate");
        If(a.Address != b.Address, "address");
        If(a.Contact != b.Contact, "contact");
        If(a.AllocataireNumber != b.AllocataireNumber, "allocataireNumber");
        If(before.Context != after.Context, "context");
        return changed;
    }

    /// <summary>The current version of the person, or null when there is none (purged).</summary>
    public async Task<PersonRecord?> ReadAsync(DbConnection c, DbTransaction? tx, Guid referralId, CancellationToken ct)
    {
        var row = await c.QuerySingleOrDefaultAsync<VersionRow>(db.Command(CurrentSql, new { referralId }, ct, tx));
        return row is null ? null : Open(row);
    }

    /// <summary>The current person of each referral, by id (a page of a box).</summary>
    public async Task<IReadOnlyDictionary<Guid, PersonRecord>> ReadManyAsync(DbConnection c, DbTransaction? tx, IReadOnlyList<Guid> ids, CancellationToken ct)
    {
        if (ids.Count == 0) return new Dictionary<Guid, PersonRecord>();
        var rows = await c.QueryAsync<VersionRow>(db.Command(CurrentManySql, new { ids }, ct, tx));
        return rows.ToDictionary(r => r.ReferralId, Open);
    }

    /// <summary>Every version, oldest first.</summary>
    public async Task<IReadOnlyList<PersonVersion>> ReadVersionsAsync(DbConnection c, DbTransaction? tx, Guid referralId, CancellationToken ct)
    {
        var rows = await c.QueryAsync<VersionRow>(db.Command(VersionsSql, new { referralId }, ct, tx));
        return rows.Select(r =>
        {
            var record = Open(r);
            return new PersonVersion(r.Version, record.Person, record.Context,
                r.ChangedFields?.Split(',') ?? [], r.AuthorOrganisationId, new AgentInput(r.AuthorAgentReference, r.AuthorAgentName), r.CreatedAt);
        }).ToList();
    }

    /// <summary>Copies the current person to a new referral (re-orientation), sealed for the new one.</summary>
    public async Task CopyAsync(DbConnection c, DbTransaction tx, Guid from, Guid to, PersonAuthor author, DateTimeOffset now, CancellationToken ct)
    {
        if (await ReadAsync(c, tx, from, ct) is { } person) await WriteAsync(c, tx, to, 1, person, [], author, now, ct);
    }

    public Task WriteMessageAsync(DbConnection c, DbTransaction tx, ThreadMessage m, Guid referralId, CancellationToken ct) =>
        c.ExecuteAsync(db.Command(InsertMessageSql, new
        {
            m.Id, referralId, m.Seq, kind = m.Kind.ToString(), authorOrganisationId = m.AuthorOrganisation.Id,
            authorAgentReference = m.AuthorAgent.Reference, authorAgentName = m.AuthorAgent.DisplayName,
            body = m.Body is null ? null : SealMessage(m.Id, m.Body), m.CreatedAt,
        }, ct, tx));

    public string SealMessage(Guid messageId, string body) => cipher.Seal(body, MessageContext(messageId));

    /// <summary>The thread, in order; <paramref name="untilSeq"/> limits it to what an earlier receiver saw.</summary>
    public async Task<IReadOnlyList<ThreadMessage>> ReadThreadAsync(DbConnection c, DbTransaction? tx, Guid referralId, int? untilSeq, CancellationToken ct)
    {
        var rows = await c.QueryAsync<MessageRow>(db.Command(ThreadSql, new { referralId }, ct, tx));
        return rows.Where(r => untilSeq is null || r.Seq <= untilSeq)
            .Select(r => new ThreadMessage(r.Id, r.Seq, Enum.Parse<MessageKind>(r.Kind),
                new ReferralOrganisation(r.AuthorOrganisationId, r.OrganisationName, r.OrganisationKind),
                new AgentInput(r.AuthorAgentReference, r.AuthorAgentName), r.Body is null ? null : cipher.Open(r.Body, MessageContext(r.Id)), r.CreatedAt))
            .ToList();
    }

    /// <summary>Destroys the person's data of these referrals: every version and every message body.</summary>
    public async Task<(int Versions, int Messages)> PurgeAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Guid> ids, CancellationToken ct)
    {
        var versions = await c.ExecuteAsync(db.Command(PurgeVersionsSql, new { ids }, ct, tx));
        var messages = await c.ExecuteAsync(db.Command(PurgeMessagesSql, new { ids }, ct, tx));
        return (versions, messages);
    }

    /// <summary>
    /// Seals again, with the active key, up to <paramref name="batch"/> values sealed with another key.
    /// Returns how many it did; run it until it returns 0.
    /// </summary>
    public async Task<int> ReencryptAsync(int batch, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            var active = PersonCipher.PrefixOf(cipher.ActiveKeyId) + "%";
            var done = 0;
            foreach (var r in await c.QueryAsync<VersionRow>(db.Command(StaleVersionsSql, new { active, limit = batch }, t, tx)))
            {
                var payload = cipher.Seal(cipher.Open(r.Payload, Context(r.ReferralId, r.Version)), Context(r.ReferralId, r.Version));
                done += await c.ExecuteAsync(db.Command(UpdateVersionSql, new { r.ReferralId, r.Version, payload }, t, tx));
            }
            foreach (var m in await c.QueryAsync<SealedBody>(db.Command(StaleMessagesSql, new { active, limit = batch }, t, tx)))
                done += await c.ExecuteAsync(db.Command(UpdateMessageSql,
                    new { m.Id, body = cipher.Seal(cipher.Open(m.Body, MessageContext(m.Id)), MessageContext(m.Id)) }, t, tx));
            return done;
        }, ct);

    private PersonRecord Open(VersionRow r) =>
        JsonSerializer.Deserialize<PersonRecord>(cipher.Open(r.Payload, Context(r.ReferralId, r.Version)), Json)!;

    private static string Context(Guid referralId, int version) => $"person:{referralId}:{version}";
    private static string MessageContext(Guid messageId) => $"message:{messageId}";

    private sealed class VersionRow
    {
        public Guid ReferralId { get; init; }
        public int Version { get; init; }
        public string Payload { get; init; } = "";
        public string? ChangedFields { get; init; }
        public Guid AuthorOrganisationId { get; init; }
        public string AuthorAgentReference { get; init; } = "";
        public string AuthorAgentName { get; init; } = "";
        public DateTimeOffset CreatedAt { get; init; }
    }

    private sealed class SealedBody
    {
        public Guid Id { get; init; }
        public string Body { get; init; } = "";
    }

    private sealed class MessageRow
    {
        public Guid Id { get; init; }
        public int Seq { get; init; }
        public string Kind { get; init; } = "";
        public Guid AuthorOrganisationId { get; init; }
        public string OrganisationName { get; init; } = "";
        public string OrganisationKind { get; init; } = "";
        public string AuthorAgentReference { get; init; } = "";
        public string AuthorAgentName { get; init; } = "";
        public string? Body { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
    }

    private const string VersionColumns =
        "v.referral_id, v.version, v.payload, v.changed_fields, v.author_organisation_id, v.author_agent_reference, v.author_agent_name, v.created_at";
    private const string InsertSql = """
        INSERT INTO referral_person_version (referral_id, version, payload, changed_fields, author_organisation_id, author_agent_reference,
                                             author_agent_name, created_at)
        VALUES (@referralId, @version, @payload, @changedFields, @authorOrganisationId, @authorAgentReference, @authorAgentName, @createdAt)
        """;
    private const string CurrentSql = $"""
        SELECT {VersionColumns} FROM referral_person_version v
        WHERE v.referral_id = @referralId
          AND v.version = (SELECT MAX(m.version) FROM referral_person_version m WHERE m.referral_id = @referralId)
        """;
    private const string CurrentManySql = $"""
        SELECT {VersionColumns} FROM referral_person_version v
        WHERE v.referral_id {"{in:ids}"}
          AND v.version = (SELECT MAX(m.version) FROM referral_person_version m WHERE m.referral_id = v.referral_id)
        """;
    private const string VersionsSql = $"SELECT {VersionColumns} FROM referral_person_version v WHERE v.referral_id = @referralId ORDER BY v.version";
    private const string StaleVersionsSql = $"""
        SELECT {VersionColumns} FROM referral_person_version v WHERE v.payload NOT LIKE @active ORDER BY v.referral_id, v.version {"{limit}"}
        """;
    private const string UpdateVersionSql = "UPDATE referral_person_version SET payload = @payload WHERE referral_id = @referralId AND version = @version";
    private const string StaleMessagesSql = """
        SELECT id, body FROM referral_message WHERE body IS NOT NULL AND body NOT LIKE @active ORDER BY id {limit}
        """;
    private const string UpdateMessageSql = "UPDATE referral_message SET body = @body WHERE id = @id";
    private const string PurgeVersionsSql = "DELETE FROM referral_person_version WHERE referral_id {in:ids}";
    private const string PurgeMessagesSql = "UPDATE referral_message SET body = NULL WHERE referral_id {in:ids} AND body IS NOT NULL";
    private const string InsertMessageSql = """
        INSERT INTO referral_message (id, referral_id, seq, kind, author_organisation_id, author_agent_reference, author_agent_name,
                                      body, created_at)
        VALUES (@id, @referralId, @seq, @kind, @authorOrganisationId, @authorAgentReference, @authorAgentName, @body, @createdAt)
        """;
    private const string ThreadSql = """
        SELECT m.id, m.seq, m.kind, m.author_organisation_id, o.name AS organisation_name, o.kind AS organisation_kind,
               m.author_agent_reference, m.author_agent_name, m.body, m.created_at
        FROM referral_message m JOIN organisation o ON o.id = m.author_organisation_id
        WHERE m.referral_id = @referralId
        ORDER BY m.seq
        """;
}
