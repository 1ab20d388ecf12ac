using System.Text;

namespace CoordinationHub.Platform.Http;

/// <summary>
/// The CSV the API writes and reads: semicolon-separated, UTF-8, the way French spreadsheets open it;
/// a field holding ';', '"' or a line break is quoted, its quotes doubled.
/// </summary>
public static class Csv
{
    public static string Quote(string value) => value.IndexOfAny([';', '"', '\n']) < 0 ? value : $"\"{value.Replace("\"", "\"\"")}\"";

    /// <summary>The fields of one line, quotes undone.</summary>
    public static List<string> Split(string line)
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
            else if (ch == ';') { fields.Add(sb.ToString()); sb.Clear(); }
            else sb.Append(ch);
        }
        fields.Add(sb.ToString());
        return fields;
    }
}
