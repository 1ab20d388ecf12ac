using System.Data.Common;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using CoordinationHub.Platform.Data;
using Dapper;
using Mediator;

namespace CoordinationHub.Features.Directory;

/// <summary>
/// Loads the COG referential (départements, communes, EPCI) into the directory. Idempotent:
/// unchanged rows are not touched. A commune absent from a newer vintage is kept, marked
/// inactive, with its successor when the new vintage lists it among a commune's former codes.
/// </summary>
public sealed record ImportReferentialCommand(string? File = null) : ICommand<ImportReferentialResult>;

public sealed record ImportReferentialResult(string Source, int Created, int Updated, int Deactivated, int Unchanged)
{
    public bool Changed => Created + Updated + Deactivated > 0;
    public override string ToString() => Changed
        ? $"{Source}: {Created} created, {Updated} updated, {Deactivated} deactivated, {Unchanged} unchanged."
        : $"{Source}: the directory is already up to date ({Unchanged} organisations unchanged).";
}

public sealed class ImportReferentialHandler(Db db, TimeProvider clock, CompetenceMap.CompetenceMapWriter map) : ICommandHandler<ImportReferentialCommand, ImportReferentialResult>
{
    public const string BundledResource = "referential/referential.json.gz";

    public async ValueTask<ImportReferentialResult> Handle(ImportReferentialCommand command, CancellationToken ct)
    {
        var data = await LoadAsync(command.File, ct);
        var now = clock.GetUtcNow();
        return await db.InTransactionAsync(async (c, tx, t) =>
        {
            var existing = (await c.QueryAsync<Row>(db.Command(ExistingSql, null, t, tx))).ToDictionary(r => (r.Kind, r.Code!));
            var plan = new Plan(existing);

            foreach (var d in data.Departements)
                plan.Upsert(new Row { Kind = "DEPARTEMENT", Code = d.Code, Name = d.Name, DepartementCode = d.Code, RegionCode = d.Region });

            var communeDepartement = data.Communes.ToDictionary(x => x.Code, x => (x.Departement, x.Region));
            foreach (var e in data.Epci)
            {
                // An EPCI may straddle départements: file it under the one holding most of its communes.
                var home = e.Members.Where(communeDepartement.ContainsKey).GroupBy(m => communeDepartement[m])
                    .OrderByDescending(g => g.Count()).ThenBy(g => g.Key.Departement, StringComparer.Ordinal).Select(g => g.Key).FirstOrDefault();
                plan.Upsert(new Row { Kind = "EPCI", Code = e.Siren, Name = e.Name, Siren = e.Siren, EpciType = e.Type, Population = e.Population, DepartementCode = home.Departement, RegionCode = home.Region });
            }

            var epciOf = data.Epci.SelectMany(e => e.Members.Select(m => (m, e.Siren))).GroupBy(x => x.m).ToDictionary(g => g.Key, g => plan.IdOf("EPCI", g.First().Siren));
            foreach (var x in data.Communes)
                plan.Upsert(new Row { Kind = "COMMUNE", Code = x.Code, Name = x.Name, Siren = x.Siren, Population = x.Population, DepartementCode = x.Departement, RegionCode = x.Region, EpciId = epciOf.GetValueOrDefault(x.Code) });

            var successorOf = data.Communes.SelectMany(x => x.FormerCodes.Select(old => (old, x.Code))).GroupBy(p => p.old).ToDictionary(g => g.Key, g => g.First().Code);
            plan.DeactivateMissing(code => successorOf.TryGetValue(code, out var s) ? plan.IdOf("COMMUNE", s) : null);

            // Inserts go parents first: départements and EPCI before the communes that point to them.
            foreach (var kind in new[] { "DEPARTEMENT", "EPCI", "COMMUNE" })
                await InsertAsync(c, tx, plan.Inserts.Where(r => r.Kind == kind).ToList(), now, t);
            foreach (var row in plan.Updates)
                await c.ExecuteAsync(db.Command(UpdateSql, Parameters(row, now), t, tx));

            var result = new ImportReferentialResult(data.Source, plan.Inserts.Count, plan.Updates.Count(u => u.IsActive), plan.Updates.Count(u => !u.IsActive), plan.Unchanged);
            if (result.Changed)
                await map.ReloadEverywhereAsync(c, tx, t);
            if (result.Changed)
                await c.ExecuteAsync(db.Command(RecordSql, new { id = Guid.CreateVersion7(), source = data.Source, now, created = result.Created, updated = result.Updated, deactivated = result.Deactivated }, t, tx));
            return result;
        }, ct);
    }

