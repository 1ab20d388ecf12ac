using CoordinationHub.Platform.OpenApi;
using System.Data.Common;
using System.Text.Json.Serialization;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Conventions;

/// <summary>The convention as it stood on <c>asOf</c> (default today): status, terms and signatures of the version then applicable.</summary>
public sealed record GetConventionQuery(Guid Id, DateOnly? AsOf = null) : IQuery<ConventionDto>;

public sealed record FinancialTerms(decimal Amount, Periodicity Periodicity, Guid? PayerId);

[ContractName("ConventionParty")]
public sealed record ConventionPartyDto(Guid OrganisationId, string Name, OrganisationKind Kind, string Role, DateOnly? SignedOn, string? SignerName);

[ContractName("Convention")]
public sealed class ConventionDto
{
    public Guid Id { get; init; }
    public string Reference { get; init; } = "";
    public ConventionType Type { get; init; }
    /// <summary>Status on <see cref="AsOf"/>, computed from the dates.</summary>
    public ConventionStatus Status { get; init; }
    public DateOnly AsOf { get; init; }
    /// <summary>Recorded life state: DRAFT, SIGNED (by every party) or TERMINATED.</summary>
    public ConventionStatus RecordedStatus { get; init; }
    /// <summary>Parties, with their signature of the version shown.</summary>
    public IReadOnlyList<ConventionPartyDto> Parties { get; init; } = [];
    /// <summary>The version shown: 0 for the convention as signed, n for the n-th amendment.</summary>
    public int AmendmentNo { get; init; }
    /// <summary>An amendment proposed and not yet signed by every party (shown to parties only).</summary>
    public int? PendingAmendmentNo { get; init; }
    public string Object { get; init; } = "";
    public IReadOnlyList<string> Competences { get; init; } = [];
    public IReadOnlyList<Guid> CommuneIds { get; init; } = [];
    /// <summary>Days a receiver has to answer a referral between the parties, per covered competence that sets it.</summary>
    public IReadOnlyList<ReferralResponseDays> ReferralResponseDays { get; init; } = [];
    /// <summary>Days the person's data of a referral between the parties is kept once it closes; null: the platform's setting.</summary>
    public int? PersonDataRetentionDays { get; init; }
    public DateOnly StartOn { get; init; }
    public DateOnly EndOn { get; init; }
    /// <summary>Last day in force: the end date plus every tacit renewal, early termination applied.</summary>
    public DateOnly LastDay { get; init; }
    public int? RenewalMonths { get; init; }
    public int? MaxRenewals { get; init; }
    public int NoticeDays { get; init; }
    public bool AllowsSubdelegation { get; init; }
    public FinancialTerms? FinancialTerms { get; init; }
    /// <summary>First day no longer in force after an early termination.</summary>
    public DateOnly? TerminatedOn { get; init; }
    public string? TerminationReason { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    [JsonIgnore] public int Version { get; init; }
}

/// <summary>403 with a stable code: only a party acts on a convention, not even the platform administrator signs for one.</summary>
public sealed class NotAPartyException(string detail)
    : ProblemException(403, "conventions.not-a-party", "Not a party to the convention", detail);

/// <summary>Who sees and who changes a convention.</summary>
internal static class ConventionAccess
{
    /// <summary>Drafts are the parties' business: to anyone else the convention does not exist yet.</summary>
    public static bool CanSee(ConventionState state, Caller caller) =>
        state.Recorded != ConventionStatus.DRAFT || caller.IsPlatformAdmin || state.IsParty(caller.OrganisationId);

    public static ConventionState Visible(ConventionState? state, Caller caller, Guid id) =>
        state is not null && CanSee(state, caller) ? state : throw new NotFoundException("convention", id);

    public static void RequireParty(ConventionState state, Caller caller, string action)
    {
        if (!state.IsParty(caller.OrganisationId))
            throw new NotAPartyException($"Only a party to convention {state.Reference} may {action}.");
    }

    public static DateOnly Today(TimeProvider clock) => DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);

