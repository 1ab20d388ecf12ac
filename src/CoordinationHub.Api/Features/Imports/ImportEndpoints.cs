using System.IO.Compression;
using System.Security.Cryptography;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Errors;
using Mediator;
using Microsoft.AspNetCore.Mvc;

namespace CoordinationHub.Features.Imports;

public static class ImportEndpoints
{
    /// <summary>A push of 200,000 records is about 40 MB as CSV; gzip makes it a few MB.</summary>
    public const long MaxBodyBytes = 256L * 1024 * 1024;
    /// <summary>Pushes up to about 300 records (this many bytes once inflated) are applied while the client waits.</summary>
    public const long SyncBytes = 64 * 1024;
    private const long MaxInflatedBytes = 1024L * 1024 * 1024;

    public static void MapImports(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/imports").WithTags("Imports");

        group.MapPost("/delegations", async (HttpContext http, [FromQuery] PushMode? mode, [FromQuery] string? competences,
                [FromQuery] DateOnly? effectiveOn, [FromQuery] bool? dryRun, [FromQuery] Guid? delegator, [FromQuery] bool? allowEmpty,
                [FromQuery] int? confirmEnded, ISender sender, ImportWorker worker, CancellationToken ct) =>
            {
                var format = FormatOf(http.Request.ContentType);
                var list = PushParameters.Check(mode ?? PushMode.UPSERT, competences, effectiveOn);
                if (confirmEnded is < 0 or > PushDelegationsHandler.MaxRecords)
                    throw new BadRequestException("imports.confirm-ended", $"confirmEnded is the number of endings confirmed: 0 to {PushDelegationsHandler.MaxRecords}.");
                var (file, sha) = await SpoolAsync(http.Request, CharsetOf(http.Request.ContentType), ct);
                try
                {
                    if (new FileInfo(file).Length > SyncBytes)
                    {
                        var job = await sender.Send(new QueuePushCommand(file, format, sha, mode ?? PushMode.UPSERT, list, effectiveOn, dryRun ?? false,
                            delegator, allowEmpty ?? false, confirmEnded), ct);
                        worker.Wake();
                        return Results.Accepted($"/v1/imports/{job.Id}", job);
                    }
                    var report = await sender.Send(new PushDelegationsCommand(file, format, sha, mode ?? PushMode.UPSERT, list, effectiveOn, dryRun ?? false,
                        delegator, AllowEmpty: allowEmpty ?? false, ConfirmEnded: confirmEnded), ct);
                    if (report.Status != ImportStatus.REFUSED) return Results.Ok(report);
                    // A rule of the push as a whole (line 0: an empty snapshot, too many endings) is the problem's own type.
                    var whole = report.Errors is [{ Line: 0 } only] ? only : null;
                    return Results.Problem(
                        type: ProblemExceptionHandler.TypeBase + (whole?.Type ?? "imports.refused"), title: "A business rule refuses the request", statusCode: 422,
                        detail: whole is not null ? whole.Message + " Nothing was applied."
                            : $"{report.ErrorCount} of {report.Counts.Read} records are refused; nothing was applied. Correct them and push again.",
                        extensions: new Dictionary<string, object?> { ["traceId"] = http.TraceIdentifier, ["report"] = report });
                }
                finally
                {
                    File.Delete(file);
                }
            })
            .WithName("PushDelegations")
            .WithSummary("Push a département's delegations in bulk (upsert or snapshot), all or nothing")
            .WithDescription("""
                The body is the delegator's records, one delegation each, keyed by the delegator's own `externalRef`: NDJSON
                (`application/x-ndjson`), a JSON array (`application/json`) or CSV (`text/csv`, `;`- or `,`-separated, the columns of
                `GET /v1/competence-map/export?…&layout=push`, header names quoted or not); `charset=utf-8` (default; invalid UTF-8 is
                refused with its line), `iso-8859-1` or `windows-1252`; `Content-Encoding: gzip` is accepted. Every record goes through
                the rules of `POST /v1/delegations`. `mode=UPSERT` creates or changes by external reference and leaves the others alone;
                `mode=SNAPSHOT&competences=…` (codes of the catalogue) also ends, the day before `effectiveOn` (default today), the
                running delegations of those competences that the push does not list. Safety rails: an empty snapshot is refused (422
                `imports.empty-snapshot`) unless `allowEmpty=true`; a snapshot that would end more than a share of the running
                delegations of its competences (20 % unless configured) is refused (422 `imports.snapshot-ends-too-many`, the list in
                `report.wouldEnd`) unless `confirmEnded` is at least the count. If any record is refused nothing is applied: 422
                `imports.refused` with the report (line, external reference, rule type, message of the first 1,000 refused records;
                `errorCount` counts them all). `dryRun=true` checks and reports without applying. The same content pushed again is
                applied again (unchanged records count as `unchanged`); a request repeated with the same `Idempotency-Key` replays
                the first answer. A push of more than about 300 records (64 KiB) is a job: 202 with `Location`; follow it with
                `GET /v1/imports/{id}` (QUEUED, RUNNING with the records read so far and `lastHeartbeatAt`, renewed every 2 s; a
                worker silent for 10 s died, and the job is taken again: `attempt` of `maxAttempts`, `failureReason`), then the report,
                or FAILED with `failureReason` after the last attempt. Nothing of a job that did not end APPLIED was applied.
                """)
            .WithMetadata(new RequestSizeLimitAttribute(MaxBodyBytes), new Platform.Http.Idempotency.AnswersBeforeTheWriter())
            .Accepts<IReadOnlyList<PushRecord>>("application/json", "application/x-ndjson", "text/csv")
            .RequireAuthorization(Scopes.DelegationsImport)
            .Produces<ImportReport>(200)
            .Produces<ImportReport>(202)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(413).ProducesProblem(415).ProducesProblem(422);

        group.MapGet("/reconciliation", async ([FromQuery] string departement, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ReconcileDelegationsQuery(departement), ct)))
            .WithName("ReconcileDelegations")
            .WithSummary("Where a département's delegations and ours disagree: never sent, or held differently since its last push")
            .WithDescription("For the département's own key (or the platform administrator): our running delegations whose external reference no applied push ever sent (made by hand, or dropped from its system), and the records of its last applied push that we hold differently since (changed or ended through the API).")
            .RequireAuthorization(Scopes.DelegationsImport)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapGet("/{id:guid}", async (Guid id, [FromQuery] string? format, ISender sender, CancellationToken ct) =>
            {
                var report = await sender.Send(new GetImportQuery(id), ct);
                return string.Equals(format, "csv", StringComparison.OrdinalIgnoreCase)
                    ? Results.Text(GetImportHandler.ErrorsCsv(report), "text/csv; charset=utf-8")
                    : Results.Ok(report);
            })
            .WithName("GetImport")
            .WithSummary("A push's report: status, counts and refused records (as JSON, or the refused records as CSV)")
            .RequireAuthorization(Scopes.DelegationsImport)
            .Produces<ImportReport>(200, "application/json", "text/csv")
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);
    }

    /// <summary>The body's declared charset: UTF-8 when none (checked strictly when read); French Excel writes Windows-1252.</summary>
    private static System.Text.Encoding? CharsetOf(string? contentType)
    {
        var charset = Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var parsed) ? parsed.Charset.Value?.Trim('"') : null;
        switch (charset?.ToLowerInvariant())
        {
            case null or "" or "utf-8" or "utf8" or "us-ascii": return null;
            case "iso-8859-1" or "latin1" or "iso_8859-1" or "l1": return System.Text.Encoding.Latin1;
            case "windows-1252" or "cp1252" or "x-cp1252":
                System.Text.Encoding.RegisterProvider(System.Text.CodePagesEncodingProvider.Instance);
                return System.Text.Encoding.GetEncoding(1252);
            default:
                throw new UnsupportedMediaTypeException(
                    $"charset={charset} is not read: send charset=utf-8 (the default), iso-8859-1 or windows-1252 (what French Excel writes).");
        }
    }

    private static PushFormat FormatOf(string? contentType) => (contentType?.Split(';')[0].Trim().ToLowerInvariant()) switch
    {
        "application/x-ndjson" or "application/ndjson" => PushFormat.NDJSON,
        "application/json" => PushFormat.JSON,
        "text/csv" => PushFormat.CSV,
        _ => throw new UnsupportedMediaTypeException(
            $"Content-Type '{contentType}' is not a push format. Accepted: application/x-ndjson, application/json, text/csv "
            + "(charset utf-8, iso-8859-1 or windows-1252); gzip any of them with Content-Encoding: gzip."),
    };

    /// <summary>The body to a temporary file (inflated when gzip), hashed on the way: memory does not grow with the push.</summary>
    /// <summary>
    /// The body to a temporary file (inflated when gzip; transcoded to UTF-8 when another charset is declared), hashed on
    /// the way: memory does not grow with the push.
    /// </summary>
    private static async Task<(string File, string Sha256)> SpoolAsync(HttpRequest request, System.Text.Encoding? charset, CancellationToken ct)
    {
        var file = Path.Combine(Path.GetTempPath(), $"coordinationhub-push-{Guid.NewGuid():N}");
        try
        {
            var gzip = string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase);
            await using var inflated = gzip ? new GZipStream(request.Body, CompressionMode.Decompress) : request.Body;
            await using var source = charset is null ? inflated
                : System.Text.Encoding.CreateTranscodingStream(inflated, charset, new System.Text.UTF8Encoding(false), leaveOpen: true);
            await using var target = File.Create(file);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[81920];
            long total = 0;
            int n;
            while ((n = await source.ReadAsync(buffer, ct)) > 0)
            {
                if ((total += n) > MaxInflatedBytes)
                    throw new BadHttpRequestException($"The push inflates beyond {MaxInflatedBytes} bytes.", StatusCodes.Status413PayloadTooLarge);
                sha.AppendData(buffer, 0, n);
                await target.WriteAsync(buffer.AsMemory(0, n), ct);
            }
            return (file, Convert.ToHexStringLower(sha.GetHashAndReset()));
        }
        catch (InvalidDataException)
        {
            File.Delete(file);
            throw new BadRequestException("imports.bad-gzip", "The body is not valid gzip (Content-Encoding: gzip).");
        }
        catch
        {
            File.Delete(file);
            throw;
        }
    }
}