    private Task InsertAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Row> rows, DateTimeOffset now, CancellationToken ct) =>
        db.InsertRowsAsync(c, tx, "organisation", InsertColumns, InsertColumns.Select(NullType).ToArray(),
            rows.Select(r => Values(r, now)), ct);

    internal static readonly string[] InsertColumns =
        ["id", "kind", "code", "name", "search_name", "siren", "departement_code", "region_code", "epci_id", "epci_type", "population", "is_active", "successor_id", "version", "created_at", "updated_at"];

    private static System.Data.DbType NullType(string column) => column switch
    {
        "epci_id" or "successor_id" => System.Data.DbType.Guid,
        "population" => System.Data.DbType.Int32,
        _ => System.Data.DbType.String,
    };

    /// <summary>A row's values in the order of <see cref="InsertColumns"/>.</summary>
    private static object?[] Values(Row r, DateTimeOffset now) =>
    [
        r.Id, r.Kind, r.Code, r.Name, SearchText.Normalize(r.Name), r.Siren, r.DepartementCode, r.RegionCode, r.EpciId,
        r.EpciType, r.Population, r.IsActive, r.SuccessorId, 1, now, now,
    ];

    private static object Parameters(Row r, DateTimeOffset now) => new
    {
        r.Id, r.Name, searchName = SearchText.Normalize(r.Name), r.Siren, r.DepartementCode, r.RegionCode, r.EpciId,
        r.EpciType, r.Population, r.IsActive, r.SuccessorId, now,
    };

    private static async Task<Referential> LoadAsync(string? file, CancellationToken ct)
    {
        await using var raw = file is null
            ? typeof(ImportReferentialHandler).Assembly.GetManifestResourceStream(BundledResource) ?? throw new InvalidOperationException("The bundled referential is missing from the build.")
            : File.OpenRead(file);
        await using var json = file is not null && !file.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? raw : new GZipStream(raw, CompressionMode.Decompress);
        return await JsonSerializer.DeserializeAsync<Referential>(json, new JsonSerializerOptions(JsonSerializerDefaults.Web), ct)
            ?? throw new InvalidDataException("The referential file is empty.");
    }

    /// <summary>Compares the referential with the directory and lists what to write.</summary>
    private sealed class Plan(Dictionary<(string, string), Row> existing)
    {
        private readonly HashSet<(string, string)> seen = [];
        private readonly Dictionary<(string, string), Guid> ids = existing.ToDictionary(p => p.Key, p => p.Value.Id);
        public List<Row> Inserts { get; } = [];
        public List<Row> Updates { get; } = [];
        public int Unchanged { get; private set; }

        public Guid? IdOf(string kind, string code) => ids.TryGetValue((kind, code), out var id) ? id : null;

        public void Upsert(Row row)
        {
            var key = (row.Kind, row.Code!);
            seen.Add(key);
            if (existing.TryGetValue(key, out var old))
            {
                var next = row with { Id = old.Id, IsActive = true, SuccessorId = null };
                if (next == old) Unchanged++;
                else Updates.Add(next);
            }
            else
            {
                var created = row with { Id = Guid.CreateVersion7(), IsActive = true };
                ids[key] = created.Id;
                Inserts.Add(created);
            }
        }

        public void DeactivateMissing(Func<string, Guid?> successor)
        {
            foreach (var (key, old) in existing)
            {
                if (seen.Contains(key)) continue;
                var next = old with { IsActive = false, SuccessorId = old.Kind == "COMMUNE" ? successor(old.Code!) : null };
                if (next == old) Unchanged++;
                else Updates.Add(next);
            }
        }
    }

    private sealed record Row
    {
        public Guid Id { get; init; }
        public string Kind { get; init; } = "";
        public string? Code { get; init; }
        public string Name { get; init; } = "";
        public string? Siren { get; init; }
        public string? DepartementCode { get; init; }
        public string? RegionCode { get; init; }
        public Guid? EpciId { get; init; }
        public string? EpciType { get; init; }
        public int? Population { get; init; }
        public bool IsActive { get; init; }
        public Guid? SuccessorId { get; init; }
    }

    private sealed record Referential(string Source, List<RefDepartement> Departements, List<RefCommune> Communes, List<RefEpci> Epci);
    private sealed record RefDepartement(string Code, string Name, string Region);
    private sealed record RefCommune(string Code, string Name, string Departement, string Region, string? Siren, int? Population, List<string> FormerCodes);
    private sealed record RefEpci(string Siren, string Name, string Type, int? Population, List<string> Members);

    private const string ExistingSql = """
        SELECT id, kind, code, name, siren, departement_code, region_code, epci_id, epci_type, population, is_active, successor_id
        FROM organisation
        WHERE kind IN ('DEPARTEMENT', 'EPCI', 'COMMUNE')
        """;
    private const string UpdateSql = """
        UPDATE organisation
        SET name = @name, search_name = @searchName, siren = @siren, departement_code = @departementCode, region_code = @regionCode,
            epci_id = @epciId, epci_type = @epciType, population = @population, is_active = @isActive, successor_id = @successorId,
            version = version + 1, updated_at = @now
        WHERE id = @id
        """;
    private const string RecordSql = """
        INSERT INTO referential_import (id, source, imported_at, created, updated, deactivated)
        VALUES (@id, @source, @now, @created, @updated, @deactivated)
        """;
}
