using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Errors;
using Mediator;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace CoordinationHub.Features.Indicators;

public static class IndicatorEndpoints
{
    /// <summary>Seconds a public answer may be kept by caches (the rollups move with every referral written).</summary>
    public const int PublicMaxAge = 300;

    public static void MapIndicators(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/indicators").WithTags("Indicators");

        group.MapGet("/needs", async ([FromQuery] TerritoryLevel level, [FromQuery] string code, [FromQuery] PeriodGrain? period,
                [FromQuery] NeedRows? rows, [FromQuery] DateOnly? from, [FromQuery] DateOnly? to, [FromQuery] string? competence,
                [FromQuery] string? format, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var answer = await sender.Send(new GetNeedIndicatorsQuery(level, code, period ?? PeriodGrain.MONTH,
                    rows ?? NeedRows.COMPETENCE, from, to, competence), ct);
                return Answer(http, answer, format, IndicatorCsv.Needs, isPublic: true);
            })
            .WithName("GetNeedIndicators")
            .WithSummary("Referrals by need in a commune, EPCI or département, per month, quarter or year (open data)")
            .WithDescription(NeedsDescription + Public)
            .AllowAnonymous()
            .Produces<NeedIndicators>(200, "application/json", "text/csv").Produces(304)
            .ProducesProblem(400).ProducesProblem(404);

        group.MapGet("/answers", async ([FromQuery] TerritoryLevel level, [FromQuery] string code, [FromQuery] DateOnly? from,
                [FromQuery] DateOnly? to, [FromQuery] string? format, ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var answer = await sender.Send(new GetAnswerIndicatorsQuery(level, code, from, to), ct);
                return Answer(http, answer, format, IndicatorCsv.Answers, isPublic: true);
            })
            .WithName("GetAnswerIndicators")
            .WithSummary("How referrals sent in a territory were answered: times, shares, outcomes, decline reasons (open data)")
            .WithDescription(AnswersDescription + Public)
            .AllowAnonymous()
            .Produces<AnswerIndicators>(200, "application/json", "text/csv").Produces(304)
            .ProducesProblem(400).ProducesProblem(404);

        group.MapGet("/delegation-coverage", async ([FromQuery] string departement, [FromQuery] DateOnly? on, [FromQuery] string? format,
                ISender sender, HttpContext http, CancellationToken ct) =>
            {
                var answer = await sender.Send(new GetDelegationCoverageQuery(departement, on), ct);
                return Answer(http, answer, format, IndicatorCsv.Coverage, isPublic: true);
            })
            .WithName("GetDelegationCoverage")
            .WithSummary("Per competence, the share of a département's communes and inhabitants served by a delegate, on a date (open data)")
            .WithDescription("For each competence of the catalogue: how many of the département's communes (and of their inhabitants) "
                + "have, on `on` (default today), a delegate rather than the holder by law as the body responsible — the same chains "
                + "as `GET /v1/competence-map`. With the conventions whose delegations in the département end within 90 days. "
                + "Organisations and conventions are public: no secrecy applies." + Public)
            .AllowAnonymous()
            .Produces<DelegationCoverage>(200, "application/json", "text/csv").Produces(304)
            .ProducesProblem(400).ProducesProblem(404);

        group.MapGet("/own/needs", async ([FromQuery] TerritoryLevel level, [FromQuery] string code, [FromQuery] PeriodGrain? period,
                [FromQuery] NeedRows? rows, [FromQuery] DateOnly? from, [FromQuery] DateOnly? to, [FromQuery] string? competence,
                [FromQuery] string? format, ISender sender, Caller caller, HttpContext http, CancellationToken ct) =>
            {
                var answer = await sender.Send(new GetNeedIndicatorsQuery(level, code, period ?? PeriodGrain.MONTH,
                    rows ?? NeedRows.COMPETENCE, from, to, competence) { Organisation = Own(caller) }, ct);
                return Answer(http, answer, format, IndicatorCsv.Needs, isPublic: false);
            })
            .WithName("GetOwnNeedIndicators")
            .WithSummary("Your organisation's own referrals by need and period, unsuppressed")
            .WithDescription(NeedsDescription + Own_)
            .RequireAuthorization(Scopes.ReferralsRead)
            .Produces<NeedIndicators>(200, "application/json", "text/csv").Produces(304)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapGet("/own/answers", async ([FromQuery] TerritoryLevel level, [FromQuery] string code, [FromQuery] DateOnly? from,
                [FromQuery] DateOnly? to, [FromQuery] string? format, ISender sender, Caller caller, HttpContext http, CancellationToken ct) =>
            {
                var answer = await sender.Send(new GetAnswerIndicatorsQuery(level, code, from, to) { Organisation = Own(caller) }, ct);
                return Answer(http, answer, format, IndicatorCsv.Answers, isPublic: false);
            })
            .WithName("GetOwnAnswerIndicators")
            .WithSummary("How your organisation's referrals were answered (as sender) and how it answered (as receiver), unsuppressed")
            .WithDescription(AnswersDescription + Own_)
            .RequireAuthorization(Scopes.ReferralsRead)
            .Produces<AnswerIndicators>(200, "application/json", "text/csv").Produces(304)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);
    }

    private static Guid Own(Caller caller) => caller.OrganisationId
        ?? throw new ForbiddenException("Own figures are an organisation's: this key belongs to none.");

    /// <summary>
    /// JSON, or CSV with <c>format=csv</c> or <c>Accept: text/csv</c>; an ETag of the bytes sent (304 when the caller
    /// holds them already) and Cache-Control: public for open data, private for an organisation's own figures.
    /// </summary>
    private static IResult Answer<T>(HttpContext http, T answer, string? format, Func<T, string> csv, bool isPublic)
    {
        var asCsv = string.Equals(format, "csv", StringComparison.OrdinalIgnoreCase)
            || (format is null && http.Request.Headers.Accept.ToString().Contains("text/csv", StringComparison.OrdinalIgnoreCase));
        if (format is not null && !asCsv && !string.Equals(format, "json", StringComparison.OrdinalIgnoreCase))
            throw new FluentValidation.ValidationException([new FluentValidation.Results.ValidationFailure("format", "format is json or csv.")]);
        var json = http.RequestServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        var body = asCsv ? Encoding.UTF8.GetBytes(csv(answer)) : JsonSerializer.SerializeToUtf8Bytes(answer, json);
        var etag = $"\"{Convert.ToHexStringLower(SHA256.HashData(body))[..32]}\"";
        http.Response.Headers.ETag = etag;
        http.Response.Headers.CacheControl = isPublic ? $"public, max-age={PublicMaxAge}" : "private, no-cache";
        http.Response.Headers.Vary = "Accept";
        if (http.Request.Headers.IfNoneMatch.Any(v => v is not null && v.Split(',').Any(t => t.Trim() == etag || t.Trim() == "*")))
            return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(body, asCsv ? "text/csv; charset=utf-8" : "application/json; charset=utf-8");
    }

    private const string Public = "\n\nOpen data: no key needed (rate-limited per client address like any keyless call), cacheable "
        + "(`Cache-Control: public, max-age=300`, `ETag`, `If-None-Match` answers 304). CSV with `format=csv` or `Accept: text/csv`: "
        + "semicolon-separated, UTF-8, one figure a line, the columns documented in the indicators guide.";

    private const string Own_ = "\n\nYour organisation's own figures, unsuppressed (`secrecy.applied` is false): the referrals it sent, "
        + "and its part of those it received — after it transferred one, only what it did before the transfer. Cacheable privately "
        + "(`ETag`, `If-None-Match` answers 304).";

    private const string NeedsDescription = "One table: a row per competence (`rows=COMPETENCE`, default), need as sent "
        + "(`NEED`), commune (`COMMUNE`, in an EPCI or a département) or EPCI (`EPCI`, in a département); a column per month, quarter "
        + "or year (`period`) from `from` to `to` (months, default the last 12); each row's total, each column's total and the "
        + "grand total. Counts referrals by the month they were sent and the person's commune; `ratePer1000` is per 1,000 "
        + "inhabitants of the row's territory (populations of `territory.populationSource`). Public answers apply statistical "
        + "secrecy: no count from 1 to the threshold minus one (11 by default, never lower) is published (0 counts nobody and "
        + "is), and enough others are suppressed that none can be recomputed from the rest and the totals; a suppressed figure is `suppressed: true` without a value.";

    private const string AnswersDescription = "Per competence and in total, for referrals sent from `from` to `to` (months) in the "
        + "territory: the parts received (every receiver that held a referral counts its part; a transfer ends the first receiver's "
        + "part and begins the next one's), the median and 90th percentile of the time from sending to the first response (hours) "
        + "and to the outcome (days), read from duration histograms, the shares answered within the deadline, overdue now, "
        + "transferred, re-oriented and closed without outcome, and the consent withdrawals; then the outcomes and the decline "
        + "reasons by competence. Public answers apply statistical secrecy: counts as in `GetNeedIndicators`, and a median, "
        + "percentile or share computed over fewer referrals than the threshold is suppressed too.";
}

