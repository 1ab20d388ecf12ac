using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.Http;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.PersonalData;

/// <summary>One read of a person's data: by which organisation and key, which agent, when, in which operation, why.</summary>
[ContractName("PersonAccess")]
public sealed class AccessEntry
{
    public Guid Id { get; init; }
    public Guid ReferralId { get; init; }
    public DateTimeOffset AccessedAt { get; init; }
    public Guid? OrganisationId { get; init; }
    public string? OrganisationName { get; init; }
    public Guid ApiKeyId { get; init; }
    /// <summary>The agent: authenticated by an issuer's token (<see cref="AgentIssuer"/>), else as the calling software
    /// named it in X-Agent.</summary>
    public string? AgentReference { get; init; }
    /// <summary>The issuer that authenticated the agent; null when the agent was declared (or not named).</summary>
    public string? AgentIssuer { get; init; }
    /// <summary>How the agent is known, for the person: "authenticated by &lt;issuer&gt;", "declared", or null when no agent
    /// was named.</summary>
    public string? AgentProof { get; init; }
    /// <summary>The operation (operationId of the contract) that served the data.</summary>
    public string Operation { get; init; } = "";
    /// <summary>X-Purpose, else the operation's default purpose.</summary>
    public string Purpose { get; init; } = "";
}

/// <summary>Who read the person's data of a referral, oldest first: for the organisations involved, each for its span.</summary>
public sealed record ListReferralAccessLogQuery(Guid Id, int? Limit, string? Cursor) : IQuery<Page<AccessEntry>>;

/// <summary>Every read of personal data in a period, oldest first: the platform-wide export for the DPO.</summary>
public sealed record ExportPersonAccessLogQuery(DateOnly From, DateOnly To, int? Limit, string? Cursor) : IQuery<Page<AccessEntry>>;

public sealed class ListReferralAccessLogValidator : AbstractValidator<ListReferralAccessLogQuery>
{
    public ListReferralAccessLogValidator()
    {
        RuleFor(q => q.Limit).InclusiveBetween(1, Cursor.MaxLimit);
        RuleFor(q => q.Cursor).MaximumLength(200);
    }
}

public sealed class ExportPersonAccessLogValidator : AbstractValidator<ExportPersonAccessLogQuery>
{
    public ExportPersonAccessLogValidator()
    {
        RuleFor(q => q.From).InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange);
        RuleFor(q => q.To).InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange)
            .GreaterThanOrEqualTo(q => q.From).WithMessage("to is on or after from.");
        RuleFor(q => q.Limit).InclusiveBetween(1, Cursor.MaxLimit);
        RuleFor(q => q.Cursor).MaximumLength(200);
    }
}

public sealed class ListReferralAccessLogHandler(Db db, Caller caller, Platform.Security.DataKeys keys)
    : IQueryHandler<ListReferralAccessLogQuery, Page<AccessEntry>>
{
    public async ValueTask<Page<AccessEntry>> Handle(ListReferralAccessLogQuery q, CancellationToken ct) =>
        await db.RetryAsync(async (c, t) =>
        {
            var row = await ReferralStore.LoadAsync(db, c, null, q.Id, t);
            var view = await ReferralVisibility.ViewAsync(db, c, null, row, q.Id, caller, t);
            // An earlier receiver sees the reads up to its transfer: not those of the receivers after it.
            return view.LeftAt is { } leftAt
                ? await AccessPages.ReadAsync(db, keys, c, "a.referral_id = @referralId AND a.accessed_at <= @leftAt",
                    new { referralId = q.Id, leftAt }, q.Limit, q.Cursor, t)
                : await AccessPages.ReadAsync(db, keys, c, "a.referral_id = @referralId",
                    new { referralId = q.Id }, q.Limit, q.Cursor, t);
        }, ct);
}

public sealed class ExportPersonAccessLogHandler(Db db, Caller caller, Platform.Security.DataKeys keys)
    : IQueryHandler<ExportPersonAccessLogQuery, Page<AccessEntry>>
{
    public async ValueTask<Page<AccessEntry>> Handle(ExportPersonAccessLogQuery q, CancellationToken ct)
    {
        if (!caller.IsPlatformAdmin) throw new ForbiddenException("The platform-wide access log is for the platform administrator (the DPO's key).");
        var from = new DateTimeOffset(q.From.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        var before = new DateTimeOffset(q.To.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        return await db.RetryAsync((c, t) =>
            AccessPages.ReadAsync(db, keys, c, "a.accessed_at >= @from AND a.accessed_at < @before", new { from, before }, q.Limit, q.Cursor, t), ct);
    }
}

/// <summary>Keyset pages of access records in id order (UUIDv7: time order).</summary>
internal static class AccessPages
{
    public static async Task<Page<AccessEntry>> ReadAsync(Db db, Platform.Security.DataKeys keys, System.Data.Common.DbConnection c, string where,
        object filter, int? limit, string? cursor, CancellationToken ct)
    {
        var take = limit ?? Cursor.DefaultLimit;
        var after = Cursor.Decode(cursor, 1) is { } parts ? Cursor.Id(parts[0]) : Guid.Empty;
        var args = new DynamicParameters(filter);
        args.Add("afterId", after);
        args.Add("limit", take + 1);
        var rows = await OpenAsync(keys, await c.QueryAsync<AccessEntry>(db.Command(Sql(where), args, ct)), ct);
        return Cursor.ToPage(rows, take, r => [r.Id.ToString()]);
    }

    /// <summary>Every access record of a referral (the dossier).</summary>
    public static async Task<IReadOnlyList<AccessEntry>> ReadAllAsync(Db db, Platform.Security.DataKeys keys, System.Data.Common.DbConnection c,
        Guid referralId, CancellationToken ct) =>
        await OpenAsync(keys, await c.QueryAsync<AccessEntry>(db.Command(Sql("a.referral_id = @referralId"),
            new { referralId, afterId = Guid.Empty, limit = int.MaxValue }, ct)), ct);

    /// <summary>X-Agent and X-Purpose as the caller sent them (stored sealed, <see cref="PersonAccess"/>).</summary>
    private static async Task<List<AccessEntry>> OpenAsync(Platform.Security.DataKeys keys, IEnumerable<AccessEntry> rows, CancellationToken ct)
    {
        var opened = new List<AccessEntry>();
        foreach (var r in rows)
            opened.Add(new AccessEntry
            {
                Id = r.Id, ReferralId = r.ReferralId, AccessedAt = r.AccessedAt, OrganisationId = r.OrganisationId, OrganisationName = r.OrganisationName,
                ApiKeyId = r.ApiKeyId, Operation = r.Operation, AgentIssuer = r.AgentIssuer,
                AgentProof = r.AgentReference is null ? null : r.AgentIssuer is { } issuer ? "authenticated by " + issuer : "declared",
                AgentReference = await keys.OpenPlatformAsync(r.AgentReference, PersonAccess.AgentContext(r.Id), ct),
                Purpose = (await keys.OpenPlatformAsync(r.Purpose, PersonAccess.PurposeContext(r.Id), ct))!,
            });
        return opened;
    }

    internal static string Sql(string where) => $"""
        SELECT a.id, a.referral_id, a.accessed_at, a.organisation_id, o.name AS organisation_name, a.api_key_id, a.agent_reference,
               a.operation, a.purpose, a.agent_issuer
        FROM person_access a LEFT JOIN organisation o ON o.id = a.organisation_id
        WHERE {where} AND a.id > @afterId
        ORDER BY a.id
        {"{limit}"}
        """;
}
