using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CoordinationHub.Platform.Http;
using CoordinationHub.Platform.OpenApi;
using CoordinationHub.Platform.Security;
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
        RuleFor(r => r.ExternalRef).MaximumLength(Delegations.ExternalRefs.MaxLength)
            .Matches(FreeText.Pattern).WithMessage(FreeText.Message)
            .Must(Delegations.ExternalRefs.IsWellFormed).WithMessage(Delegations.ExternalRefs.Rule);
        RuleFor(r => r.Competence).MaximumLength(32).Matches(FreeText.Pattern).WithMessage(FreeText.Message);
        RuleFor(r => r.DelegateSiret).Matches("^\\d{14}$").WithMessage("A SIRET is 14 digits.");
        RuleFor(r => r.DelegateCcasCommune).Matches("^(\\d{5}|2[AB]\\d{3})$").WithMessage("A commune is its INSEE code (5 characters).");
        RuleFor(r => r.Communes).MaxItems(MaxCommunes);
        RuleForEach(r => r.Communes).NotNull().WithMessage("null is not a commune: give its INSEE code (5 characters).")
            .Matches("^(\\d{5}|2[AB]\\d{3})$").WithMessage("A commune is its INSEE code (5 characters).");
        RuleFor(r => r.StartOn).InclusiveBetween(Platform.Http.Dates.Earliest, Platform.Http.Dates.Latest).WithMessage(Platform.Http.Dates.OutOfRange);
        RuleFor(r => r.EndOn).InclusiveBetween(Platform.Http.Dates.Earliest, Platform.Http.Dates.Latest).WithMessage(Platform.Http.Dates.OutOfRange);
        RuleFor(r => r.EndOn).GreaterThanOrEqualTo(r => r.StartOn).When(r => r.StartOn is not null).WithMessage("endOn must not be before startOn.");
        RuleFor(r => r.ConventionReference).MaximumLength(40).Matches(FreeText.Pattern).WithMessage(FreeText.Message);
    }
}

/// <summary>A record read from the body, or why its line could not be read (and that error's problem type).</summary>
public sealed record PushLine(
    int Line, PushRecord? Record, string? Error, string ErrorType = "imports.malformed-record")
{
    /// <summary>A record that carries a NIR is refused whole, named by its field, its text never repeated (nor its externalRef).</summary>
    public static PushLine Guarded(int line, PushRecord record) => NirGuard.Find(record) is { } field
        ? new PushLine(line, null, NirGuard.Refused(field, "record").Message, NirGuard.Code)
        : new PushLine(line, record, null);
}

/// <summary>
/// Reads a push one record at a time, whatever its size: NDJSON and CSV by line (the line number is
/// the file's; a line longer than <see cref="MaxLineBytes"/> is refused unread, so memory holds one
/// line), a JSON array element by element (the "line" is the element's position). The body is UTF-8
/// (the endpoint transcodes a declared charset first): invalid UTF-8 is refused with its line.
/// </summary>
public static class PushRecords
{
    /// <summary>The longest line of NDJSON or CSV: a record of 5,000 communes takes about 45 KB.</summary>
    public const int MaxLineBytes = 1024 * 1024;

    /// <summary>The columns of the CSV push, in order: the competence-map export's <c>layout=push</c> writes the same.</summary>
    public static readonly string[] CsvColumns =
        ["external_ref", "competence", "delegate_id", "delegate_siret", "delegate_ccas_commune", "communes", "start_on", "end_on", "convention_id", "convention_reference"];

    public static readonly string CsvHeader = string.Join(';', CsvColumns);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The fields of a record and what each takes, for the messages that name them.</summary>
    private static readonly Dictionary<string, string> Fields = new(StringComparer.Ordinal)
    {
        ["externalRef"] = "a string", ["competence"] = "a competence code (string)", ["delegateId"] = "a UUID",
        ["delegateSiret"] = "a SIRET (string of 14 digits)", ["delegateCcasCommune"] = "an INSEE code (string)",
        ["communes"] = "an array of INSEE codes (strings)", ["startOn"] = "a date yyyy-MM-dd", ["endOn"] = "a date yyyy-MM-dd",
        ["conventionId"] = "a UUID", ["conventionReference"] = "a string",
    };

