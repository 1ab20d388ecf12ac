using System.Data.Common;
using CoordinationHub.Platform.Data;
using Dapper;

namespace CoordinationHub.Features.Conventions;

public enum ConventionType { DELEGATION, PARTNERSHIP, FUNDING, PROVISION_OF_STAFF, OTHER }

/// <summary>Status on a given date. DRAFT, SIGNED and TERMINATED are recorded; IN_FORCE and EXPIRED follow from the dates.</summary>
public enum ConventionStatus { DRAFT, SIGNED, IN_FORCE, EXPIRED, TERMINATED }

public enum Periodicity { ONCE, MONTHLY, QUARTERLY, YEARLY }

public sealed record ConventionPartyState(Guid OrganisationId, string Role);

public sealed record SignatureState(int AmendmentNo, Guid OrganisationId, string SignerName, DateOnly SignedOn);

/// <summary>
/// The terms of one version: version 0 is the convention as signed, version n the n-th amendment
/// (avenant). A version applies from <see cref="EffectiveOn"/> once every party has signed it.
/// All dates are inclusive calendar days.
/// </summary>
public sealed record ConventionTerms(
    int AmendmentNo, bool Signed, DateOnly EffectiveOn, string Object, DateOnly StartOn, DateOnly EndOn,
    int? RenewalMonths, int? MaxRenewals, int NoticeDays, bool AllowsSubdelegation,
    decimal? Amount, Periodicity? Periodicity, Guid? PayerId, string? Summary,
    IReadOnlyList<string> Competences, IReadOnlyList<Guid> Communes)
{
    /// <summary>The last day in force if no party terminates it: the end date plus every tacit renewal.</summary>
    public DateOnly LastDay => RenewalMonths is { } months && MaxRenewals is { } times ? EndOn.AddMonths(months * times) : EndOn;

    /// <summary>Days a receiver has to answer a referral, per covered competence that sets it.</summary>
    public IReadOnlyDictionary<string, int> ReferralResponseDays { get; init; } = new Dictionary<string, int>();
}

/// <summary>
/// A convention with all its versions, signatures and parties: everything needed to say what it
/// said and whether it was in force on any date. Plain C#, no database: the rules live here.
/// </summary>
public sealed class ConventionState
{
    public Guid Id { get; init; }
    public string Reference { get; init; } = "";
    public ConventionType Type { get; init; }
    /// <summary>Recorded life state: DRAFT, SIGNED (by every party) or TERMINATED.</summary>
    public ConventionStatus Recorded { get; init; }
    /// <summary>First day the convention is no longer in force after an early termination.</summary>
    public DateOnly? TerminatedOn { get; init; }
    public string? TerminationReason { get; init; }
    public Guid CreatedBy { get; init; }
    /// <summary>Days the person's data of a referral between the parties is kept after it closes (else configuration).</summary>
    public int? PersonDataRetentionDays { get; init; }
    public int Version { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public IReadOnlyList<ConventionPartyState> Parties { get; init; } = [];
    public IReadOnlyList<ConventionTerms> Versions { get; init; } = [];
    public IReadOnlyList<SignatureState> Signatures { get; init; } = [];

    public bool IsParty(Guid? organisationId) => organisationId is { } id && Parties.Any(p => p.OrganisationId == id);

    /// <summary>The terms as they stood on <paramref name="date"/>: the latest signed version already effective.</summary>
    public ConventionTerms TermsOn(DateOnly date) =>
        Versions.Where(v => v.AmendmentNo == 0 || (v.Signed && v.EffectiveOn <= date)).MaxBy(v => v.AmendmentNo)!;

    public ConventionTerms Original => Versions.Single(v => v.AmendmentNo == 0);

    /// <summary>The last day in force (renewals included, early termination applied) as known on <paramref name="date"/>.</summary>
    public DateOnly LastDayOn(DateOnly date)
    {
        var last = TermsOn(date).LastDay;
        return TerminatedOn is { } t && t.AddDays(-1) < last ? t.AddDays(-1) : last;
    }

    public ConventionStatus StatusOn(DateOnly date)
    {
        if (Recorded == ConventionStatus.DRAFT) return ConventionStatus.DRAFT;
        if (TerminatedOn is { } t && date >= t) return ConventionStatus.TERMINATED;
        var terms = TermsOn(date);
        if (date < terms.StartOn) return ConventionStatus.SIGNED;
        return date > LastDayOn(date) ? ConventionStatus.EXPIRED : ConventionStatus.IN_FORCE;
    }

    /// <summary>In force on every day from <paramref name="from"/> to <paramref name="to"/> (inclusive).</summary>
    public bool InForceThroughout(DateOnly from, DateOnly to) =>
        Recorded != ConventionStatus.DRAFT && StatusOn(from) == ConventionStatus.IN_FORCE && to <= LastDayOn(from) && (TerminatedOn is null || to < TerminatedOn);
}

/// <summary>Loads a <see cref="ConventionState"/>; shared by every handler that reasons about a convention.</summary>
public static class ConventionStore
{
    public static async Task<ConventionState?> LoadAsync(Db db, DbConnection c, DbTransaction? tx, Guid id, CancellationToken ct, bool forUpdate = false)
    {
        var head = await c.QuerySingleOrDefaultAsync<HeadRow>(db.Command(forUpdate ? HeadForUpdateSql : HeadSql, new { id }, ct, tx));
        if (head is null) return null;
        var parties = (await c.QueryAsync<PartyRow>(db.Command(PartiesSql, new { id }, ct, tx))).Select(p => new ConventionPartyState(p.OrganisationId, p.Role)).ToList();
        var versions = (await c.QueryAsync<VersionRow>(db.Command(VersionsSql, new { id }, ct, tx))).ToList();
        var competenceRows = (await c.QueryAsync<CompetenceRow>(db.Command(CompetencesSql, new { id }, ct, tx))).ToList();
        var competences = competenceRows.ToLookup(r => r.AmendmentNo, r => r.CompetenceCode);
        var responseDays = competenceRows.Where(r => r.ReferralResponseDays is not null).ToLookup(r => r.AmendmentNo);
        var communes = (await c.QueryAsync<CommuneRow>(db.Command(CommunesSql, new { id }, ct, tx))).ToLookup(r => r.AmendmentNo, r => r.CommuneId);
        var signatures = (await c.QueryAsync<SignatureRow>(db.Command(SignaturesSql, new { id }, ct, tx)))
            .Select(s => new SignatureState(s.AmendmentNo, s.OrganisationId, s.SignerName, s.SignedOn)).ToList();
        return new ConventionState
        {
            Id = head.Id, Reference = head.Reference, Type = Enum.Parse<ConventionType>(head.Type), Recorded = Enum.Parse<ConventionStatus>(head.Status),
            TerminatedOn = head.TerminatedOn, TerminationReason = head.TerminationReason, CreatedBy = head.CreatedBy, Version = head.Version,
            PersonDataRetentionDays = head.PersonDataRetentionDays,
            CreatedAt = head.CreatedAt, UpdatedAt = head.UpdatedAt, Parties = parties, Signatures = signatures,
            Versions = versions.Select(v => new ConventionTerms(
                v.AmendmentNo, v.Status == "SIGNED", v.EffectiveOn, v.Object, v.StartOn, v.EndOn, v.RenewalMonths, v.MaxRenewals, v.NoticeDays,
                v.AllowsSubdelegation, v.Amount, v.Periodicity is null ? null : Enum.Parse<Periodicity>(v.Periodicity), v.PayerId, v.Summary,
                competences[v.AmendmentNo].Order(StringComparer.Ordinal).ToList(), communes[v.AmendmentNo].ToList())
            {
                ReferralResponseDays = responseDays[v.AmendmentNo].ToDictionary(r => r.CompetenceCode, r => r.ReferralResponseDays!.Value),
            }).ToList(),
        };
    }

