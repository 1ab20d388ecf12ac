using System.Data;
using System.Data.Common;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.Indicators;

/// <summary>
/// Keeps the indicator rollups (referral_stat, referral_stat_departement, referral_awaiting; migration 0017) in the
/// referral's own transaction. What a referral contributes is a pure function of its row (<see cref="Delta.Add"/>):
/// a write subtracts the row as it was and adds it as it is, so every handler that changes a referral is covered by
/// the two places that write one (<see cref="ReferralWorkflow"/> and <see cref="ReferralStore.InsertAsync"/>). A
/// transfer also freezes the part of the receiver that transferred: it received, answered (by transferring) and
/// transferred, whatever happens after. Counts only: nothing of the person, the agents or the texts.
/// </summary>
public static class IndicatorRollup
{
    /// <summary>Upper bounds (hours) of the duration histograms; the last bucket is open (<c>_gt_8760</c>).</summary>
    public static readonly int[] HourBuckets = [1, 2, 4, 8, 12, 24, 48, 72, 120, 168, 240, 336, 504, 720, 1440, 2160, 4320, 8760];

    public const string Response = "response";
    public const string OutcomeTime = "outcome_time";

    /// <summary>The measure of a duration in a histogram: <c>response_le_24</c> counts those within 24 hours (and more than 12).</summary>
    public static string Bucket(string histogram, TimeSpan duration)
    {
        var hours = Math.Max(0, duration.TotalHours);
        foreach (var upper in HourBuckets)
            if (hours <= upper) return $"{histogram}_le_{upper}";
        return $"{histogram}_gt_{HourBuckets[^1]}";
    }

    /// <summary>A cell: the month of sending, where, for what, from whom, and whose part (nil: the referral itself).</summary>
    public readonly record struct Cell(
        string Departement, DateOnly Month, Guid Commune, string Competence, string Need, Guid Sender, Guid Receiver);

    /// <summary>The changes one write (or a batch of them) makes to the rollups.</summary>
    public sealed class Delta
    {
        public Dictionary<(Cell Cell, string Measure), long> Stats { get; } = [];
        public Dictionary<(Cell Cell, DateTimeOffset DueAt), long> Awaiting { get; } = [];

        /// <summary>Adds (<paramref name="sign"/> 1) or takes away (-1) what the referral's row counts for its current part.</summary>
        public void Add(ReferralRow r, string departement, int sign)
        {
            var cell = new Cell(departement, MonthOf(r.SentAt), r.CommuneId, r.CompetenceCode, r.Need, r.SenderId, r.ReceiverId);
            Stat(cell with { Receiver = Guid.Empty }, "referrals", sign);
            Stat(cell, "received", sign);
            var status = r.State;
            if (status is ReferralStatus.SENT or ReferralStatus.RECEIVED)
                Awaiting[(cell, CeilHour(r.DeadlineAt))] = Awaiting.GetValueOrDefault((cell, CeilHour(r.DeadlineAt))) + sign;
            if (r.RespondedAt is { } responded) Responded(cell, r, responded, sign);
            if (status == ReferralStatus.COMPLETED && r.ClosedAt is { } closed) Stat(cell, Bucket(OutcomeTime, closed - r.SentAt), sign);
            if (r.Outcome is { } outcome) Stat(cell, "outcome:" + outcome, sign);
            if (status == ReferralStatus.DECLINED) Stat(cell, "declined:" + (r.DeclineReason ?? nameof(DeclineReason.OTHER)), sign);
            if (status == ReferralStatus.CLOSED_WITHOUT_OUTCOME) Stat(cell, "closed_without_outcome", sign);
            if (status == ReferralStatus.CANCELLED) Stat(cell, "cancelled", sign);
            if (r.ReorientedToId is not null) Stat(cell, "reoriented", sign);
            if (r.ConsentWithdrawnAt is not null) Stat(cell, "consent_withdrawn", sign);
        }

        /// <summary>The part of the receiver that transferred <paramref name="before"/> at <paramref name="at"/>: kept for good.</summary>
        public void AddTransfer(ReferralRow before, string departement, DateTimeOffset at)
        {
            var cell = new Cell(departement, MonthOf(before.SentAt), before.CommuneId, before.CompetenceCode, before.Need,
                before.SenderId, before.ReceiverId);
            Stat(cell, "received", 1);
            Responded(cell, before, at, 1);
            Stat(cell, "transferred", 1);
        }

        private void Responded(Cell cell, ReferralRow r, DateTimeOffset at, int sign)
        {
            Stat(cell, "responded", sign);
            if (at <= r.DeadlineAt) Stat(cell, "responded_in_time", sign);
            Stat(cell, Bucket(Response, at - r.SentAt), sign);
        }

        private void Stat(Cell cell, string measure, int sign) =>
            Stats[(cell, measure)] = Stats.GetValueOrDefault((cell, measure)) + sign;
    }

