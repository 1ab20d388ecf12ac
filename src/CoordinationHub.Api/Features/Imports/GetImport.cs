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

public sealed class GetImportHandler(Db db, Caller caller, ImportProgress progress) : IQueryHandler<GetImportQuery, ImportReport>
{
    public async ValueTask<ImportReport> Handle(GetImportQuery query, CancellationToken ct)
    {
        var row = await db.RetryAsync((c, t) => c.QuerySingleOrDefaultAsync<JobRow>(db.Command(JobSql, new { query.Id }, t)), ct);
        if (row is null || !(caller.IsPlatformAdmin || caller.Is(row.DelegatorId) || (row.OrganisationId is { } o && caller.Is(o))))
            throw new NotFoundException("import", query.Id);
        if (row.Report is { } report) return JsonSerializer.Deserialize<ImportReport>(report, PushDelegationsHandler.ReportJson)!;
        // Still queued or running: what is known so far (records read, when this process applies it).
        return new ImportReport(query.Id, row.DelegatorId, Enum.Parse<PushMode>(row.Mode), row.DryRun, Enum.Parse<ImportStatus>(row.Status), row.ContentSha256,
            new ImportCounts(progress.Of(query.Id) ?? 0, 0, 0, 0, 0, 0), [], row.CreatedAt, row.CreatedAt, false);
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
    }

    private const string JobSql = """
        SELECT delegator_id, organisation_id, report, status, mode, dry_run, content_sha256, created_at FROM import_job WHERE id = @id
        """;
}
