using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CoordinationHub.Platform.Errors;

namespace CoordinationHub.Platform.Security;

/// <summary>
/// The NIR (numéro de sécurité sociale) is reserved by law (décret 2019-341): whatever path a text comes in by
/// — a body (every command, through <see cref="Pipeline.NirGuardBehavior{TMessage, TResponse}"/>), a free-text
/// header, the query string or the path (<see cref="Middleware"/>), a record of a delegation push — a NIR-shaped
/// number is refused with 422 <c>referrals.nir-refused</c>, naming where, never echoing it. One guard, so that no
/// path can be forgotten and every path folds the same Unicode tricks.
/// <para>
/// A NIR: sex (1, 2; 3, 4 in old temporary numbers; 7, 8 for foreign-born people awaiting theirs), year,
/// month, département (Corsica: 2A, 2B), commune, order number, then a key that checks modulo 97: the key
/// keeps false positives to about one 15-digit number in a hundred.
/// </para>
/// </summary>
public static class NirGuard
{
    public const string Code = "referrals.nir-refused";

    /// <summary>Headers whose value is free text the API stores (the access log, the idempotency record).</summary>
    public static readonly string[] FreeTextHeaders = ["X-Agent", "X-Purpose", "Idempotency-Key"];

    // Between the groups of a NIR: up to three separators (after folding: space, dot, dash, slash, underscore).
    private const string Sep = @"[ .\-/_]{0,3}";
    private static readonly Regex Candidate = new(
        $@"(?<![0-9])[1-478]{Sep}\d{{2}}{Sep}\d{{2}}{Sep}(?:\d{{2}}|2[AaBb]){Sep}\d{{3}}{Sep}\d{{3}}{Sep}\d{{2}}"
        + "(?![0-9])",
        RegexOptions.CultureInvariant | RegexOptions.Compiled, TimeSpan.FromMilliseconds(200));

    private static readonly bool CanNormalise = Probe();

    public static bool Contains(string? text)
    {
        if (string.IsNullOrEmpty(text) || !EnoughDigits(text)) return false;
        foreach (Match m in Candidate.Matches(Fold(text)))
        {
            var s = new string(m.Value.Where(char.IsAsciiLetterOrDigit).ToArray()).ToUpperInvariant();
            // Corsica: 2A counts as 19, 2B as 18 in the key computation.
            var digits = s[5..7] switch
            {
                "2A" => s[..5] + "19" + s[7..13],
                "2B" => s[..5] + "18" + s[7..13],
                _ => s[..13],
            };
            if (long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                && int.TryParse(s[13..], NumberStyles.None, CultureInfo.InvariantCulture, out var key)
                && 97 - number % 97 == key)
                return true;
        }
        return false;
    }