    private sealed class HeadRow
    {
        public Guid Id { get; init; }
        public string Reference { get; init; } = "";
        public string Type { get; init; } = "";
        public string Status { get; init; } = "";
        public DateOnly? TerminatedOn { get; init; }
        public string? TerminationReason { get; init; }
        public Guid CreatedBy { get; init; }
        public int? PersonDataRetentionDays { get; init; }
        public int Version { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }
    }

    private sealed class PartyRow { public Guid OrganisationId { get; init; } public string Role { get; init; } = ""; }
    private sealed class CompetenceRow
    {
        public int AmendmentNo { get; init; }
        public string CompetenceCode { get; init; } = "";
        public int? ReferralResponseDays { get; init; }
    }
    private sealed class CommuneRow { public int AmendmentNo { get; init; } public Guid CommuneId { get; init; } }
    private sealed class SignatureRow
    {
        public int AmendmentNo { get; init; }
        public Guid OrganisationId { get; init; }
        public string SignerName { get; init; } = "";
        public DateOnly SignedOn { get; init; }
    }

    private sealed class VersionRow
    {
        public int AmendmentNo { get; init; }
        public string Status { get; init; } = "";
        public DateOnly EffectiveOn { get; init; }
        public string Object { get; init; } = "";
        public DateOnly StartOn { get; init; }
        public DateOnly EndOn { get; init; }
        public int? RenewalMonths { get; init; }
        public int? MaxRenewals { get; init; }
        public int NoticeDays { get; init; }
        public bool AllowsSubdelegation { get; init; }
        public decimal? Amount { get; init; }
        public string? Periodicity { get; init; }
        public Guid? PayerId { get; init; }
        public string? Summary { get; init; }
    }

    private const string HeadColumns = "id, reference, type, status, terminated_on, termination_reason, created_by, person_data_retention_days, version, created_at, updated_at";
    private const string HeadSql = $"SELECT {HeadColumns} FROM convention WHERE id = @id";
    // Locks the convention row: signatures, amendments, terminations and delegations under it serialise on it.
    private const string HeadForUpdateSql = $"SELECT {HeadColumns} FROM convention {{lock}} WHERE id = @id {{for_update}}";
    private const string PartiesSql = "SELECT organisation_id, role FROM convention_party WHERE convention_id = @id ORDER BY organisation_id";
    private const string VersionsSql = """
        SELECT amendment_no, status, effective_on, object, start_on, end_on, renewal_months, max_renewals, notice_days,
               allows_subdelegation, amount, periodicity, payer_id, summary
        FROM convention_version WHERE convention_id = @id ORDER BY amendment_no
        """;
    private const string CompetencesSql = "SELECT amendment_no, competence_code, referral_response_days FROM convention_competence WHERE convention_id = @id";
    private const string CommunesSql = "SELECT amendment_no, commune_id FROM convention_commune WHERE convention_id = @id";
    private const string SignaturesSql = "SELECT amendment_no, organisation_id, signer_name, signed_on FROM convention_signature WHERE convention_id = @id ORDER BY amendment_no, signed_on";
}
