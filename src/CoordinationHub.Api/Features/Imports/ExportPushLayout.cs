using CoordinationHub.Platform.Http;
using System.Text;
using CoordinationHub.Platform.Data;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Imports;

/// <summary>
/// The delegations a département granted, in force on a date or later, in the columns of the push:
/// a clerk exports, corrects in a spreadsheet, and pushes back.
/// </summary>
public sealed record ExportPushLayoutQuery(string Departement, DateOnly Date) : IQuery<string>;

public sealed class ExportPushLayoutHandler(Db db) : IQueryHandler<ExportPushLayoutQuery, string>
{
    public async ValueTask<string> Handle(ExportPushLayoutQuery query, CancellationToken ct)
    {
        if (!System.Text.RegularExpressions.Regex.IsMatch(query.Departement, "^(\\d{2,3}|2[AB])$"))
            throw new Platform.Errors.BadRequestException("validation", "layout=push exports a département's delegations: give departement (COG code).");
        var rows = await db.RetryAsync(async (c, t) =>
            (await c.QueryAsync<Row>(db.Command(Sql, new { departement = query.Departement.ToUpperInvariant(), date = query.Date }, t))).ToList(), ct);
        var sb = new StringBuilder(PushRecords.CsvHeader).Append('\n');
        foreach (var d in rows.GroupBy(r => r.Id))
        {
            var r = d.First();
            sb.Append(Csv.Quote(r.ExternalRef ?? "")).Append(';').Append(r.CompetenceCode).Append(';').Append(r.DelegateId).Append(";;;")
              .AppendJoin(',', d.Select(x => x.CommuneCode)).Append(';')
              .Append(r.StartOn.ToString("yyyy-MM-dd")).Append(';').Append(r.EndOn.ToString("yyyy-MM-dd")).Append(';')
              .Append(r.ConventionId).Append(';').Append(Csv.Quote(r.ConventionReference)).Append('\n');
        }
        return sb.ToString();
    }

    private sealed class Row
    {
        public Guid Id { get; init; }
        public string? ExternalRef { get; init; }
        public string CompetenceCode { get; init; } = "";
        public Guid DelegateId { get; init; }
        public DateOnly StartOn { get; init; }
        public DateOnly EndOn { get; init; }
        public Guid ConventionId { get; init; }
        public string ConventionReference { get; init; } = "";
        public string CommuneCode { get; init; } = "";
    }

    private const string Sql = """
        SELECT d.id, d.external_ref, d.competence_code, d.delegate_id, d.start_on, d.end_on, d.convention_id,
               k.reference AS convention_reference, c.code AS commune_code
        FROM delegation d
        JOIN organisation dep ON dep.id = d.delegator_id
        JOIN convention k ON k.id = d.convention_id
        JOIN delegation_commune dc ON dc.delegation_id = d.id AND dc.version_no = d.current_version
        JOIN organisation c ON c.id = dc.commune_id
        WHERE dep.kind = 'DEPARTEMENT' AND dep.code = @departement AND d.end_on >= @date AND d.start_on <= d.end_on
        ORDER BY d.external_ref, d.id, c.code
        """;
}