    /// <summary>
    /// The text as the guard reads it: NFKC (fullwidth and other compatibility digits and letters become ASCII), every
    /// space separator and whitespace a space, every dash a hyphen, format characters (zero-width spaces and joiners,
    /// soft hyphens) dropped. NFKC is skipped where the runtime cannot do it (invariant globalization without ICU):
    /// the fold below does the same for digits, letters, spaces and dashes, which is all a NIR is made of.
    /// </summary>
    public static string Fold(string text)
    {
        if (CanNormalise)
            try { text = text.Normalize(NormalizationForm.FormKC); }
            catch (ArgumentException) { } // lone surrogates: folded as they are
        var sb = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            var value = Rune.GetNumericValue(rune);
            if (category is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.OtherNumber
                && value is >= 0 and <= 9 && value % 1 == 0)
                sb.Append((char)('0' + (int)value));
            else if (category is UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator
                     or UnicodeCategory.ParagraphSeparator || Rune.IsWhiteSpace(rune))
                sb.Append(' ');
            else if (category == UnicodeCategory.DashPunctuation || rune.Value is 0x2212 or 0xFE63 or 0xFF0D)
                sb.Append('-');
            else if (category == UnicodeCategory.Format)
                continue;
            else if (rune.Value is >= 0xFF21 and <= 0xFF3A or >= 0xFF41 and <= 0xFF5A) // fullwidth Latin letters
                sb.Append((char)(rune.Value - 0xFEE0));
            else if (rune.Value is 0xFF0E or 0x2024 or 0x00B7 or 0x2027 or 0x30FB) // dots and middle dots
                sb.Append('.');
            else
                sb.Append(rune.ToString());
        }
        return sb.ToString();
    }

    /// <summary>A NIR has at least 13 digits: a text with fewer costs one pass over its characters, nothing more.</summary>
    private static bool EnoughDigits(string text)
    {
        var n = 0;
        foreach (var ch in text)
            if ((char.IsNumber(ch) || char.IsSurrogate(ch)) && ++n >= 13) return true;
        return false;
    }

    private static bool Probe()
    {
        try { return "\uFF11".Normalize(NormalizationForm.FormKC) == "1"; }
        catch (PlatformNotSupportedException) { return false; }
    }

    /// <summary>The 422 that names where the NIR was (a body field, a header, a query parameter), never the NIR.</summary>
    public static RuleException Refused(string field, string source)
    {
        var where = source switch
        {
            "header" => $"The header {field}",
            "query" => field.Length == 0 ? "The query string" : $"The query parameter {field}",
            "path" => "The path",
            _ => field.Length == 0 ? "The request" : field,
        };
        return new RuleException(Code,
            $"{where} contains what looks like a NIR (social security number); the law reserves it: remove it.")
        {
            Extensions = { ["field"] = field, ["source"] = source },
        };
    }

    /// <summary>Walks every string of a request (records, lists, dictionaries, JSON); refuses the first that carries a NIR.</summary>
    public static void Refuse(object? request)
    {
        if (Find(request) is { } field) throw Refused(field, "body");
    }

    /// <summary>The path of the first string that carries a NIR (<c>""</c> for the value itself), or null.</summary>
    public static string? Find(object? value) => Walk(value, "", 0);

    private static string? Walk(object? value, string path, int depth)
    {
        if (value is null || depth > 8) return null;
        switch (value)
        {
            case string s:
                return Contains(s) ? path : null;
            case JsonElement json:
                return WalkJson(json, path, depth);
            case IDictionary dictionary:
                foreach (DictionaryEntry entry in dictionary)
                {
                    var at = $"{path}[{entry.Key}]";
                    if (Contains(entry.Key as string)) return path;
                    if (Walk(entry.Value, at, depth + 1) is { } found) return found;
                }
                return null;
            case IEnumerable list:
                var i = 0;
                foreach (var item in list)
                    if (Walk(item, $"{path}[{i++}]", depth + 1) is { } found)
                        return found;
                return null;
        }
        foreach (var (name, get) in Properties.GetOrAdd(value.GetType(), Readable))
            if (Walk(get(value), path.Length == 0 ? name : $"{path}.{name}", depth + 1) is { } found)
                return found;
        return null;
    }

    private static string? WalkJson(JsonElement json, string path, int depth)
    {
        if (depth > 8) return null;
        switch (json.ValueKind)
        {
            case JsonValueKind.String:
                return Contains(json.GetString()) ? path : null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in json.EnumerateArray())
                    if (WalkJson(item, $"{path}[{i++}]", depth + 1) is { } found)
                        return found;
                return null;
            case JsonValueKind.Object:
                foreach (var p in json.EnumerateObject())
                {
                    if (Contains(p.Name)) return path;
                    var at = path.Length == 0 ? p.Name : $"{path}.{p.Name}";
                    if (WalkJson(p.Value, at, depth + 1) is { } found) return found;
                }
                return null;
            default:
                return null;
        }
    }

    private static readonly ConcurrentDictionary<Type, (string Name, Func<object, object?> Get)[]> Properties = new();

    /// <summary>The public properties worth walking: none for primitives, enums and the framework's types (ids, dates, streams).</summary>
    private static (string, Func<object, object?>)[] Readable(Type type) =>
        type.IsPrimitive || type.IsEnum || type.Namespace?.StartsWith("System", StringComparison.Ordinal) == true
            ? []
            : type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.GetIndexParameters().Length == 0 && p.GetMethod is not null)
                .Select(p => (char.ToLowerInvariant(p.Name[0]) + p.Name[1..], (Func<object, object?>)p.GetValue))
                .ToArray();

    /// <summary>
    /// Refuses a request whose free-text headers, query string or path carry a NIR, before anything reads or stores
    /// them (the access log writes X-Agent and X-Purpose; the idempotency record keeps its key).
    /// </summary>
    public static Task Middleware(HttpContext http, Func<Task> next)
    {
        var request = http.Request;
        foreach (var name in FreeTextHeaders)
            foreach (var value in request.Headers[name])
                if (Contains(value)) throw Refused(name, "header");
        foreach (var (name, values) in request.Query)
        {
            if (Contains(name)) throw Refused("", "query");
            foreach (var value in values)
                if (Contains(value)) throw Refused(name, "query");
        }
        // The path's ids are UUIDs (hex digits enough to be read, never a NIR): the other segments are read.
        foreach (var segment in (request.Path.Value ?? "").Split('/'))
            if (!Guid.TryParseExact(segment, "D", out _) && Contains(Uri.UnescapeDataString(segment))) throw Refused("", "path");
        return next();
    }
}
