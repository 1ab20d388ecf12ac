using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace CoordinationHub.Platform.Http;

/// <summary>
/// Free text (names, reasons, references): any character but the control characters other than tab, line feed and
/// carriage return. The contract declares it as the <c>pattern</c> of every string no other rule restricts, and the
/// server enforces it on every string it reads: JSON bodies (<see cref="Converter"/>), query values (QueryValues),
/// pushed records (their validator). Text it did not read from a client (a receiver's answer) is cleaned instead.
/// </summary>
public static partial class FreeText
{
    public const string Pattern = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]*$";
    public const string Message = "Control characters (other than tab and line breaks) are not accepted.";

    [GeneratedRegex("[\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]")]
    private static partial Regex Control();

    public static bool IsClean(string? value) => value is null || !Control().IsMatch(value);

    /// <summary>The text with each control character replaced by U+FFFD, for text read from elsewhere or echoed back.</summary>
    public static string Clean(string value) => Control().Replace(value, "\uFFFD");

    /// <summary>Refuses a JSON string holding a control character: 400 malformed-json at its path.</summary>
    public sealed class Converter : JsonConverter<string>
    {
        public override bool HandleNull => false;

        public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var value = reader.GetString();
            return IsClean(value) ? value : throw new JsonException(Message);
        }

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
    }
}
