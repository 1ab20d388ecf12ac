using CoordinationHub.Platform.OpenApi;
using System.Text.Json.Serialization;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Conventions;

/// <summary>Every version of a convention (the original, then each amendment) with its signatures, and the termination if any.</summary>
public sealed record GetConventionHistoryQuery(Guid Id) : IQuery<ConventionHistoryDto>;

public enum VersionStatus { DRAFT, SIGNED }

[ContractName("Signature")]
public sealed record SignatureDto(Guid OrganisationId, string SignerName, DateOnly SignedOn);

[ContractName("ConventionVersion")]
public sealed record ConventionVersionDto(
    int AmendmentNo, VersionStatus Status, DateOnly EffectiveOn, string? Summary, IReadOnlyList<SignatureDto> Signatures,
    DateTimeOffset CreatedAt, DateTimeOffset? SignedAt)
{
    /// <summary>The convention's version (ETag) when this was read.</summary>
    [JsonIgnore] public int ConventionVersion { get; init; }
}

[ContractName("Termination")]
public sealed record TerminationDto(DateOnly EffectiveOn, DateOnly LastDay, string Reason, Guid? TerminatedBy, DateTimeOffset RecordedAt);

[ContractName("ConventionHistory")]
public sealed record ConventionHistoryDto(Guid ConventionId, string Reference, IReadOnlyList<ConventionVersionDto> Versions, TerminationDto? Termination)
{
    [JsonIgnore] public int Version { get; init; }
}

public sealed class GetConventionHistoryHandler(Db db, Caller caller) : IQueryHandler<GetConventionHistoryQuery, ConventionHistoryDto>
{
    public async ValueTask<ConventionHistoryDto> Handle(GetConventionHistoryQuery query, CancellationToken ct) =>
        await db.RetryAsync(async (c, t) =>
        {
            var state = ConventionAccess.Visible(await ConventionStore.LoadAsync(db, c, null, query.Id, t), caller, query.Id);
            var seesPending = caller.IsPlatformAdmin || state.IsParty(caller.OrganisationId);
            var rows = await c.QueryAsync<VersionRow>(db.Command(VersionsSql, new { query.Id }, t));
            var versions = rows
                // An amendment under negotiation is the parties' business until signed.
                .Where(v => seesPending || v.Status == nameof(VersionStatus.SIGNED))
                .Select(v => new ConventionVersionDto(
                    v.AmendmentNo, Enum.Parse<VersionStatus>(v.Status), v.EffectiveOn, v.Summary,
                    state.Signatures.Where(s => s.AmendmentNo == v.AmendmentNo).Select(s => new SignatureDto(s.OrganisationId, s.SignerName, s.SignedOn)).ToList(),
                    v.CreatedAt, v.SignedAt) { ConventionVersion = state.Version })
                .ToList();
            TerminationDto? termination = null;
            if (state.TerminatedOn is { } on)
            {
                var head = await c.QuerySingleAsync<TerminationRow>(db.Command(TerminationSql, new { query.Id }, t));
                termination = new TerminationDto(on, on.AddDays(-1), state.TerminationReason ?? "", head.TerminatedBy, head.UpdatedAt);
            }
            return new ConventionHistoryDto(state.Id, state.Reference, versions, termination) { Version = state.Version };
        }, ct);

    private sealed class VersionRow
    {
        public int AmendmentNo { get; init; }
        public string Status { get; init; } = "";
        public DateOnly EffectiveOn { get; init; }
        public string? Summary { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset? SignedAt { get; init; }
    }

    private sealed class TerminationRow
    {
        public Guid? TerminatedBy { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }
    }

    private const string VersionsSql = """
        SELECT amendment_no, status, effective_on, summary, created_at, signed_at
        FROM convention_version WHERE convention_id = @id ORDER BY amendment_no
        """;
    // The termination is the convention's last change: nothing is written to a terminated convention but pending signatures are refused.
    private const string TerminationSql = "SELECT terminated_by, updated_at FROM convention WHERE id = @id";
}
