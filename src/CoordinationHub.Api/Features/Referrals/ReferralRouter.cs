using System.Data.Common;
using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Features.Conventions;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Referrals;

public enum IntakeState { OPEN, PAUSED }

/// <summary>A receiver's intake for a competence: paused (facultative needs only) or open, with its published delay.</summary>
[Platform.OpenApi.ContractName("Intake")]
public sealed record IntakeDto(IntakeState State, DateOnly? PausedUntil, string? PauseReason, int? ExpectedResponseDays);

/// <summary>Where a referral for this need, in this commune, goes today, and why.</summary>
public sealed record Route(
    MapCommune Commune, string Competence, bool IsLegal, ReferralOrganisation Receiver, RoutingMode Mode, IReadOnlyList<ChainStep> Chain,
    IntakeDto Intake, ReferralOrganisation? NextReceiver);

/// <summary>
/// Routing (named receiver, or whoever the competence map makes responsible for the competence in
/// the person's commune today), receivers' intake, and the response deadline.
/// </summary>
public sealed class ReferralRouter(Db db, ISender sender, IConfiguration configuration)
{
    /// <summary>The competence a need is routed by (422 when it is neither a category nor a competence).</summary>
    public async Task<string> CompetenceAsync(DbConnection c, DbTransaction? tx, string need, CancellationToken ct)
    {
        // The catalogue is written by migrations only: read once per process.
        var catalogue = Catalogue ??= (await c.QueryAsync<string>(db.Command(CatalogueSql, null, ct, tx))).ToHashSet(StringComparer.Ordinal);
        return Needs.CompetenceOf(need, catalogue) ?? throw new RuleException("referrals.unknown-need",
            $"'{need}' is neither a need category ({string.Join(", ", Enum.GetNames<NeedCategory>())}) nor a competence of GET /v1/competences.");
    }

    public async Task<Route> RouteAsync(DbConnection c, DbTransaction? tx, string communeInsee, string competence, Guid? named, DateOnly today,
        CancellationToken ct)
    {
        var entry = await sender.Send(new GetCompetenceMapQuery(communeInsee, competence, today), ct);
        ReferralOrganisation receiver;
        if (named is { } id)
        {
            var org = await c.QuerySingleOrDefaultAsync<OrgRow>(db.Command(OrgSql, new { id }, ct, tx));
            if (org is null || !org.IsActive)
                throw new RuleException("referrals.unknown-receiver", $"No active organisation with id '{id}' in the directory.");
            receiver = new ReferralOrganisation(org.Id, org.Name, org.Kind);
        }
        else receiver = new ReferralOrganisation(entry.Responsible.Id, entry.Responsible.Name, entry.Responsible.Kind);

        var intake = await IntakeAsync(c, tx, receiver.Id, competence, today, ct);
        ReferralOrganisation? next = null;
        if (intake.State == IntakeState.PAUSED)
        {
            // Next body that acts for the need there: up the chain, then the commune's CCAS, the commune, the EPCI's CIAS.
            var candidates = entry.Chain.Reverse().Select(s => s.OrganisationId).ToList();
            candidates.AddRange((await c.QueryAsync<OrgRow>(db.Command(LocalBodiesSql, new { communeId = entry.Commune.Id, active = true }, ct, tx)))
                .OrderBy(o => o.Kind switch { "CCAS" => 0, "COMMUNE" => 1, _ => 2 }).Select(o => o.Id));
            foreach (var candidate in candidates.Distinct().Where(x => x != receiver.Id))
            {
                if ((await IntakeAsync(c, tx, candidate, competence, today, ct)).State == IntakeState.PAUSED) continue;
                var org = await c.QuerySingleAsync<OrgRow>(db.Command(OrgSql, new { id = candidate }, ct, tx));
                next = new ReferralOrganisation(org.Id, org.Name, org.Kind);
                break;
            }
        }
        return new Route(entry.Commune, competence, entry.IsLegal, receiver, named is null ? RoutingMode.RESOLVED : RoutingMode.NAMED,
            named is null ? entry.Chain : [], intake, next);
    }

