using System.Reflection;
using CoordinationHub.Features.Directory;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.OpenApi;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace CoordinationHub.Tests.Platform;

[Collection(SqliteCollection.Name)]
public sealed class ContractTests(SqliteFixture fx)
{
    private static string RepoRoot([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", ".."));

    [Fact]
    public async Task The_served_OpenAPI_document_is_the_committed_one()
    {
        var served = await (await fx.Client().GetAsync("/openapi/v1.json").Ok()).Content.ReadAsStringAsync();
        var committedPath = Path.Combine(RepoRoot(), "openapi", "coordinationhub.v1.json");
        var committed = File.Exists(committedPath) ? await File.ReadAllTextAsync(committedPath) : "";
        Assert.True(Normalize(served) == Normalize(committed),
            $"openapi/coordinationhub.v1.json differs from what the API serves. Regenerate it with:\n  {ContractDocument.RegenerateCommand}");
    }

    [Fact]
    public async Task Swagger_UI_is_served_and_points_at_the_contract()
    {
        var page = await fx.Client().GetAsync("/swagger/index.html").Ok();
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var config = await (await fx.Client().GetAsync("/swagger/index.js").Ok()).Content.ReadAsStringAsync();
        Assert.Contains("/openapi/v1.json", config);
    }

    [Fact]
    public async Task Every_operation_has_an_id_a_summary_a_tag_and_problem_responses()
    {
        var doc = System.Text.Json.JsonDocument.Parse(await (await fx.Client().GetAsync("/openapi/v1.json").Ok()).Content.ReadAsStringAsync()).RootElement;
        foreach (var path in doc.GetProperty("paths").EnumerateObject())
        foreach (var op in path.Value.EnumerateObject())
        {
            var where = $"{op.Name.ToUpperInvariant()} {path.Name}";
            Assert.True(op.Value.TryGetProperty("operationId", out _), $"{where} has no operationId");
            Assert.True(op.Value.TryGetProperty("summary", out _), $"{where} has no summary");
            Assert.True(op.Value.GetProperty("tags").GetArrayLength() > 0, $"{where} has no tag");
            var responses = op.Value.GetProperty("responses");
            // Open data (x-public without security) is read without a key: it never answers 401.
            var keyless = !op.Value.TryGetProperty("security", out _) && op.Value.TryGetProperty("x-public", out _);
            Assert.True(keyless || responses.TryGetProperty("401", out _), $"{where} does not declare 401");
            Assert.Contains(responses.EnumerateObject(), r => r.Name.StartsWith('2'));
        }
    }

    [Fact]
    public async Task Every_request_and_response_body_has_an_example()
    {
        var doc = System.Text.Json.JsonDocument.Parse(await (await fx.Client().GetAsync("/openapi/v1.json").Ok()).Content.ReadAsStringAsync()).RootElement;
        var schemas = doc.GetProperty("components").GetProperty("schemas");
        bool HasExample(System.Text.Json.JsonElement schema) =>
            schema.TryGetProperty("example", out _)
            || (schema.TryGetProperty("$ref", out var r) && HasExample(schemas.GetProperty(r.GetString()!.Split('/')[^1])))
            || (schema.TryGetProperty("items", out var items) && HasExample(items))
            || (schema.TryGetProperty("allOf", out var all) && all.EnumerateArray().Any(HasExample));
        var missing = new List<string>();
        foreach (var path in doc.GetProperty("paths").EnumerateObject())
        foreach (var op in path.Value.EnumerateObject())
        {
            var bodies = new List<(string, System.Text.Json.JsonElement)>();
            if (op.Value.TryGetProperty("requestBody", out var request))
                bodies.AddRange(request.GetProperty("content").EnumerateObject().Select(c => ($"request {c.Name}", c.Value)));
            foreach (var response in op.Value.GetProperty("responses").EnumerateObject())
                if (response.Value.TryGetProperty("content", out var content))
                    bodies.AddRange(content.EnumerateObject().Select(c => ($"{response.Name} {c.Name}", c.Value)));
            foreach (var (what, media) in bodies)
                if (!media.TryGetProperty("example", out _) && !(media.TryGetProperty("schema", out var schema) && HasExample(schema)))
                    missing.Add($"{op.Name.ToUpperInvariant()} {path.Name}: {what}");
        }
        Assert.True(missing.Count == 0, "No example for:\n" + string.Join("\n", missing));
    }

    private static string Normalize(string json) => json.Replace("\r\n", "\n").Trim();

    /// <summary>
    /// SQL Server has no server here: every statement its provider can send is parsed instead.
    /// Sources: the SqlServer migrations, every const *Sql string in the API (rendered with the
    /// SQL Server dialect), and the statements built at run time.
    /// </summary>
    [Fact]
    public void Every_SQL_Server_statement_parses_as_T_SQL()
    {
        var dialect = SqlDialect.For(DatabaseProvider.SqlServer);
        var statements = new List<(string Where, string Sql)>();
        statements.AddRange(Migrator.Scripts(DatabaseProvider.SqlServer).Select(s => (s.Name, s.Sql)));
        foreach (var type in typeof(Db).Assembly.GetTypes())
        foreach (var field in type.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            if (field.IsLiteral && field.FieldType == typeof(string) && field.Name.EndsWith("Sql", StringComparison.Ordinal))
                statements.Add(($"{type.Name}.{field.Name}", dialect.Render((string)field.GetRawConstantValue()!)));
        foreach (var extra in Builders.RunTimeStatements())
            statements.Add(("built at run time", dialect.Render(extra)));

        Assert.True(statements.Count > 30, $"only {statements.Count} statements found; the scan is broken");
        var parser = new TSql160Parser(initialQuotedIdentifiers: true);
        var failures = new List<string>();
        foreach (var (where, text) in statements)
        {
            // Dapper expands a list parameter (IN @ids) to (@ids1, @ids2, …) before sending.
            var sql = System.Text.RegularExpressions.Regex.Replace(text, @"\bIN @(\w+)", "IN (@$1_1, @$1_2)");
            parser.Parse(new StringReader(sql), out IList<ParseError> errors);
            failures.AddRange(errors.Select(e => $"{where} line {e.Line}: {e.Message}\n{sql}"));
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    [Fact]
    public void SQL_Server_really_refuses_what_it_cannot_parse()
    {
        // The parse check is only worth something if a PostgreSQL-only statement fails it.
        new TSql160Parser(true).Parse(new StringReader("SELECT id FROM organisation LIMIT 10"), out IList<ParseError> errors);
        Assert.NotEmpty(errors);
    }
}

/// <summary>Statements assembled at run time, in their widest shape.</summary>
internal static class Builders
{
    public static IEnumerable<string> RunTimeStatements()
    {
        yield return SearchOrganisationsHandler.BuildSql(new SearchOrganisationsQuery(OrganisationKind.CCAS, "59", "200093201", "59350", true, "lille", 10, null), paged: true);
        yield return SearchOrganisationsHandler.BuildSql(new SearchOrganisationsQuery(null, null, null, null, null, null, null, null), paged: false);
        yield return BulkInsert.Sql("organisation", ImportReferentialHandler.InsertColumns, 3);
        yield return CoordinationHub.Features.Delegations.SearchDelegationsHandler.BuildSql(
            new(Guid.Empty, Guid.Empty, "RSA_INSTRUCTION", Guid.Empty, "59350", new DateOnly(2026, 1, 1), "X", 10, null), paged: true);
        yield return BulkInsert.Sql("competence_map", CoordinationHub.Features.CompetenceMap.CompetenceMapWriter.Columns, 2);
        yield return BulkInsert.Sql("delegation_commune", CoordinationHub.Features.Delegations.DelegationBatch.CommuneColumns, 2);
        yield return BulkInsert.Sql("delegation", CoordinationHub.Features.Delegations.DelegationBatch.HeadColumns, 2);
        yield return BulkInsert.Sql("delegation_version", CoordinationHub.Features.Delegations.DelegationBatch.VersionColumns, 2);
        yield return BulkInsert.Sql("audit_event", CoordinationHub.Platform.Data.ChangeLog.AuditColumns, 2);
        yield return BulkInsert.Sql("outbox_event", CoordinationHub.Platform.Data.ChangeLog.OutboxColumns, 2);
        foreach (var status in Enum.GetValues<CoordinationHub.Features.Conventions.ConventionStatus>())
            yield return CoordinationHub.Features.Conventions.SearchConventionsHandler.BuildSql(new CoordinationHub.Features.Conventions.SearchConventionsQuery(
                Guid.Empty, OrganisationKind.CCAS, "59", "RSA_INSTRUCTION", status, new DateOnly(2026, 3, 1), "59350", 10, null), admin: false, paged: true);
        yield return CoordinationHub.Features.Conventions.SearchConventionsHandler.BuildSql(new CoordinationHub.Features.Conventions.SearchConventionsQuery(
            null, null, null, null, null, null, null, null, null), admin: true, paged: false);
        yield return BulkInsert.Sql("convention_commune", CoordinationHub.Features.Conventions.ConventionTerritory.CommuneColumns, 3);
        // The received box, and its TRANSFERRED tab (a filter of its own).
        foreach (var (overdue, status) in new (bool?, CoordinationHub.Features.Referrals.ReferralStatus)[]
                 {
                     (true, CoordinationHub.Features.Referrals.ReferralStatus.SENT), (false, CoordinationHub.Features.Referrals.ReferralStatus.SENT),
                     (false, CoordinationHub.Features.Referrals.ReferralStatus.TRANSFERRED),
                 })
            yield return CoordinationHub.Features.Referrals.ListReferralsHandler.BuildSql(new(CoordinationHub.Features.Referrals.ReferralBox.RECEIVED,
                status, "FOOD", CoordinationHub.Features.Referrals.Urgency.URGENT, overdue,
                new DateOnly(2026, 1, 1), new DateOnly(2026, 12, 31), "59350", "agent-1", "Martin", "Léa", new DateOnly(1980, 1, 1), 10, null), paged: true);
        // Every shape of the indicators' reads: each level, each row dimension, public and own.
        foreach (var level in Enum.GetValues<CoordinationHub.Features.Indicators.TerritoryLevel>())
        foreach (var own in new[] { false, true })
        {
            foreach (var rows in Enum.GetValues<CoordinationHub.Features.Indicators.NeedRows>())
                yield return CoordinationHub.Features.Indicators.GetNeedIndicatorsHandler.BuildSql(
                    new(level, "59", Rows: rows, Competence: "FSL") { Organisation = own ? Guid.Empty : null });
            yield return CoordinationHub.Features.Indicators.GetAnswerIndicatorsHandler.BuildSql(level, own);
            yield return CoordinationHub.Features.Indicators.GetAnswerIndicatorsHandler.BuildOverdueSql(level, own);
        }
    }
}
