using System.Data;
using System.Data.Common;
using System.Threading.Channels;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;

namespace CoordinationHub.Features.PersonalData;

/// <summary>The access log could not be written: the person's data is not served.</summary>
public sealed class AccessLogUnavailableException(Exception inner)
    : ProblemException(503, "access-log-unavailable", "The access log is unavailable",
        "Reads of a person's data are logged before they are served, and the log cannot be written now; try again in a few seconds.")
{
    public Exception Cause { get; } = inner;
}

/// <summary>The caller's organisation demands an agent authenticated by an issuer to read the person's data.</summary>
public sealed class AgentRequiredException()
    : ProblemException(403, "auth.agent-required", "An authenticated agent is required",
        "Your organisation requires reads of the person's data to be made by an agent authenticated by an OpenID Connect "
        + "issuer: send the agent's token, not an API key or a machine client's token.");

/// <summary>
/// What the calling software tells of a request that reads a person's data: its agent (<c>X-Agent</c>)
/// and why (<c>X-Purpose</c>, else the operation's default), and which operation it is.
/// </summary>
public sealed class AccessContext
{
    public const string AgentHeader = "X-Agent", PurposeHeader = "X-Purpose";
    public const int AgentMax = 100, PurposeMax = 200;

    public string? Agent { get; set; }
    /// <summary>The issuer that authenticated <see cref="Agent"/>; null when the calling software declared it.</summary>
    public string? AgentIssuer { get; set; }
    public string? Purpose { get; set; }
    public string Operation { get; set; } = "";
    /// <summary>The referrals this request logged a read of: an idempotent replay of its answer logs them again.</summary>
    public HashSet<Guid> Logged { get; } = [];

    /// <summary>The purpose of each operation when the caller gives none.</summary>
    public static string DefaultPurpose(string operation) => operation switch
    {
        "CreateReferral" or "ReorientReferral" => "referral: sending",
        "ListSentReferrals" or "ListReceivedReferrals" => "referral box",
        "ListReferralMessages" or "PostReferralMessage" => "referral thread",
        "GetReferralDossier" => "right of access (GDPR art. 15)",
        "RectifyReferralPerson" or "ListReferralPersonVersions" => "rectification (GDPR art. 16)",
        _ => "referral follow-up",
    };

    /// <summary>Reads the headers and the operation (the endpoint's name); 400 when a header is too long.</summary>
    public static async Task Middleware(HttpContext http, Func<Task> next)
    {
        var context = http.RequestServices.GetRequiredService<AccessContext>();
        context.Agent = Header(http, AgentHeader, AgentMax);
        // An agent proven by a token is the one logged; a declared X-Agent must name it.
        if (http.RequestServices.GetRequiredService<Caller>().Agent is { } proven)
        {
            if (context.Agent is { } declared && !proven.Matches(declared))
                throw new RuleException("auth.agent-mismatch",
                    $"{AgentHeader} names another agent than the one the token authenticates (issuer '{proven.Issuer}').");
            (context.Agent, context.AgentIssuer) = (proven.Reference, proven.Issuer);
        }
        context.Purpose = Header(http, PurposeHeader, PurposeMax);
        context.Operation = http.GetEndpoint()?.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName ?? "";
        NoStore.Register(http, context);
        await next();
    }

    private static string? Header(HttpContext http, string name, int max)
    {
        var value = Platform.Http.HeaderText.Decode(http.Request.Headers[name].ToString()).Trim();
        if (value.Length > max) throw new BadRequestException("header-too-long", $"{name} is at most {max} characters.");
        return value.Length == 0 ? null : value;
    }
}

public sealed record AccessRecord(
    Guid Id, DateTimeOffset AccessedAt, Guid ReferralId, Guid? OrganisationId, Guid ApiKeyId, string? AgentReference, string Operation, string Purpose,
    string? AgentIssuer = null);

