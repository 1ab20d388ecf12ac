using System.Text;

namespace CoordinationHub.Platform.Http;

/// <summary>
/// Free-text request headers (X-Agent, X-Purpose) beyond ASCII. Kestrel reads header bytes as ISO-8859-1 (what
/// <c>fetch</c> sends for "droit d'accès"), so every byte arrives as one char; UTF-8 bytes are then recognised and
/// decoded, and RFC 8187's <c>UTF-8''droit%20d%27acc%C3%A8s</c> is read too.
/// </summary>
public static class HeaderText
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public const string Description = "Non-ASCII text may be sent as ISO-8859-1 bytes (what `fetch` and browsers send), as "
        + "UTF-8 bytes, or as RFC 8187 `UTF-8''` followed by the percent-encoded UTF-8 text.";

    public static string Decode(string value)
    {
        if (value.StartsWith("UTF-8''", StringComparison.OrdinalIgnoreCase))
        {
            try { return Uri.UnescapeDataString(value[7..]); }
            catch (UriFormatException) { return value; }
        }
        if (!value.Any(c => c >= 0x80) || value.Any(c => c > 0xFF)) return value;
        try { return StrictUtf8.GetString(Encoding.Latin1.GetBytes(value)); }
        catch (DecoderFallbackException) { return value; } // ISO-8859-1 text, as read
    }
}