    public async Task<IntakeDto> IntakeAsync(DbConnection c, DbTransaction? tx, Guid organisationId, string competence, DateOnly today,
        CancellationToken ct)
    {
        var row = await c.QuerySingleOrDefaultAsync<IntakeRow>(db.Command(IntakeSql, new { organisationId, competence }, ct, tx));
        if (row is null) return new IntakeDto(IntakeState.OPEN, null, null, null);
        return row.PausedUntil is { } until && until >= today
            ? new IntakeDto(IntakeState.PAUSED, until, row.PauseReason, row.ExpectedResponseDays)
            : new IntakeDto(IntakeState.OPEN, null, null, row.ExpectedResponseDays);
    }

    /// <summary>
    /// Days to answer: the strictest in-force convention between sender and receiver that sets them
    /// for the competence, else the urgency default of configuration (Referrals:ResponseDays:NORMAL…).
    /// </summary>
    /// <remarks>
    /// Also the retention of the person's data: the shortest that an in-force convention between them
    /// covering the competence sets (null: configuration's <c>PersonalData:RetentionDays</c>).
    /// </remarks>
    public async Task<(int Days, DeadlineSource Source, Guid? ConventionId, int? RetentionDays)> ResponseDaysAsync(DbConnection c, DbTransaction? tx,
        Guid senderId, Guid receiverId, string competence, Urgency urgency, DateOnly today, CancellationToken ct)
    {
        (int Days, Guid Id)? best = null;
        int? retention = null;
        foreach (var id in await c.QueryAsync<Guid>(db.Command(ConventionsSql, new { a = senderId, b = receiverId }, ct, tx)))
        {
            var state = await ConventionStore.LoadAsync(db, c, tx, id, ct);
            if (state is null || state.StatusOn(today) != ConventionStatus.IN_FORCE) continue;
            var terms = state.TermsOn(today);
            if (terms.ReferralResponseDays.TryGetValue(competence, out var days) && (best is null || days < best.Value.Days))
                best = (days, id);
            if (state.PersonDataRetentionDays is { } keep && terms.Competences.Contains(competence) && (retention is null || keep < retention))
                retention = keep;
        }
        if (best is { } b) return (b.Days, DeadlineSource.CONVENTION, b.Id, retention);
        return (DefaultResponseDays(configuration, urgency), DeadlineSource.URGENCY, null, retention);
    }

    /// <summary>Days to answer when no convention between the two bodies sets them (Referrals:ResponseDays:NORMAL…).</summary>
    public static int DefaultResponseDays(IConfiguration configuration, Urgency urgency) =>
        configuration.GetValue<int?>($"Referrals:ResponseDays:{urgency}") ?? urgency switch { Urgency.IMMEDIATE => 1, Urgency.URGENT => 3, _ => 10 };

    private static HashSet<string>? Catalogue;

    private sealed class OrgRow
    {
        public Guid Id { get; init; }
        public string Name { get; init; } = "";
        public string Kind { get; init; } = "";
        public bool IsActive { get; init; }
    }

    private sealed class IntakeRow
    {
        public DateOnly? PausedUntil { get; init; }
        public string? PauseReason { get; init; }
        public int? ExpectedResponseDays { get; init; }
    }

    private const string CatalogueSql = "SELECT code FROM competence";
    private const string OrgSql = "SELECT id, name, kind, is_active FROM organisation WHERE id = @id";
    private const string LocalBodiesSql = """
        SELECT id, name, kind, is_active FROM organisation
        WHERE is_active = @active AND ((kind = 'CCAS' AND commune_id = @communeId) OR (kind = 'COMMUNE' AND id = @communeId)
           OR (kind = 'CIAS' AND epci_id IN (SELECT m.epci_id FROM organisation m WHERE m.id = @communeId)))
        """;
    private const string IntakeSql = """
        SELECT paused_until, pause_reason, expected_response_days FROM referral_intake
        WHERE organisation_id = @organisationId AND competence_code = @competence
        """;
    private const string ConventionsSql = """
        SELECT a.convention_id FROM convention_party a JOIN convention_party b ON b.convention_id = a.convention_id
        WHERE a.organisation_id = @a AND b.organisation_id = @b
        """;
}
