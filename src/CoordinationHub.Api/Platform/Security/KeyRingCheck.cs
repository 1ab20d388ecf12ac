using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Platform.Security;

/// <summary>The key ring is missing, or lacks a key the database holds something wrapped or sealed by: the API does not start.</summary>
public sealed class KeyRingMissingException(string message) : Exception(message);

/// <summary>
/// At start-up, before anything is sealed or opened: a database that holds sealed data needs the ring that sealed
/// it. A missing ring is created only over a database that holds nothing sealed; otherwise start-up stops with the
/// recovery to follow (a new ring would make the data unreadable for good, and would seal new data under a key no
/// backup holds). Then the platform's data key is made if need be, and values of the first scheme are moved under
/// data keys.
/// </summary>
public sealed class KeyRingCheck(Db db, KeyRing ring, DataKeys keys, ReferralPersonData people, PersonCipher cipher, TimeProvider clock,
    ILogger<KeyRingCheck> logger)
{
    public const string Recovery =
        "Restore keyring.json from its backup to that path (or point PersonalData:KeyRingPath at it) and start again; "
        + "see openapi/guides/referrals-and-personal-data.md. Do not delete the database's data_key rows: without the ring they cannot be read, "
        + "and without them nothing they sealed can.";

    public async Task VerifyAsync(CancellationToken ct)
    {
        var inUse = await keys.RingKeysInUseAsync(ct);
        var legacy = await db.RetryAsync((c, t) => c.ExecuteScalarAsync<long>(db.Command(LegacySql, null, t)), ct);
        if (!ring.Exists)
        {
            var held = inUse.Select(k => $"key {k.Key}: {k.Value} data key(s)").ToList();
            if (legacy > 0) held.Add($"{legacy} value(s) of the first scheme");
            if (held.Count > 0)
                throw Refuse($"The key ring {ring.Path} is missing, but the database holds data sealed with it ({string.Join(", ", held)}).");
            ring.CreateIfMissing(clock.GetUtcNow());
            logger.LogWarning("Created the key ring {Path} with key {KeyId}: back it up apart from the database, now and after every rotation",
                ring.Path, ring.Active.Id);
        }
        var known = ring.Keys.Select(k => k.Id).ToHashSet();
        var lacking = inUse.Where(k => !known.Contains(k.Key)).ToDictionary();
        if (lacking.Count > 0)
            throw Refuse($"The key ring {ring.Path} lacks key(s) the database holds data wrapped with ({Describe(lacking)}).");
        await keys.EnsurePlatformAsync(clock.GetUtcNow(), ct);
    }

    /// <summary>Moves what the first scheme sealed with a ring key directly under data keys (once; then it finds nothing).</summary>
    public async Task SealLegacyAsync(CancellationToken ct)
    {
        var total = 0;
        for (int done; (done = await people.SealLegacyAsync(500, clock.GetUtcNow(), ct)) > 0;) total += done;
        total += await Http.Idempotency.SealLegacyAsync(db, cipher, keys, ct);
        total += await SealWebhookSecretsAsync(ct);
        total += await SealConsentPurposesAsync(ct);
        if (total > 0) logger.LogInformation("Moved {Count} value(s) sealed with a ring key directly under their data keys", total);
    }

    /// <summary>Webhook signing secrets stored in clear before issue 23, sealed with the platform's key.</summary>
    private async Task<int> SealWebhookSecretsAsync(CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            var done = 0;
            foreach (var r in await c.QueryAsync<SecretRow>(db.Command(ClearSecretsSql, null, t, tx)))
            {
                var context = Features.Webhooks.WebhookSigner.SecretContext(r.Id);
                done += await c.ExecuteAsync(db.Command(SealSecretsSql, new
                {
                    r.Id,
                    secret = await keys.SealPlatformAsync(r.Secret, context, t),
                    previousSecret = r.PreviousSecret is null ? null : await keys.SealPlatformAsync(r.PreviousSecret, context, t),
                }, t, tx));
            }
            return done;
        }, ct);

    /// <summary>
    /// Consent purposes stored in clear before issue 23: sealed with their referral's data key; a purged referral's is dropped
    /// (the purge would have shredded it).
    /// </summary>
    private async Task<int> SealConsentPurposesAsync(CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            var done = 0;
            foreach (var r in await c.QueryAsync<PurposeRow>(db.Command(ClearPurposesSql, null, t, tx)))
            {
                var purpose = r.PersonPurgedAt is not null ? null
                    : PersonCipher.Seal(await keys.FindOrCreateAsync(c, tx, r.Id, clock.GetUtcNow(), t), r.ConsentPurpose,
                        ReferralPersonData.ConsentContext(r.Id));
                done += await c.ExecuteAsync(db.Command(SealPurposeSql, new { r.Id, purpose }, t, tx));
            }
            return done;
        }, ct);

    private sealed class PurposeRow
    {
        public Guid Id { get; init; }
        public string ConsentPurpose { get; init; } = "";
        public DateTimeOffset? PersonPurgedAt { get; init; }
    }

    private sealed class SecretRow
    {
        public Guid Id { get; init; }
        public string Secret { get; init; } = "";
        public string? PreviousSecret { get; init; }
    }

    private KeyRingMissingException Refuse(string what)
    {
        logger.LogCritical("{What} {Recovery}", what, Recovery);
        return new KeyRingMissingException($"{what} {Recovery}");
    }

    private static string Describe(IReadOnlyDictionary<string, long> keys) =>
        string.Join(", ", keys.Select(k => $"key {k.Key}: {k.Value} data key(s)"));

    private const string ClearSecretsSql = "SELECT id, secret, previous_secret FROM webhook_subscription WHERE secret LIKE 'whsec%'";
    private const string SealSecretsSql = "UPDATE webhook_subscription SET secret = @secret, previous_secret = @previousSecret WHERE id = @id";
    private const string ClearPurposesSql = """
        SELECT id, consent_purpose, person_purged_at FROM referral WHERE consent_purpose IS NOT NULL AND consent_purpose NOT LIKE 'chv%'
        """;
    private const string SealPurposeSql = "UPDATE referral SET consent_purpose = @purpose WHERE id = @id";
    private const string LegacySql = """
        SELECT (SELECT COUNT(*) FROM referral_person_version WHERE payload LIKE 'chv1:%')
             + (SELECT COUNT(*) FROM referral_message WHERE body LIKE 'chv1:%')
        """;
}
