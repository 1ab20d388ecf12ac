using CoordinationHub.Platform.Http;
using System.Text;
using System.Text.Json;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Imports;

/// <summary>A push's report, for the organisation that pushed it or whose delegations it carried.</summary>
public sealed record GetImportQuery(Guid Id) : IQuery<ImportReport>;

public sealed class GetImportHandler(Db db, Caller caller, ImportProgress progress, ImportSafety safety, TimeProvider clock)
    : IQueryHandler<GetImportQuery, ImportReport>
{
    public async ValueTask<ImportReport> Handle(GetImportQuery query, CancellationToken ct)
    {
        async Task<JobRow?> Row() => await db.RetryAsync((c, t) => c.QuerySingleOrDefaultAsync<JobRow>(db.Command(JobSql, new { query.Id }, t)), ct);
        var row = await Row();
        // Queued on SQLite while a push held the writer: recorded beside its body until the worker registers it.
        if (row is null && db.Dialect.Provider == DatabaseProvider.Sqlite)
        {
            if (QueuedJob.Read(db, query.Id) is { } queued)
                return caller.IsPlatformAdmin || caller.Is(queued.DelegatorId) || (queued.OrganisationId is { } by && caller.Is(by))
                    ? queued.Report() : throw new NotFoundException("import", query.Id);
            // The worker registered it between the two reads: the file goes only once the row exists.
            row = await Row();
        }
        if (row is null || !(caller.IsPlatformAdmin || caller.Is(row.DelegatorId) || (row.OrganisationId is { } o && caller.Is(o))))
            throw new NotFoundException("import", query.Id);
        // A push this process is applying is alive: it reads RUNNING until its outcome is recorded and the map includes it.
        var here = progress.Of(query.Id);
        if (row.Report is { } report && here is null) return JsonSerializer.Deserialize<ImportReport>(report, PushDelegationsHandler.ReportJson)!;
        // Still queued or running: what is known so far (records read, when this process applies it); the heartbeat
        // says whether its worker is alive, the attempt and the last failure whether it is being retried.
        var status = here is not null ? ImportStatus.RUNNING : Enum.Parse<ImportStatus>(row.Status);
        return new ImportReport(query.Id, row.DelegatorId, Enum.Parse<PushMode>(row.Mode), row.DryRun, status, row.ContentSha256,
            new ImportCounts(here ?? 0, 0, 0, 0, 0, 0), [], row.CreatedAt, row.CreatedAt, false)
        {
            Attempt = row.Attempts > 0 ? row.Attempts : null, MaxAttempts = row.BodyFile is null ? null : safety.Options.MaxAttempts,
            LastHeartbeatAt = here is not null ? clock.GetUtcNow() : row.HeartbeatAt, FailureReason = row.FailureReason,
        };
    }

    public static string ErrorsCsv(ImportReport report)
    {
        var sb = new StringBuilder("line;external_ref;type;message\n");
        foreach (var e in report.Errors)
            sb.Append(e.Line).Append(';').Append(Csv.Quote(e.ExternalRef ?? "")).Append(';').Append(e.Type).Append(';').Append(Csv.Quote(e.Message)).Append('\n');
        return sb.ToString();
    }

    private sealed class JobRow
    {
        public Guid DelegatorId { get; init; }
        public Guid? OrganisationId { get; init; }
        public string? Report { get; init; }
        public string Status { get; init; } = "";
        public string Mode { get; init; } = "";
        public bool DryRun { get; init; }
        public string ContentSha256 { get; init; } = "";
        public DateTimeOffset CreatedAt { get; init; }
        public int Attempts { get; init; }
        public DateTimeOffset? HeartbeatAt { get; init; }
        public string? FailureReason { get; init; }
        public string? BodyFile { get; init; }
    }

    private const string JobSql = """
        SELECT delegator_id, organisation_id, report, status, mode, dry_run, content_sha256, created_at, attempts, heartbeat_at, failure_reason, body_file
        FROM import_job WHERE id = @id
        """;
}