    /// <summary>The highest version not yet signed by every party, if any.</summary>
    public static ConventionTerms? Pending(ConventionState state) =>
        state.Versions.Where(v => !v.Signed).MaxBy(v => v.AmendmentNo);

    public static async Task<ConventionDto> ToDtoAsync(Db db, DbConnection c, DbTransaction? tx, ConventionState state, DateOnly asOf, Caller caller, CancellationToken ct)
    {
        var names = (await c.QueryAsync<PartyRow>(db.Command(PartiesSql, new { id = state.Id }, ct, tx))).ToDictionary(p => p.OrganisationId);
        return ToDto(state, asOf, names, caller);
    }

    private static ConventionDto ToDto(ConventionState s, DateOnly asOf, IReadOnlyDictionary<Guid, PartyRow> names, Caller caller)
    {
        var terms = s.TermsOn(asOf);
        var signatures = s.Signatures.Where(x => x.AmendmentNo == terms.AmendmentNo).ToDictionary(x => x.OrganisationId);
        var seesPending = caller.IsPlatformAdmin || s.IsParty(caller.OrganisationId);
        return new ConventionDto
        {
            Id = s.Id, Reference = s.Reference, Type = s.Type, Status = s.StatusOn(asOf), AsOf = asOf, RecordedStatus = s.Recorded, PersonDataRetentionDays = s.PersonDataRetentionDays,
            Parties = s.Parties.Select(p =>
            {
                var name = names.GetValueOrDefault(p.OrganisationId);
                var signature = signatures.GetValueOrDefault(p.OrganisationId);
                return new ConventionPartyDto(p.OrganisationId, name?.Name ?? "", name?.Kind ?? OrganisationKind.PARTNER, p.Role, signature?.SignedOn, signature?.SignerName);
            }).ToList(),
            AmendmentNo = terms.AmendmentNo,
            PendingAmendmentNo = seesPending && Pending(s) is { AmendmentNo: > 0 } pending ? pending.AmendmentNo : null,
            Object = terms.Object, Competences = terms.Competences, CommuneIds = terms.Communes,
            ReferralResponseDays = terms.ReferralResponseDays.OrderBy(d => d.Key, StringComparer.Ordinal)
                .Select(d => new ReferralResponseDays(d.Key, d.Value)).ToList(),
            StartOn = terms.StartOn, EndOn = terms.EndOn, LastDay = s.LastDayOn(asOf),
            RenewalMonths = terms.RenewalMonths, MaxRenewals = terms.MaxRenewals, NoticeDays = terms.NoticeDays,
            AllowsSubdelegation = terms.AllowsSubdelegation,
            FinancialTerms = terms.Amount is { } amount && terms.Periodicity is { } periodicity ? new FinancialTerms(amount, periodicity, terms.PayerId) : null,
            TerminatedOn = s.TerminatedOn, TerminationReason = s.TerminationReason,
            CreatedAt = s.CreatedAt, UpdatedAt = s.UpdatedAt, Version = s.Version,
        };
    }

    private sealed class PartyRow
    {
        public Guid OrganisationId { get; init; }
        public string Name { get; init; } = "";
        public OrganisationKind Kind { get; init; }
    }

    private const string PartiesSql = """
        SELECT cp.organisation_id, o.name, o.kind
        FROM convention_party cp JOIN organisation o ON o.id = cp.organisation_id
        WHERE cp.convention_id = @id
        """;
}

public sealed class GetConventionHandler(Db db, Caller caller, TimeProvider clock) : IQueryHandler<GetConventionQuery, ConventionDto>
{
    public async ValueTask<ConventionDto> Handle(GetConventionQuery query, CancellationToken ct) =>
        await db.RetryAsync(async (c, t) =>
        {
            var state = ConventionAccess.Visible(await ConventionStore.LoadAsync(db, c, null, query.Id, t), caller, query.Id);
            return await ConventionAccess.ToDtoAsync(db, c, null, state, query.AsOf ?? ConventionAccess.Today(clock), caller, t);
        }, ct);
}
