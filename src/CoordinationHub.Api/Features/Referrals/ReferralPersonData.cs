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
/// (AES-GCM, <see cref="PersonCipher"/>) with the referral's own data key (<see cref="DataKeys"/>) before it
/// reaches the database, so that destroying that key (erasure, purge) shreds every copy; the duplicate guard
/// and the search by person use a blind index (<see cref="KeyOf"/>), never the names.
/// </summary>
public sealed class ReferralPersonData(Db db, PersonCipher cipher, DataKeys keys)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The blind index of the person (normalised family name, every given name, birth date).</summary>
    public string KeyOf(string familyName, string givenNames, DateOnly birthDate) => cipher.BlindIndex(PersonKey.Of(familyName, givenNames, birthDate));

    public string KeyOf(PersonInput p) => KeyOf(p.FamilyName, p.GivenNames, p.BirthDate);

    /// <summary>Writes version <paramref name="version"/> of the person of a referral.</summary>
    public async Task WriteAsync(DbConnection c, DbTransaction tx, Guid referralId, int version, PersonRecord record, IReadOnlyList<string> changed,
        PersonAuthor author, DateTimeOffset now, CancellationToken ct)
    {
        var key = await keys.FindOrCreateAsync(c, tx, referralId, now, ct);
        await WriteAsync(c, tx, new SealedPerson(referralId, version, Seal(key, referralId, version, record), null), changed, author, now, ct);
    }

    /// <summary>The first version of a new referral's person, sealed with a new data key (before the transaction, if need be).</summary>
    public SealedPerson SealNew(Guid referralId, PersonRecord record)
    {
        var key = keys.Create(referralId);
        return new(referralId, 1, Seal(key.Key, referralId, 1, record), key);
    }

    private static string Seal(byte[] key, Guid referralId, int version, PersonRecord record) =>
        PersonCipher.Seal(key, JsonSerializer.Serialize(record, Json), Context(referralId, version));

    /// <summary>A sealed version; <paramref name="NewKey"/>: the new referral's data key, stored with it.</summary>
    public sealed record SealedPerson(Guid ReferralId, int Version, string Payload, DataKeys.NewKey? NewKey);

    /// <summary>Writes a version of the person of a referral, sealed by <see cref="SealNew"/>.</summary>
    public async Task WriteAsync(DbConnection c, DbTransaction tx, SealedPerson person, IReadOnlyList<string> changed, PersonAuthor author,
        DateTimeOffset now, CancellationToken ct)
    {
        if (person.NewKey is { } key) await keys.InsertAsync(c, tx, key, now, ct);
        await c.ExecuteAsync(db.Command(InsertSql, new
        {
            person.ReferralId, person.Version, person.Payload,
            changedFields = changed.Count == 0 ? null : string.Join(',', changed), authorOrganisationId = author.OrganisationId,
            authorAgentReference = author.Agent.Reference.Trim(), authorAgentName = author.Agent.DisplayName.Trim(), createdAt = now,
        }, ct, tx));
    }

    /// <summary>
    /// The consent's purpose is a free text that often names the person: sealed with the referral's data key, shredded with the
    /// person. The rest of the consent (scope, method, dates, who collected it) stays in clear: the legal basis outlives erasure.
    /// </summary>
    public string SealConsentPurpose(SealedPerson person, string purpose) =>
        PersonCipher.Seal(person.NewKey!.Key, purpose, ConsentContext(person.ReferralId));

    /// <summary>The consent's purpose, or null when it was shredded with the person (or there is none).</summary>
    public async Task<string?> OpenConsentPurposeAsync(DbConnection c, DbTransaction? tx, ReferralRow r, CancellationToken ct) =>
        r.ConsentPurpose is not { } stored || !PersonCipher.IsSealed(stored) ? r.ConsentPurpose
            : OpenConsentPurpose(await keys.FindAsync(c, tx, r.Id, ct), r.Id, stored);

    private string? OpenConsentPurpose(byte[]? key, Guid referralId, string stored)
    {
        if (key is null) return null;
        try { return cipher.Open(key, stored, ConsentContext(referralId)); }
        catch (System.Security.Cryptography.CryptographicException) { return null; } // a key made after the purge
    }

    /// <summary>The current person and the consent's purpose, with one look-up of the data key (a referral's answer).</summary>
    public async Task<(PersonRecord? Person, string? ConsentPurpose)> ReadWithConsentAsync(DbConnection c, DbTransaction? tx, ReferralRow r,
        bool withPerson, CancellationToken ct)
    {
        var row = withPerson ? await c.QuerySingleOrDefaultAsync<VersionRow>(db.Command(CurrentSql, new { referralId = r.Id }, ct, tx)) : null;
        if (row?.Wrapped is null || r.ConsentPurpose is not { } stored || !PersonCipher.IsSealed(stored))
            return (row is null ? null : Open(row), await OpenConsentPurposeAsync(c, tx, r, ct));
        var key = cipher.Unwrap(row.Wrapped, r.Id);
        return (Open(row, key), OpenConsentPurpose(key, r.Id, stored));
    }

    /// <summary>A re-orientation's consent purpose, sealed again with the new referral's data key.</summary>
    public async Task CarryConsentPurposeAsync(DbConnection c, DbTransaction tx, ReferralRow from, ReferralRow to, DateTimeOffset now,
        CancellationToken ct) =>
        to.ConsentPurpose = await OpenConsentPurposeAsync(c, tx, from, ct) is { } purpose
            ? PersonCipher.Seal(await keys.FindOrCreateAsync(c, tx, to.Id, now, ct), purpose, ConsentContext(to.Id))
            : null;

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

    /// <summary>The current version of the person, or null when there is none (purged, or its data key destroyed).</summary>
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
        return rows.Select(r => (r.ReferralId, Record: Open(r))).Where(r => r.Record is not null).ToDictionary(r => r.ReferralId, r => r.Record!);
    }

    /// <summary>Every version, oldest first.</summary>
    public async Task<IReadOnlyList<PersonVersion>> ReadVersionsAsync(DbConnection c, DbTransaction? tx, Guid referralId, CancellationToken ct)
    {
        var rows = await c.QueryAsync<VersionRow>(db.Command(VersionsSql, new { referralId }, ct, tx));
        return rows.Select(r => (Row: r, Record: Open(r))).Where(x => x.Record is not null).Select(x =>
        {
            var (r, record) = (x.Row, x.Record!);
            return new PersonVersion(r.Version, record.Person, record.Context,
                r.ChangedFields?.Split(',') ?? [], r.AuthorOrganisationId, new AgentInput(r.AuthorAgentReference, r.AuthorAgentName), r.CreatedAt);
        }).ToList();
    }

    /// <summary>Copies the current person to a new referral (re-orientation), sealed for the new one.</summary>
    public async Task CopyAsync(DbConnection c, DbTransaction tx, Guid from, Guid to, PersonAuthor author, DateTimeOffset now, CancellationToken ct)
    {
        if (await ReadAsync(c, tx, from, ct) is { } person) await WriteAsync(c, tx, to, 1, person, [], author, now, ct);
    }

    /// <summary>
    /// Writes a message of the thread, its body sealed with the referral's data key (a new one when the person was
    /// purged: what is written after, e.g. the note of an erasure, is not under the destroyed key).
    /// </summary>
    public async Task WriteMessageAsync(DbConnection c, DbTransaction tx, ThreadMessage m, Guid referralId, CancellationToken ct)
    {
        var body = m.Body is null ? null : PersonCipher.Seal(await keys.FindOrCreateAsync(c, tx, referralId, m.CreatedAt, ct), m.Body, MessageContext(m.Id));
        await c.ExecuteAsync(db.Command(InsertMessageSql, new
        {
            m.Id, referralId, m.Seq, kind = m.Kind.ToString(), authorOrganisationId = m.AuthorOrganisation.Id,
            authorAgentReference = m.AuthorAgent.Reference, authorAgentName = m.AuthorAgent.DisplayName, body, m.CreatedAt,
        }, ct, tx));
    }

    /// <summary>Seals a message body already written in clear (databases from before encryption), in the caller's transaction.</summary>
    public async Task<string> SealMessageAsync(DbConnection c, DbTransaction tx, Guid referralId, Guid messageId, string body, DateTimeOffset now,
        CancellationToken ct) =>
        PersonCipher.Seal(await keys.FindOrCreateAsync(c, tx, referralId, now, ct), body, MessageContext(messageId));

    /// <summary>The thread, in order; <paramref name="untilSeq"/> limits it to what an earlier receiver saw.</summary>
    public async Task<IReadOnlyList<ThreadMessage>> ReadThreadAsync(DbConnection c, DbTransaction? tx, Guid referralId, int? untilSeq, CancellationToken ct)
    {
        var rows = (await c.QueryAsync<MessageRow>(db.Command(ThreadSql, new { referralId }, ct, tx))).ToList();
        var key = rows.FirstOrDefault(r => r.Body is not null)?.Wrapped is { } wrapped ? cipher.Unwrap(wrapped, referralId) : null;
        return rows.Where(r => untilSeq is null || r.Seq <= untilSeq)
            .Select(r => new ThreadMessage(r.Id, r.Seq, Enum.Parse<MessageKind>(r.Kind),
                new ReferralOrganisation(r.AuthorOrganisationId, r.OrganisationName, r.OrganisationKind),
                new AgentInput(r.AuthorAgentReference, r.AuthorAgentName), OpenMessage(key, r), r.CreatedAt))
            .ToList();
    }

    /// <summary>
    /// Destroys the person's data of these referrals: their data keys first (every copy of what they sealed, anywhere,
    /// stops opening: stored idempotent answers, free pages, WAL, dead tuples, backups), then every version and message body.
    /// </summary>
    public async Task<(int Versions, int Messages)> PurgeAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Guid> ids, CancellationToken ct)
    {
        await keys.DestroyAsync(c, tx, ids, ct);
        var versions = await c.ExecuteAsync(db.Command(PurgeVersionsSql, new { ids }, ct, tx));
        var messages = await c.ExecuteAsync(db.Command(PurgeMessagesSql, new { ids }, ct, tx));
        return (versions, messages);
    }

    /// <summary>
    /// Moves up to <paramref name="batch"/> values of the first scheme (sealed with a ring key directly, <c>chv1:</c>) under
    /// their referral's data key, so that erasure shreds them too. Returns how many it did; run it until it returns 0.
    /// </summary>
    public async Task<int> SealLegacyAsync(int batch, DateTimeOffset now, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            var done = 0;
            foreach (var r in await c.QueryAsync<VersionRow>(db.Command(LegacyVersionsSql, new { limit = batch }, t, tx)))
            {
                var key = await keys.FindOrCreateAsync(c, tx, r.ReferralId, now, t);
                var payload = PersonCipher.Seal(key, cipher.Open(null, r.Payload, Context(r.ReferralId, r.Version)), Context(r.ReferralId, r.Version));
                done += await c.ExecuteAsync(db.Command(UpdateVersionSql, new { r.ReferralId, r.Version, payload }, t, tx));
            }
            foreach (var m in await c.QueryAsync<SealedBody>(db.Command(LegacyMessagesSql, new { limit = batch }, t, tx)))
            {
                var key = await keys.FindOrCreateAsync(c, tx, m.ReferralId, now, t);
                var body = PersonCipher.Seal(key, cipher.Open(null, m.Body, MessageContext(m.Id)), MessageContext(m.Id));
                done += await c.ExecuteAsync(db.Command(UpdateMessageSql, new { m.Id, body }, t, tx));
            }
            return done;
        }, ct);

    // A version or body whose data key was destroyed reads as purged, whatever copy of it was found.
    private PersonRecord? Open(VersionRow r) => Open(r, r.Wrapped is null ? null : cipher.Unwrap(r.Wrapped, r.ReferralId));

    private PersonRecord? Open(VersionRow r, byte[]? key) =>
        key is null && !PersonCipher.IsLegacy(r.Payload) ? null
            : JsonSerializer.Deserialize<PersonRecord>(cipher.Open(key, r.Payload, Context(r.ReferralId, r.Version)), Json)!;

    private string? OpenMessage(byte[]? key, MessageRow r) =>
        r.Body is null || (key is null && !PersonCipher.IsLegacy(r.Body)) ? null : cipher.Open(key, r.Body, MessageContext(r.Id));

    private static string Context(Guid referralId, int version) => $"person:{referralId}:{version}";
    private static string MessageContext(Guid messageId) => $"message:{messageId}";
    internal static string ConsentContext(Guid referralId) => $"consent-purpose:{referralId}";

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
        public string? Wrapped { get; init; }
    }

    private sealed class SealedBody
    {
        public Guid Id { get; init; }
        public Guid ReferralId { get; init; }
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
        public string? Wrapped { get; init; }
    }

    private const string VersionColumns = "v.referral_id, v.version, v.payload, v.changed_fields, v.author_organisation_id, "
        + "v.author_agent_reference, v.author_agent_name, v.created_at, k.wrapped";
    private const string WithKey = "referral_person_version v LEFT JOIN data_key k ON k.owner_id = v.referral_id";
    private const string InsertSql = """
        INSERT INTO referral_person_version (referral_id, version, payload, changed_fields, author_organisation_id, author_agent_reference,
                                             author_agent_name, created_at)
        VALUES (@referralId, @version, @payload, @changedFields, @authorOrganisationId, @authorAgentReference, @authorAgentName, @createdAt)
        """;
    private const string CurrentSql = $"""
        SELECT {VersionColumns} FROM {WithKey}
        WHERE v.referral_id = @referralId
          AND v.version = (SELECT MAX(m.version) FROM referral_person_version m WHERE m.referral_id = @referralId)
        """;
    private const string CurrentManySql = $"""
        SELECT {VersionColumns} FROM {WithKey}
        WHERE v.referral_id {"{in:ids}"}
          AND v.version = (SELECT MAX(m.version) FROM referral_person_version m WHERE m.referral_id = v.referral_id)
        """;
    private const string VersionsSql = $"SELECT {VersionColumns} FROM {WithKey} WHERE v.referral_id = @referralId ORDER BY v.version";
    private const string LegacyVersionsSql = $"""
        SELECT {VersionColumns} FROM {WithKey} WHERE v.payload LIKE 'chv1:%' ORDER BY v.referral_id, v.version {"{limit}"}
        """;
    private const string UpdateVersionSql = "UPDATE referral_person_version SET payload = @payload WHERE referral_id = @referralId AND version = @version";
    private const string LegacyMessagesSql = """
        SELECT id, referral_id, body FROM referral_message WHERE body LIKE 'chv1:%' ORDER BY id {limit}
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
               m.author_agent_reference, m.author_agent_name, m.body, m.created_at, k.wrapped
        FROM referral_message m JOIN organisation o ON o.id = m.author_organisation_id
             LEFT JOIN data_key k ON k.owner_id = m.referral_id
        WHERE m.referral_id = @referralId
        ORDER BY m.seq
        """;
}