    public static IAsyncEnumerable<PushLine> ReadAsync(Stream body, PushFormat format, CancellationToken ct) => format switch
    {
        PushFormat.NDJSON => NdjsonAsync(body, ct),
        PushFormat.CSV => CsvAsync(body, ct),
        _ => JsonArrayAsync(body, ct),
    };

    private static async IAsyncEnumerable<PushLine> NdjsonAsync(Stream body, [EnumeratorCancellation] CancellationToken ct)
    {
        var reader = new LineReader(body);
        while (await reader.ReadAsync(ct) is { } raw)
        {
            if (raw.Error is not null) yield return new PushLine(raw.Line, null, raw.Error);
            else if (!string.IsNullOrWhiteSpace(raw.Text)) yield return Parse(raw.Line, raw.Text!);
        }
    }

    private static PushLine Parse(int line, string json)
    {
        try
        {
            return PushLine.Guarded(line, JsonSerializer.Deserialize<PushRecord>(json, Json) ?? throw new JsonException("null is not a record."));
        }
        catch (JsonException e)
        {
            return new PushLine(line, null, Explain(e));
        }
    }

    /// <summary>What is wrong, by field name and what it takes, rather than the serializer's .NET types.</summary>
    private static string Explain(JsonException e)
    {
        var message = e.Message.Split(" Path:")[0];
        if (message.Contains("could not be mapped", StringComparison.Ordinal) && message.Split('\'') is [_, var unknown, ..])
            return $"'{unknown}' is not a field of a record. The fields are: {string.Join(", ", Fields.Keys)}.";
        var path = e.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : null;
        var field = path?.Split('[', '.')[0];
        return field is not null && Fields.TryGetValue(field, out var takes)
            ? $"{path}: not {takes} as expected."
            : "Not a valid record: " + message;
    }

