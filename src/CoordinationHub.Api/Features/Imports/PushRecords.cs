using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CoordinationHub.Platform.Http;
using CoordinationHub.Platform.OpenApi;
using FluentValidation;

namespace CoordinationHub.Features.Imports;

public enum PushFormat { NDJSON, JSON, CSV }

/// <summary>One delegation as a département's system holds it, keyed by its own external reference.</summary>
public sealed class PushRecord
{
    public string? ExternalRef { get; init; }
    public string? Competence { get; init; }
    /// <summary>The delegate: its directory id, its SIRET, or for a CCAS the INSEE code of its commune.</summary>
    public Guid? DelegateId { get; init; }
    public string? DelegateSiret { get; init; }
    public string? DelegateCcasCommune { get; init; }
    /// <summary>INSEE codes of the communes.</summary>
    public IReadOnlyList<string>? Communes { get; init; }
    public DateOnly? StartOn { get; init; }
    public DateOnly? EndOn { get; init; }
    /// <summary>The convention: its id or its reference.</summary>
    public Guid? ConventionId { get; init; }
    public string? ConventionReference { get; init; }
}

/// <summary>The limits of a record: checked on every record of a push, and published in the contract.</summary>
public sealed class PushRecordValidator : AbstractValidator<PushRecord>
{
    public const int MaxCommunes = 5_000;

    public PushRecordValidator()
    {
        RuleFor(r => r.ExternalRef).MaximumLength(100).Matches(FreeText.Pattern).WithMessage(FreeText.Message);
        RuleFor(r => r.Competence).MaximumLength(32).Matches(FreeText.Pattern).WithMessage(FreeText.Message);
        RuleFor(r => r.DelegateSiret).Matches("^\\d{14}$").WithMessage("A SIRET is 14 digits.");
        RuleFor(r => r.DelegateCcasCommune).Matches("^(\\d{5}|2[AB]\\d{3})$").WithMessage("A commune is its INSEE code (5 characters).");
        RuleFor(r => r.Communes).MaxItems(MaxCommunes);
        RuleForEach(r => r.Communes).Matches("^(\\d{5}|2[AB]\\d{3})$").WithMessage("A commune is its INSEE code (5 characters).");
        RuleFor(r => r.StartOn).InclusiveBetween(Platform.Http.Dates.Earliest, Platform.Http.Dates.Latest).WithMessage(Platform.Http.Dates.OutOfRange);
        RuleFor(r => r.EndOn).InclusiveBetween(Platform.Http.Dates.Earliest, Platform.Http.Dates.Latest).WithMessage(Platform.Http.Dates.OutOfRange);
        RuleFor(r => r.EndOn).GreaterThanOrEqualTo(r => r.StartOn).When(r => r.StartOn is not null).WithMessage("endOn must not be before startOn.");
        RuleFor(r => r.ConventionReference).MaximumLength(40).Matches(FreeText.Pattern).WithMessage(FreeText.Message);
    }
}

/// <summary>A record read from the body, or why its line could not be read.</summary>
public sealed record PushLine(int Line, PushRecord? Record, string? Error);

/// <summary>
/// Reads a push one record at a time, whatever its size: NDJSON and CSV by line (the line number is
/// the file's), a JSON array element by element (the "line" is the element's position).
/// </summary>
public static class PushRecords
{
    /// <summary>The columns of the CSV push, in order: the competence-map export's <c>layout=push</c> writes the same.</summary>
    public static readonly string[] CsvColumns =
        ["external_ref", "competence", "delegate_id", "delegate_siret", "delegate_ccas_commune", "communes", "start_on", "end_on", "convention_id", "convention_reference"];

    public static readonly string CsvHeader = string.Join(';', CsvColumns);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static IAsyncEnumerable<PushLine> ReadAsync(Stream body, PushFormat format, CancellationToken ct) => format switch
    {
        PushFormat.NDJSON => NdjsonAsync(body, ct),
        PushFormat.CSV => CsvAsync(body, ct),
        _ => JsonArrayAsync(body, ct),
    };

    private static async IAsyncEnumerable<PushLine> NdjsonAsync(Stream body, [EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = new StreamReader(body, Encoding.UTF8);
        var line = 0;
        while (await reader.ReadLineAsync(ct) is { } text)
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            yield return Parse(line, text);
        }
    }

    private static PushLine Parse(int line, string json)
    {
        try
        {
            return new PushLine(line, JsonSerializer.Deserialize<PushRecord>(json, Json) ?? throw new JsonException("null is not a record."), null);
        }
        catch (JsonException e)
        {
            return new PushLine(line, null, "Not a valid record: " + e.Message.Split(" Path:")[0]);
        }
    }

    private static async IAsyncEnumerable<PushLine> JsonArrayAsync(Stream body, [EnumeratorCancellation] CancellationToken ct)
    {
        var position = 0;
        var elements = JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(body, Json, ct).GetAsyncEnumerator(ct);
        while (true)
        {
            PushLine? failed = null;
            bool more;
            try
            {
                more = await elements.MoveNextAsync();
            }
            catch (JsonException e)
            {
                // The array itself is broken: nothing after this point can be read.
                failed = new PushLine(position + 1, null, "The JSON array is malformed: " + e.Message.Split(" Path:")[0]);
                more = false;
            }
            if (failed is not null) { yield return failed; yield break; }
            if (!more) yield break;
            position++;
            yield return Parse(position, elements.Current.GetRawText());
        }
    }

    private static async IAsyncEnumerable<PushLine> CsvAsync(Stream body, [EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = new StreamReader(body, Encoding.UTF8);
        var header = await reader.ReadLineAsync(ct);
        if (header?.TrimStart('\uFEFF').Trim() != CsvHeader)
        {
            yield return new PushLine(1, null, $"The first line must be the header '{CsvHeader}' (semicolon-separated, UTF-8).");
            yield break;
        }
        var line = 1;
        while (await reader.ReadLineAsync(ct) is { } text)
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            yield return CsvRecord(line, text);
        }
    }

    private static PushLine CsvRecord(int line, string text)
    {
        var fields = Csv.Split(text);
        if (fields.Count != CsvColumns.Length)
            return new PushLine(line, null, $"{fields.Count} fields where the header has {CsvColumns.Length} (the separator is ';').");
        string? F(int i) => fields[i].Length == 0 ? null : fields[i];
        try
        {
            return new PushLine(line, new PushRecord
            {
                ExternalRef = F(0), Competence = F(1), DelegateId = F(2) is { } id ? Guid.Parse(id) : null,
                DelegateSiret = F(3), DelegateCcasCommune = F(4),
                Communes = F(5)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                StartOn = F(6) is { } s ? DateOnly.ParseExact(s, "yyyy-MM-dd") : null,
                EndOn = F(7) is { } e ? DateOnly.ParseExact(e, "yyyy-MM-dd") : null,
                ConventionId = F(8) is { } k ? Guid.Parse(k) : null, ConventionReference = F(9),
            }, null);
        }
        catch (FormatException e)
        {
            return new PushLine(line, null, "A field is not well formed (ids are UUIDs, dates yyyy-MM-dd): " + e.Message);
        }
    }
}