/// <summary>
/// The open-data CSV: semicolon-separated, UTF-8 without BOM, a header line, one figure a line, decimals with a point.
/// A suppressed figure has an empty value and <c>suppressed</c> = true. The columns are a stable schema: new ones are
/// only ever added at the end.
/// </summary>
public static class IndicatorCsv
{
    public const string NeedsHeader =
        "territory_level;territory_code;rows;row_key;row_label;period;value;suppressed;rate_per_1000;population;population_source";
    public const string AnswersHeader = "territory_level;territory_code;from;to;competence;measure;value;suppressed";
    public const string CoverageHeader =
        "departement;on;competence;communes;delegated_communes;communes_share;population;delegated_population;population_share";
    /// <summary>The key of a total, in <c>row_key</c> and <c>period</c>.</summary>
    public const string Total = "TOTAL";

    public static string Needs(NeedIndicators n)
    {
        var sb = new StringBuilder(NeedsHeader).Append('\n');
        var t = n.Territory;
        void Line(string key, string label, string period, IndicatorCell cell, long? population) => sb
            .Append(t.Level).Append(';').Append(t.Code).Append(';').Append(n.Rows).Append(';').Append(Platform.Http.Csv.Quote(key)).Append(';')
            .Append(Platform.Http.Csv.Quote(label)).Append(';').Append(period).Append(';').Append(cell.Value?.ToString(Inv)).Append(';')
            .Append(cell.Suppressed ? "true" : "false").Append(';').Append(cell.RatePer1000?.ToString(Inv)).Append(';')
            .Append(population?.ToString(Inv)).Append(';').Append(Platform.Http.Csv.Quote(t.PopulationSource ?? "")).Append('\n');
        foreach (var row in n.Table.Rows)
        {
            for (var j = 0; j < n.Table.Columns.Count; j++) Line(row.Key, row.Label, n.Table.Columns[j], row.Cells[j], row.Population);
            Line(row.Key, row.Label, Total, row.Total, row.Population);
        }
        for (var j = 0; j < n.Table.Columns.Count; j++) Line(Total, t.Name, n.Table.Columns[j], n.Table.ColumnTotals[j], t.Population);
        Line(Total, t.Name, Total, n.Table.GrandTotal, t.Population);
        return sb.ToString();
    }

