using CoordinationHub.Platform.Auth;
using Mediator;
using Microsoft.AspNetCore.Mvc;

namespace CoordinationHub.Features.CompetenceMap;

public static class CompetenceMapEndpoints
{
    public static void MapCompetenceMap(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/competence-map").WithTags("Competence map");

        group.MapGet("", async ([FromQuery] string commune, [FromQuery] string competence, [FromQuery] DateOnly? date, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetCompetenceMapQuery(commune, competence, date), ct)))
            .WithName("GetCompetenceMap")
            .WithSummary("Who is responsible for a competence in a commune on a date, and by which chain")
            .WithDescription("Answers the responsible organisation and the chain that makes it so: the holder by law, then each delegation and sub-delegation with its convention. Any date, past or future (default today). `isLegal` is false for a facultative competence: several bodies may act there, and the chain follows the earliest delegation granted by each holder (the others are listed by `GET /v1/delegations?competence=…&commune=…`).")
            .RequireAuthorization(Scopes.DelegationsRead)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        group.MapGet("/export", async ([FromQuery] string? departement, [FromQuery] string? epci, [FromQuery] string? competence,
                [FromQuery] DateOnly? date, [FromQuery] string? format, [FromQuery] string? layout, ISender sender, HttpContext http,
                TimeProvider clock, CancellationToken ct) =>
            {
                if (string.Equals(layout, "push", StringComparison.OrdinalIgnoreCase))
                    return Results.Text(await sender.Send(new Imports.ExportPushLayoutQuery(departement ?? "",
                        date ?? DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime)), ct), "text/csv; charset=utf-8");
                var rows = await sender.Send(new ExportCompetenceMapQuery(departement, epci, competence, date), ct);
                var csv = string.Equals(format, "csv", StringComparison.OrdinalIgnoreCase)
                    || (format is null && http.Request.Headers.Accept.ToString().Contains("text/csv", StringComparison.OrdinalIgnoreCase));
                return csv ? Results.Text(ExportCompetenceMapHandler.ToCsv(rows), "text/csv; charset=utf-8") : Results.Ok(rows);
            })
            .WithName("ExportCompetenceMap")
            .WithSummary("The competence map of a whole département or EPCI on a date, as JSON or CSV")
            .WithDescription("One row per current commune and competence (the whole catalogue unless `competence` is given). CSV (semicolon-separated, UTF-8) with `format=csv` or `Accept: text/csv`: for reconciling a département's own systems. `layout=push` (with `departement`) answers instead, as CSV, the delegations that département granted in force on the date or later, in exactly the columns of `POST /v1/imports/delegations`: export, correct, push back.")
            .RequireAuthorization(Scopes.DelegationsRead)
            .Produces<IReadOnlyList<CompetenceMapEntry>>(200, "application/json", "text/csv")
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);
    }
}