/// <summary>
/// Writes an access record for every referral whose person's data an answer carries, before the answer
/// leaves. Commands write them in their own transaction; reads hand them to <see cref="AccessLogWriter"/>,
/// which commits the rows of concurrent requests together and answers each once its rows are durable.
/// </summary>
public sealed class PersonAccess(Caller caller, AccessContext context, AccessLogWriter writer, Db db, TimeProvider clock,
    Platform.Security.DataKeys keys, OrganisationAccessStore organisations)
{
    public async Task RecordAsync(IEnumerable<Guid> referralIds, CancellationToken ct)
    {
        var rows = await RowsAsync(referralIds, ct);
        if (rows.Count > 0) await writer.WriteAsync(rows, ct);
    }

    public async Task RecordAsync(DbConnection c, DbTransaction tx, IEnumerable<Guid> referralIds, CancellationToken ct)
    {
        var rows = await RowsAsync(referralIds, ct);
        if (rows.Count == 0) return;
        try { await AccessLogWriter.InsertAsync(db, c, tx, rows, ct); }
        catch (DbException e) { throw new AccessLogUnavailableException(e); }
    }

    /// <summary>
    /// The rows; X-Agent and X-Purpose are free texts that often name someone: sealed with the platform's data key (the log
    /// outlives the person's erasure, as the evidence of who read). A default purpose is the operation's, kept in clear.
    /// </summary>
    private async Task<List<AccessRecord>> RowsAsync(IEnumerable<Guid> referralIds, CancellationToken ct)
    {
        var ids = referralIds.Distinct().ToList();
        if (ids.Count == 0) return [];
        // Checked where every read of the person's data is logged: no read can skip it.
        if (caller.Agent is null && caller.OrganisationId is { } org
            && (await organisations.FindAsync(org, ct))?.RequireAuthenticatedAgent == true)
            throw new AgentRequiredException();
        var now = clock.GetUtcNow();
        context.Logged.UnionWith(ids);
        var key = context.Agent is null && context.Purpose is null ? null : await keys.PlatformAsync(null, null, ct);
        return ids.Select(id =>
        {
            var row = Guid.CreateVersion7();
            return new AccessRecord(row, now, id, caller.OrganisationId, caller.KeyId,
                context.Agent is { } agent ? Platform.Security.PersonCipher.SealWithPlatformKey(key!, agent, AgentContext(row)) : null,
                context.Operation,
                context.Purpose is { } purpose ? Platform.Security.PersonCipher.SealWithPlatformKey(key!, purpose, PurposeContext(row))
                    : AccessContext.DefaultPurpose(context.Operation),
                context.AgentIssuer);
        }).ToList();
    }

    /// <summary>Every access record of a referral, its free texts opened (the dossier).</summary>
    public Task<IReadOnlyList<AccessEntry>> ReadAllAsync(DbConnection c, Guid referralId, CancellationToken ct) =>
        AccessPages.ReadAllAsync(db, keys, c, referralId, ct);

    public static string AgentContext(Guid accessId) => $"access:{accessId}:agent";
    public static string PurposeContext(Guid accessId) => $"access:{accessId}:purpose";
}

/// <summary>Group commit of access records: one transaction for the rows of every request waiting.</summary>
public sealed class AccessLogWriter : IAsyncDisposable
{
    private sealed record Pending(IReadOnlyList<AccessRecord> Rows, TaskCompletionSource Done);

    private readonly Db db;
    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task loop;

    public AccessLogWriter(Db db)
    {
        this.db = db;
        loop = Task.Run(RunAsync);
    }

    public async Task WriteAsync(IReadOnlyList<AccessRecord> rows, CancellationToken ct)
    {
        var pending = new Pending(rows, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        await queue.Writer.WriteAsync(pending, ct);
        await pending.Done.Task.WaitAsync(ct);
    }

    private async Task RunAsync()
    {
        var batch = new List<Pending>();
        while (await queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            var rows = 0;
            while (rows < 2000 && queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
                rows += next.Rows.Count;
            }
            try
            {
                await db.InTransactionAsync(async (c, tx, t) =>
                {
                    await InsertAsync(db, c, tx, batch.SelectMany(p => p.Rows).ToList(), t);
                    return 0;
                }, CancellationToken.None);
                foreach (var p in batch) p.Done.TrySetResult();
            }
            catch (Exception e)
            {
                foreach (var p in batch) p.Done.TrySetException(new AccessLogUnavailableException(e));
            }
        }
    }

    internal static Task InsertAsync(Db db, DbConnection c, DbTransaction tx, IReadOnlyList<AccessRecord> rows, CancellationToken ct) =>
        db.InsertRowsAsync(c, tx, "person_access", Columns, Types,
            rows.Select(r => new object?[]
            {
                r.Id, r.AccessedAt, r.ReferralId, r.OrganisationId, r.ApiKeyId, r.AgentReference, r.Operation, r.Purpose, r.AgentIssuer,
            }), ct);

    private static readonly string[] Columns =
        ["id", "accessed_at", "referral_id", "organisation_id", "api_key_id", "agent_reference", "operation", "purpose", "agent_issuer"];
    private static readonly DbType[] Types =
        [DbType.Guid, DbType.DateTimeOffset, DbType.Guid, DbType.Guid, DbType.Guid, DbType.String, DbType.String, DbType.String, DbType.String];

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await loop;
    }
}