    public static DateOnly MonthOf(DateTimeOffset at) => new(at.UtcDateTime.Year, at.UtcDateTime.Month, 1);

    private static DateTimeOffset CeilHour(DateTimeOffset at)
    {
        var utc = at.ToUniversalTime();
        var floor = new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, TimeSpan.Zero);
        return floor == utc ? floor : floor.AddHours(1);
    }

    /// <summary>Counts the change from <paramref name="before"/> (null: a new referral) to <paramref name="after"/>.</summary>
    public static async Task ApplyAsync(Db db, DbConnection c, DbTransaction tx, ReferralRow? before, ReferralRow after,
        DateTimeOffset now, CancellationToken ct)
    {
        var departement = await c.ExecuteScalarAsync<string>(db.Command(DepartementSql, new { id = after.CommuneId }, ct, tx)) ?? "";
        var delta = new Delta();
        if (before is not null) delta.Add(before, departement, -1);
        delta.Add(after, departement, 1);
        if (before is not null && before.ReceiverId != after.ReceiverId) delta.AddTransfer(before, departement, now);
        await WriteAsync(db, c, tx, delta, ct);
    }

    /// <summary>
    /// Writes a delta, cells in key order (two transactions touching the same cells lock them in the same order) and
    /// without the changes that cancel out (a write that changes nothing counted writes nothing). <paramref name="cells"/>
    /// false leaves referral_stat out: only the benchmark's bulk seeding does that (see its README).
    /// </summary>
    public static async Task WriteAsync(Db db, DbConnection c, DbTransaction tx, Delta delta, CancellationToken ct, bool cells = true)
    {
        var stats = delta.Stats.Where(s => s.Value != 0).OrderBy(s => s.Key.Cell.Departement, StringComparer.Ordinal)
            .ThenBy(s => s.Key.Cell.Month).ThenBy(s => s.Key.Cell.Commune).ThenBy(s => s.Key.Cell.Competence, StringComparer.Ordinal)
            .ThenBy(s => s.Key.Cell.Need, StringComparer.Ordinal).ThenBy(s => s.Key.Cell.Sender).ThenBy(s => s.Key.Cell.Receiver)
            .ThenBy(s => s.Key.Measure, StringComparer.Ordinal).ToList();
        var departements = stats.GroupBy(s => (s.Key.Cell.Departement, s.Key.Cell.Month, s.Key.Cell.Competence, s.Key.Cell.Need, s.Key.Measure))
            .Select(g => (g.Key, N: g.Sum(s => s.Value))).Where(g => g.N != 0).ToList();
        var awaiting = delta.Awaiting.Where(a => a.Value != 0).OrderBy(a => a.Key.Cell.Departement, StringComparer.Ordinal)
            .ThenBy(a => a.Key.Cell.Month).ThenBy(a => a.Key.Cell.Commune).ThenBy(a => a.Key.Cell.Competence, StringComparer.Ordinal)
            .ThenBy(a => a.Key.Cell.Need, StringComparer.Ordinal).ThenBy(a => a.Key.Cell.Sender).ThenBy(a => a.Key.Cell.Receiver)
            .ThenBy(a => a.Key.DueAt).ToList();
        var sqlServer = db.Dialect.Provider == DatabaseProvider.SqlServer;
        if (cells)
            await db.ExecuteRowsAsync(c, tx, sqlServer ? StatMergeSql : StatUpsert, StatParameters, StatTypes,
                [.. stats.Select(s => Values(s.Key.Cell, s.Key.Measure, s.Value))], ct);
        await db.ExecuteRowsAsync(c, tx, sqlServer ? DepartementMergeSql : DepartementUpsert, DepartementParameters, DepartementTypes,
            [.. departements.Select(d => new object?[] { d.Key.Departement, d.Key.Month, d.Key.Competence, d.Key.Need, d.Key.Measure, d.N })], ct);
        await db.ExecuteRowsAsync(c, tx, sqlServer ? AwaitingMergeSql : AwaitingUpsert, AwaitingParameters, AwaitingTypes,
            [.. awaiting.Select(a => Values(a.Key.Cell, a.Key.DueAt, a.Value))], ct);
    }

    private static object?[] Values(Cell k, object last, long n) =>
        [k.Departement, k.Month, k.Commune, k.Competence, k.Need, k.Sender, k.Receiver, last, n];

    private static readonly string[] StatParameters =
        ["@departement", "@month", "@commune", "@competence", "@need", "@sender", "@receiver", "@measure", "@n"];
    private static readonly DbType[] StatTypes =
        [DbType.String, DbType.Date, DbType.Guid, DbType.String, DbType.String, DbType.Guid, DbType.Guid, DbType.String, DbType.Int64];
    private static readonly string[] DepartementParameters = ["@departement", "@month", "@competence", "@need", "@measure", "@n"];
    private static readonly DbType[] DepartementTypes = [DbType.String, DbType.Date, DbType.String, DbType.String, DbType.String, DbType.Int64];
    private static readonly string[] AwaitingParameters =
        ["@departement", "@month", "@commune", "@competence", "@need", "@sender", "@receiver", "@due", "@n"];
    private static readonly DbType[] AwaitingTypes =
        [DbType.String, DbType.Date, DbType.Guid, DbType.String, DbType.String, DbType.Guid, DbType.Guid, DbType.DateTimeOffset, DbType.Int64];

    private const string DepartementSql = "SELECT departement_code FROM organisation WHERE id = @id";

    // SQLite and PostgreSQL share the upsert; SQL Server merges.
    private const string StatUpsert = """
        INSERT INTO referral_stat (departement_code, month_on, commune_id, competence_code, need, sender_id, receiver_id, measure, n)
        VALUES (@departement, @month, @commune, @competence, @need, @sender, @receiver, @measure, @n)
        ON CONFLICT (departement_code, month_on, commune_id, competence_code, need, sender_id, receiver_id, measure)
        DO UPDATE SET n = referral_stat.n + excluded.n
        """;
    private const string StatMergeSql = """
        MERGE referral_stat WITH (HOLDLOCK) AS t
        USING (SELECT @departement AS departement_code, @month AS month_on, @commune AS commune_id, @competence AS competence_code,
                      @need AS need, @sender AS sender_id, @receiver AS receiver_id, @measure AS measure, @n AS n) AS s
        ON t.departement_code = s.departement_code AND t.month_on = s.month_on AND t.commune_id = s.commune_id
           AND t.competence_code = s.competence_code AND t.need = s.need AND t.sender_id = s.sender_id
           AND t.receiver_id = s.receiver_id AND t.measure = s.measure
        WHEN MATCHED THEN UPDATE SET n = t.n + s.n
        WHEN NOT MATCHED THEN INSERT (departement_code, month_on, commune_id, competence_code, need, sender_id, receiver_id, measure, n)
            VALUES (s.departement_code, s.month_on, s.commune_id, s.competence_code, s.need, s.sender_id, s.receiver_id, s.measure, s.n);
        """;
    private const string DepartementUpsert = """
        INSERT INTO referral_stat_departement (departement_code, month_on, competence_code, need, measure, n)
        VALUES (@departement, @month, @competence, @need, @measure, @n)
        ON CONFLICT (departement_code, month_on, competence_code, need, measure)
        DO UPDATE SET n = referral_stat_departement.n + excluded.n
        """;
    private const string DepartementMergeSql = """
        MERGE referral_stat_departement WITH (HOLDLOCK) AS t
        USING (SELECT @departement AS departement_code, @month AS month_on, @competence AS competence_code, @need AS need,
                      @measure AS measure, @n AS n) AS s
        ON t.departement_code = s.departement_code AND t.month_on = s.month_on AND t.competence_code = s.competence_code
           AND t.need = s.need AND t.measure = s.measure
        WHEN MATCHED THEN UPDATE SET n = t.n + s.n
        WHEN NOT MATCHED THEN INSERT (departement_code, month_on, competence_code, need, measure, n)
            VALUES (s.departement_code, s.month_on, s.competence_code, s.need, s.measure, s.n);
        """;
    private const string AwaitingUpsert = """
        INSERT INTO referral_awaiting (departement_code, month_on, commune_id, competence_code, need, sender_id, receiver_id, due_at, n)
        VALUES (@departement, @month, @commune, @competence, @need, @sender, @receiver, @due, @n)
        ON CONFLICT (departement_code, month_on, commune_id, competence_code, need, sender_id, receiver_id, due_at)
        DO UPDATE SET n = referral_awaiting.n + excluded.n
        """;
    private const string AwaitingMergeSql = """
        MERGE referral_awaiting WITH (HOLDLOCK) AS t
        USING (SELECT @departement AS departement_code, @month AS month_on, @commune AS commune_id, @competence AS competence_code,
                      @need AS need, @sender AS sender_id, @receiver AS receiver_id, @due AS due_at, @n AS n) AS s
        ON t.departement_code = s.departement_code AND t.month_on = s.month_on AND t.commune_id = s.commune_id
           AND t.competence_code = s.competence_code AND t.need = s.need AND t.sender_id = s.sender_id
           AND t.receiver_id = s.receiver_id AND t.due_at = s.due_at
        WHEN MATCHED THEN UPDATE SET n = t.n + s.n
        WHEN NOT MATCHED THEN INSERT (departement_code, month_on, commune_id, competence_code, need, sender_id, receiver_id, due_at, n)
            VALUES (s.departement_code, s.month_on, s.commune_id, s.competence_code, s.need, s.sender_id, s.receiver_id, s.due_at, s.n);
        """;
}
