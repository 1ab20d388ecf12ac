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
                [FromQuery] DateOnly? effectiveOn, [FromQuery] bool? dryRun, [FromQuery] Guid? delegator, ISender sender, ImportWorker worker,
                CancellationToken ct) =>
            {
                var format = FormatOf(http.Request.ContentType);
                var list = PushParameters.Check(mode ?? PushMode.UPSERT, competences, effectiveOn);
                var (file, sha) = await SpoolAsync(http.Request, ct);
                try
                {
                    if (new FileInfo(file).Length > SyncBytes)
                    {
                        var job = await sender.Send(new QueuePushCommand(file, format, sha, mode ?? PushMode.UPSERT, list, effectiveOn, dryRun ?? false, delegator), ct);
                        worker.Wake();
                        return Results.Accepted($"/v1/imports/{job.Id}", job);
                    }
                    var report = await sender.Send(new PushDelegationsCommand(file, format, sha, mode ?? PushMode.UPSERT, list, effectiveOn, dryRun ?? false, delegator), ct);
                    if (report.Status != ImportStatus.REFUSED) return Results.Ok(report);
                    return Results.Problem(
                        type: ProblemExceptionHandler.TypeBase + "imports.refused", title: "A business rule refuses the request", statusCode: 422,
                        detail: $"{report.Errors.Count} of {report.Counts.Read} records are refused; nothing was applied. Correct them and push again.",
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
                (`application/x-ndjson`), a JSON array (`application/json`) or CSV (`text/csv`, `;`-separated, UTF-8, the columns of
                `GET /v1/competence-map/export?…&layout=push`); `Content-Encoding: gzip` is accepted. Every record goes through the rules of
                `POST /v1/delegations`. `mode=UPSERT` creates or changes by external reference and leaves the others alone;
                `mode=SNAPSHOT&competences=…` also ends, the day before `effectiveOn` (default today), the running delegations of those
                competences that the push does not list. If any record is refused nothing is applied: 422 `imports.refused` with the
                report (line, external reference, rule type, message of every refused record). `dryRun=true` checks and reports without
                applying. The same content pushed again applies once and answers the first report (`replayed: true`). A push of more
                than about 300 records (64 KiB) is a job: 202 with `Location`; follow it with `GET /v1/imports/{id}` (QUEUED, RUNNING
                with the records read so far, then the report). A job interrupted by a restart is taken again; nothing of it was applied.
                """)
            .WithMetadata(new RequestSizeLimitAttribute(MaxBodyBytes))
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

    private static PushFormat FormatOf(string? contentType) => (contentType?.Split(';')[0].Trim().ToLowerInvariant()) switch
    {
        "application/x-ndjson" or "application/ndjson" => PushFormat.NDJSON,
        "application/json" => PushFormat.JSON,
        "text/csv" => PushFormat.CSV,
        _ => throw new UnsupportedMediaTypeException(
            $"Send the push as application/x-ndjson, application/json or text/csv (got '{contentType}'); gzip it with Content-Encoding: gzip."),
    };

    /// <summary>The body to a temporary file (inflated when gzip), hashed on the way: memory does not grow with the push.</summary>
    private static async Task<(string File, string Sha256)> SpoolAsync(HttpRequest request, CancellationToken ct)
    {
        var file = Path.Combine(Path.GetTempPath(), $"coordinationhub-push-{Guid.NewGuid():N}");
        try
        {
            var gzip = string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase);
            await using var source = gzip ? new GZipStream(request.Body, CompressionMode.Decompress) : request.Body;
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
