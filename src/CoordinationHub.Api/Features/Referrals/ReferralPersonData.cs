using System.Data.Common;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.Referrals;

/// <summary>The person as stored for one referral, with the sender's free-text context.</summary>
public sealed record PersonRecord(PersonInput Person, string? Context);

/// <summary>
/// The only code that reads or writes the person's data: names, birth date, address, contact,
/// allocataire number, free-text context and the bodies of thread messages. Encryption at rest,
/// the access log of every read and the retention purge (issue 14) wrap this class alone.
/// </summary>
public sealed class ReferralPersonData(Db db)
{
    public Task WriteAsync(DbConnection c, DbTransaction tx, Guid referralId, PersonInput person, string? context, CancellationToken ct)
    {
        var (p, text) = Clean(person, context);
        return c.ExecuteAsync(db.Command(InsertSql, new
        {
            referralId, p.FamilyName, p.GivenNames, p.BirthDate, p.Address, contactChannel = p.Contact?.Channel.ToString(),
            contactValue = p.Contact?.Value, p.AllocataireNumber, context = text,
        }, ct, tx));
    }

    /// <summary>The person as it is stored: trimmed.</summary>
    public static PersonRecord Clean(PersonInput p, string? context) => new(p with
    {
        FamilyName = p.FamilyName.Trim(), GivenNames = p.GivenNames.Trim(), Address = p.Address?.Trim(),
        Contact = p.Contact is { } c ? c with { Value = c.Value.Trim() } : null, AllocataireNumber = p.AllocataireNumber?.Trim(),
    }, context?.Trim());

    public async Task<PersonRecord?> ReadAsync(DbConnection c, DbTransaction? tx, Guid referralId, CancellationToken ct)
    {
        var row = await c.QuerySingleOrDefaultAsync<Row>(db.Command(SelectSql, new { referralId }, ct, tx));
        if (row is null) return null;
        var contact = row.ContactChannel is null ? null : new ContactInput(Enum.Parse<ContactChannel>(row.ContactChannel), row.ContactValue ?? "");
        return new PersonRecord(
            new PersonInput(row.FamilyName, row.GivenNames, row.BirthDate, row.CommuneInsee, row.Address, contact, row.AllocataireNumber), row.Context);
    }

    /// <summary>Copies the person to a new referral (re-orientation).</summary>
    public Task CopyAsync(DbConnection c, DbTransaction tx, Guid from, Guid to, CancellationToken ct) =>
        c.ExecuteAsync(db.Command(CopySql, new { from, to }, ct, tx));

    public Task WriteMessageAsync(DbConnection c, DbTransaction tx, ThreadMessage m, Guid referralId, CancellationToken ct) =>
        c.ExecuteAsync(db.Command(InsertMessageSql, new
        {
            m.Id, referralId, m.Seq, kind = m.Kind.ToString(), authorOrganisationId = m.AuthorOrganisation.Id,
            authorAgentReference = m.AuthorAgent.Reference, authorAgentName = m.AuthorAgent.DisplayName, m.Body, m.CreatedAt,
        }, ct, tx));

    /// <summary>The thread, in order; <paramref name="until"/> limits it to what an earlier receiver saw.</summary>
    public async Task<IReadOnlyList<ThreadMessage>> ReadThreadAsync(DbConnection c, DbTransaction? tx, Guid referralId, int? untilSeq, CancellationToken ct)
    {
        var rows = await c.QueryAsync<MessageRow>(db.Command(ThreadSql, new { referralId }, ct, tx));
        return rows.Where(r => untilSeq is null || r.Seq <= untilSeq)
            .Select(r => new ThreadMessage(r.Id, r.Seq, Enum.Parse<MessageKind>(r.Kind),
                new ReferralOrganisation(r.AuthorOrganisationId, r.OrganisationName, r.OrganisationKind),
                new AgentInput(r.AuthorAgentReference, r.AuthorAgentName), r.Body, r.CreatedAt))
            .ToList();
    }

    private sealed class Row
    {
        public string FamilyName { get; init; } = "";
        public string GivenNames { get; init; } = "";
        public DateOnly BirthDate { get; init; }
        public string CommuneInsee { get; init; } = "";
        public string? Address { get; init; }
        public string? ContactChannel { get; init; }
        public string? ContactValue { get; init; }
        public string? AllocataireNumber { get; init; }
        public string? Context { get; init; }
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

    private const string InsertSql = """
        INSERT INTO referral_person (referral_id, family_name, given_names, birth_date, address, contact_channel, contact_value,
                                     allocataire_number, context)
        VALUES (@referralId, @familyName, @givenNames, @birthDate, @address, @contactChannel, @contactValue, @allocataireNumber, @context)
        """;
    private const string SelectSql = """
        SELECT p.family_name, p.given_names, p.birth_date, o.code AS commune_insee, p.address, p.contact_channel, p.contact_value,
               p.allocataire_number, p.context
        FROM referral_person p JOIN referral r ON r.id = p.referral_id JOIN organisation o ON o.id = r.commune_id
        WHERE p.referral_id = @referralId
        """;
    private const string CopySql = """
        INSERT INTO referral_person (referral_id, family_name, given_names, birth_date, address, contact_channel, contact_value,
                                     allocataire_number, context)
        SELECT @to, family_name, given_names, birth_date, address, contact_channel, contact_value, allocataire_number, context
        FROM referral_person WHERE referral_id = @from
        """;
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