    private static async IAsyncEnumerable<PushLine> JsonArrayAsync(Stream body, [EnumeratorCancellation] CancellationToken ct)
    {
        var position = 0;
        var guard = new ElementGuard(body);
        var elements = JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(guard, Json, ct).GetAsyncEnumerator(ct);
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
            catch (ElementGuard.TooLong)
            {
                failed = new PushLine(position + 1, null, $"Element {position + 1} of the JSON array is longer than {MaxLineBytes:N0} bytes "
                    + "(the longest record takes about 45 KB); nothing after it is read.");
                more = false;
            }
            if (failed is not null) { yield return failed; yield break; }
            if (!more) yield break;
            position++;
            guard.ElementRead();
            yield return Parse(position, elements.Current.GetRawText());
        }
    }

    /// <summary>
    /// The serializer buffers a whole element before it yields it: the bytes read since the last element are counted,
    /// and past <see cref="MaxLineBytes"/> (plus what it reads ahead) the read fails rather than the buffer growing.
    /// </summary>
    private sealed class ElementGuard(Stream inner) : Stream
    {
        private const int ReadAhead = 256 * 1024;
        private long since;

        public sealed class TooLong : Exception;

        public void ElementRead() => since = 0;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            var n = await inner.ReadAsync(buffer, ct);
            if ((since += n) > MaxLineBytes + ReadAhead) throw new TooLong();
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = inner.Read(buffer, offset, count);
            if ((since += n) > MaxLineBytes + ReadAhead) throw new TooLong();
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static async IAsyncEnumerable<PushLine> CsvAsync(Stream body, [EnumeratorCancellation] CancellationToken ct)
    {
        var reader = new LineReader(body);
        var header = await reader.ReadAsync(ct);
        if (header?.Error is { } unreadable)
        {
            yield return new PushLine(1, null, unreadable);
            yield break;
        }
        // French Excel writes ';', others ','; header names may be quoted.
        var separator = header?.Text?.Contains(';') == true || header?.Text?.Contains(',') != true ? ';' : ',';
        var names = header?.Text is { } text ? Csv.Split(text, separator).Fields.Select(n => n.Trim().ToLowerInvariant()).ToArray() : [];
        if (!names.SequenceEqual(CsvColumns))
        {
            yield return new PushLine(1, null, $"The first line must be the header '{CsvHeader}' (the separator ';' or ',', names quoted or not); "
                + $"got '{string.Join(separator, names)}'.");
            yield break;
        }
        while (await reader.ReadAsync(ct) is { } raw)
        {
            if (raw.Error is not null) yield return new PushLine(raw.Line, null, raw.Error);
            else if (!string.IsNullOrWhiteSpace(raw.Text)) yield return CsvRecord(raw.Line, raw.Text!, separator);
        }
    }

    private static PushLine CsvRecord(int line, string text, char separator)
    {
        var (fields, unclosed) = Csv.Split(text, separator);
        if (unclosed is { } at)
            return new PushLine(line, null, $"The quote opened in field {at} ({(at <= CsvColumns.Length ? CsvColumns[at - 1] : "beyond the header")}) is not closed: "
                + "a field holding the separator, a quote or a line break is enclosed in double quotes, its own quotes doubled.");
        if (fields.Count != CsvColumns.Length)
            return new PushLine(line, null, $"{fields.Count} fields where the header has {CsvColumns.Length} (the separator is '{separator}').");
        string? F(int i) => fields[i].Length == 0 ? null : fields[i];
        var column = 0;
        try
        {
            return PushLine.Guarded(line, new PushRecord
            {
                ExternalRef = F(0), Competence = F(1), DelegateId = F(column = 2) is { } id ? Guid.Parse(id) : null,
                DelegateSiret = F(3), DelegateCcasCommune = F(4),
                Communes = F(5)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                StartOn = F(column = 6) is { } s ? DateOnly.ParseExact(s, "yyyy-MM-dd") : null,
                EndOn = F(column = 7) is { } e ? DateOnly.ParseExact(e, "yyyy-MM-dd") : null,
                ConventionId = F(column = 8) is { } k ? Guid.Parse(k) : null, ConventionReference = F(9),
            });
        }
        catch (FormatException)
        {
            return new PushLine(line, null, $"{CsvColumns[column]}: '{fields[column]}' is not {(column is 6 or 7 ? "a date yyyy-MM-dd" : "a UUID")}.");
        }
    }

    /// <summary>A line of the body as text, or why it cannot be read.</summary>
    private sealed record RawLine(int Line, string? Text, string? Error);

    /// <summary>
    /// Lines split on '\n' in the bytes (a CR before it dropped, a CR elsewhere kept in the line), each decoded as strict
    /// UTF-8 on its own, so that an invalid byte is reported on its own line; a line beyond <see cref="MaxLineBytes"/> is
    /// skipped to its end rather than held.
    /// </summary>
    private sealed class LineReader(Stream stream)
    {
        private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        private readonly byte[] buffer = new byte[64 * 1024];
        private byte[] line = new byte[4 * 1024];
        private int start, end, length, number;
        private bool eof;

        public async ValueTask<RawLine?> ReadAsync(CancellationToken ct)
        {
            length = 0;
            var tooLong = false;
            var any = false;
            while (true)
            {
                if (start == end)
                {
                    if (eof) break;
                    (start, end) = (0, await stream.ReadAsync(buffer, ct));
                    if (end == 0) { eof = true; break; }
                }
                any = true;
                var newline = Array.IndexOf(buffer, (byte)'\n', start, end - start);
                var stop = newline < 0 ? end : newline;
                if (!tooLong && length + (stop - start) > MaxLineBytes) tooLong = true;
                if (!tooLong) Append(stop - start);
                start = newline < 0 ? end : newline + 1;
                if (newline >= 0) break;
            }
            if (!any) return null;
            number++;
            if (tooLong)
                return new RawLine(number, null, $"Line {number} is longer than {MaxLineBytes:N0} bytes (the longest record takes about 45 KB): "
                    + "is it one record per line?");
            var span = line.AsSpan(0, length);
            if (span.EndsWith("\r"u8)) span = span[..^1];
            if (number == 1 && span.StartsWith("\uFEFF"u8)) span = span[3..];
            try
            {
                return new RawLine(number, Strict.GetString(span), null);
            }
            catch (DecoderFallbackException e)
            {
                var at = e.Index >= 0 && e.Index < span.Length ? $" (byte 0x{span[e.Index]:X2} at byte {e.Index + 1})" : "";
                return new RawLine(number, null, $"Line {number} is not valid UTF-8{at}. A file saved by Excel is usually Windows-1252: "
                    + "send it with Content-Type: text/csv; charset=windows-1252 (or iso-8859-1), or save it as CSV UTF-8.");
            }
        }

        private void Append(int count)
        {
            if (length + count > line.Length) Array.Resize(ref line, Math.Max(line.Length * 2, length + count));
            Array.Copy(buffer, start, line, length, count);
            length += count;
        }
    }
}
