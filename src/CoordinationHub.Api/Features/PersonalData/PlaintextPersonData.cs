using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Security;
using Dapper;

namespace CoordinationHub.Features.PersonalData;

/// <summary>
/// Databases made before encryption at rest (migrations 0005–0008) hold the person in plaintext in
/// referral_person and referral_message.body. Once, right after migration 0009, this seals them into
/// referral_person_version, blinds the duplicate keys, and drops referral_person, in one transaction.
/// </summary>
public static class PlaintextPersonData
{
    public static async Task SealAsync(Db db, ReferralPersonData people, CancellationToken ct)
    {
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            if (!await c.ExecuteScalarAsync<bool>(db.Command(ExistsSql(db.Dialect.Provider), null, t, tx))) return 0;
            foreach (var r in await c.QueryAsync<Row>(db.Command(PeopleSql, null, t, tx)))
            {
                var contact = r.ContactChannel is null ? null : new ContactInput(Enum.Parse<ContactChannel>(r.ContactChannel), r.ContactValue ?? "");
                var person = new PersonInput(r.FamilyName, r.GivenNames, r.BirthDate, r.CommuneInsee, r.Address, contact, r.AllocataireNumber);
                await people.WriteAsync(c, tx, r.ReferralId, 1, new PersonRecord(person, r.Context), [],
                    new PersonAuthor(r.SenderId, new AgentInput(r.SenderAgentReference, r.SenderAgentName)), r.SentAt, t);
                await c.ExecuteAsync(db.Command("UPDATE referral SET person_key = @key WHERE id = @id",
                    new { id = r.ReferralId, key = people.KeyOf(person) }, t, tx));
            }
            foreach (var m in await c.QueryAsync<MessageRow>(db.Command(MessagesSql, null, t, tx)))
                await c.ExecuteAsync(db.Command("UPDATE referral_message SET body = @body WHERE id = @id",
                    new { m.Id, body = await people.SealMessageAsync(c, tx, m.ReferralId, m.Id, m.Body, DateTimeOffset.UtcNow, t) }, t, tx));
            await c.ExecuteAsync(db.Command("DROP TABLE referral_person", null, t, tx));
            return 0;
        }, ct);
    }

    private static string ExistsSql(DatabaseProvider provider) => provider switch
    {
        DatabaseProvider.Sqlite => "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'referral_person'",
        DatabaseProvider.PostgreSQL => "SELECT to_regclass('referral_person') IS NOT NULL",
        _ => "SELECT CAST(CASE WHEN OBJECT_ID('referral_person') IS NULL THEN 0 ELSE 1 END AS bit)",
    };

    private sealed class Row
    {
        public Guid ReferralId { get; init; }
        public Guid SenderId { get; init; }
        public string SenderAgentReference { get; init; } = "";
        public string SenderAgentName { get; init; } = "";
        public DateTimeOffset SentAt { get; init; }
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
        public Guid ReferralId { get; init; }
        public string Body { get; init; } = "";
    }

    private const string PeopleSql = """
        SELECT p.referral_id, r.sender_id, r.sender_agent_reference, r.sender_agent_name, r.sent_at, p.family_name, p.given_names,
               p.birth_date, o.code AS commune_insee, p.address, p.contact_channel, p.contact_value, p.allocataire_number, p.context
        FROM referral_person p JOIN referral r ON r.id = p.referral_id JOIN organisation o ON o.id = r.commune_id
        """;
    private const string MessagesSql = "SELECT id, referral_id, body FROM referral_message WHERE body IS NOT NULL AND body NOT LIKE 'chv%'";
}