    public static string Answers(AnswerIndicators a)
    {
        var sb = new StringBuilder(AnswersHeader).Append('\n');
        void Line(string competence, string measure, string? value, bool suppressed) => sb
            .Append(a.Territory.Level).Append(';').Append(a.Territory.Code).Append(';').Append(a.From.ToString("yyyy-MM-dd", Inv)).Append(';')
            .Append(a.To.ToString("yyyy-MM-dd", Inv)).Append(';').Append(competence).Append(';').Append(measure).Append(';')
            .Append(value).Append(';').Append(suppressed ? "true" : "false").Append('\n');
        void Cell(string competence, string measure, IndicatorCell c) => Line(competence, measure, c.Value?.ToString(Inv), c.Suppressed);
        void Measure(string competence, string measure, IndicatorMeasure m) => Line(competence, measure, m.Value?.ToString(Inv), m.Suppressed);
        foreach (var f in a.Competences.Append(a.Total))
        {
            Cell(f.Competence, "received", f.Received);
            Measure(f.Competence, "first_response_median_hours", f.FirstResponseMedianHours);
            Measure(f.Competence, "first_response_p90_hours", f.FirstResponseP90Hours);
            Measure(f.Competence, "outcome_median_days", f.OutcomeMedianDays);
            Measure(f.Competence, "outcome_p90_days", f.OutcomeP90Days);
            Measure(f.Competence, "answered_in_time_share", f.AnsweredInTimeShare);
            Measure(f.Competence, "overdue_now_share", f.OverdueNowShare);
            Measure(f.Competence, "transferred_share", f.TransferredShare);
            Measure(f.Competence, "reoriented_share", f.ReorientedShare);
            Measure(f.Competence, "closed_without_outcome_share", f.ClosedWithoutOutcomeShare);
            Cell(f.Competence, "consent_withdrawals", f.ConsentWithdrawals);
        }
        foreach (var (table, prefix) in new[] { (a.Outcomes, "outcome:"), (a.DeclineReasons, "declined:") })
        {
            foreach (var row in table.Rows)
                for (var j = 0; j < table.Columns.Count; j++) Cell(row.Key, prefix + table.Columns[j], row.Cells[j]);
            for (var j = 0; j < table.Columns.Count; j++) Cell(Total, prefix + table.Columns[j], table.ColumnTotals[j]);
        }
        return sb.ToString();
    }

    public static string Coverage(DelegationCoverage d)
    {
        var sb = new StringBuilder(CoverageHeader).Append('\n');
        foreach (var c in d.Competences)
            sb.Append(d.Departement.Code).Append(';').Append(d.On.ToString("yyyy-MM-dd", Inv)).Append(';').Append(c.Competence).Append(';')
              .Append(c.Communes.ToString(Inv)).Append(';').Append(c.DelegatedCommunes.ToString(Inv)).Append(';')
              .Append(c.CommunesShare?.ToString(Inv)).Append(';').Append(c.Population.ToString(Inv)).Append(';')
              .Append(c.DelegatedPopulation.ToString(Inv)).Append(';').Append(c.PopulationShare?.ToString(Inv)).Append('\n');
        return sb.ToString();
    }

    private static readonly System.Globalization.CultureInfo Inv = System.Globalization.CultureInfo.InvariantCulture;
}
