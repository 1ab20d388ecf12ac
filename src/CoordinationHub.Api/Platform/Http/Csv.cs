using System.Text;

namespace CoordinationHub.Platform.Http;

/// <summary>
/// The CSV the API writes and reads: semicolon-separated, UTF-8, the way French spreadsheets open it.
/// A field holding the separator, a comma, a quote, a line break or a space at either end is quoted,
/// its quotes doubled; one that a spreadsheet would run as a formula (= + - @, tab, CR first) is
/// neutralised with a leading apostrophe (OWASP, CSV injection), which <see cref="Split"/> takes off again.
/// </summary>
public static class Csv
{
    private static readonly char[] FormulaStarts = ['=', '+', '-', '@', '\t', '\r'];
    private static readonly char[] NeedQuotes = [';', ',', '"', '\n', '\r'];

    public static string Quote(string value)
    {
        if (value.Length == 0) return value;
        if (Array.IndexOf(FormulaStarts, value[0]) >= 0) value = "'" + value;
        return value.IndexOfAny(NeedQuotes) < 0 && value.Trim() == value ? value : $"\"{value.Replace("\"", "\"\"")}\"";
    }

    /// <summary>The fields of one line, quotes undone and formulas restored; <c>null</c> with the field's position when a quote is not closed.</summary>
    public static (List<string> Fields, int? UnclosedField) Split(string line, char separator = ';')
    {
        var fields = new List<string>();
        var sb = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else sb.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == separator) { fields.Add(Restore(sb.ToString())); sb.Clear(); }
            else sb.Append(ch);
        }
        fields.Add(Restore(sb.ToString()));
        return (fields, quoted ? fields.Count : null);
    }

    private static string Restore(string field) =>
        field.Length > 1 && field[0] == '\'' && Array.IndexOf(FormulaStarts, field[1]) >= 0 ? field[1..] : field;
}
