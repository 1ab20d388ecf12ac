using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using CoordinationHub.Platform.Errors;

namespace CoordinationHub.Features.Referrals;

public enum NeedCategory
{
    FOOD, ENERGY, HOUSING, INCOME, AUTONOMY, DISABILITY, CHILD_PROTECTION, EMPLOYMENT, HEALTH, MOBILITY, ADMINISTRATIVE, OTHER,
}

/// <summary>Need categories and statutory bases: fixed lists, published in the contract's description of a referral.</summary>
public static class Needs
{
    /// <summary>Each need category is routed by one competence of the catalogue.</summary>
    public static readonly IReadOnlyDictionary<NeedCategory, string> Competence = new Dictionary<NeedCategory, string>
    {
        [NeedCategory.FOOD] = "AIDE_ALIMENTAIRE",
        [NeedCategory.ENERGY] = "FSL", // the FSL also pays energy and water debts (loi 90-449 art. 6)
        [NeedCategory.HOUSING] = "FSL",
        [NeedCategory.INCOME] = "RSA_INSTRUCTION",
        [NeedCategory.AUTONOMY] = "APA_EVALUATION",
        [NeedCategory.DISABILITY] = "PCH_INSTRUCTION",
        [NeedCategory.CHILD_PROTECTION] = "ASE_PREVENTION",
        [NeedCategory.EMPLOYMENT] = "RSA_ACCOMPAGNEMENT",
        [NeedCategory.HEALTH] = "AIDE_SOCIALE_LEGALE_INSTRUCTION",
        [NeedCategory.MOBILITY] = "TRANSPORT_SOLIDAIRE",
        [NeedCategory.ADMINISTRATIVE] = "DOMICILIATION",
        [NeedCategory.OTHER] = "AIDE_URGENCE",
    };

    public static string LegalReference(StatutoryBasis basis) => basis switch
    {
        StatutoryBasis.RSA_ORIENTATION => "CASF L262-29 ; L262-40",
        StatutoryBasis.CHILD_PROTECTION_INFORMATION => "CASF L226-2-1 ; L226-2-2",
        StatutoryBasis.APA_REQUEST => "CASF L232-13",
        StatutoryBasis.DOMICILIATION => "CASF L264-1",
        StatutoryBasis.LEGAL_AID_FILING => "CASF L123-5 ; R123-5",
        StatutoryBasis.VULNERABLE_PERSONS_REGISTER => "CASF L121-6-1",
        StatutoryBasis.SHARED_SOCIAL_SECRECY => "CASF L121-6-2",
        _ => throw new ArgumentOutOfRangeException(nameof(basis)),
    };

    /// <summary>The competence a need (category or competence code) is routed by, or null when it is neither.</summary>
    public static string? CompetenceOf(string need, IReadOnlySet<string> catalogue) =>
        Enum.TryParse<NeedCategory>(need, ignoreCase: false, out var category) && Enum.IsDefined(category) ? Competence[category]
        : catalogue.Contains(need) ? need : null;

    public const string NeedPattern = "^[A-Z][A-Z_]{1,31}$";
}

/// <summary>
/// The NIR (numéro de sécurité sociale) is reserved by law: a NIR-shaped number anywhere in a
/// request — 13 characters (Corsica: 2A/2B) and a key that checks modulo 97 — is refused with 422.
/// </summary>
public static class NirGuard
{
    private static readonly Regex Candidate = new(
        @"(?<![0-9A-Za-z])[1-478][ .\-]?\d{2}[ .\-]?\d{2}[ .\-]?(?:\d{2}|2[AaBb])[ .\-]?\d{3}[ .\-]?\d{3}[ .\-]?\d{2}(?![0-9])",
        RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(200));

    public static bool Contains(string? text)
    {
        if (string.IsNullOrEmpty(text)) return false;
        foreach (Match m in Candidate.Matches(text))
        {
            var s = new string(m.Value.Where(char.IsLetterOrDigit).ToArray()).ToUpperInvariant();
            // Corsica: 2A counts as 19, 2B as 18 in the key computation.
            var digits = s[5..7] switch { "2A" => s[..5] + "19" + s[7..13], "2B" => s[..5] + "18" + s[7..13], _ => s[..13] };
            if (long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                && int.TryParse(s[13..], NumberStyles.None, CultureInfo.InvariantCulture, out var key)
                && 97 - number % 97 == key)
                return true;
        }
        return false;
    }

    /// <summary>Walks every string of a request (nested records and lists) and refuses the first that carries a NIR.</summary>
    public static void Refuse(object? request) => Walk(request, "", 0);

    private static void Walk(object? value, string path, int depth)
    {
        if (value is null || depth > 6) return;
        switch (value)
        {
            case string s:
                if (Contains(s))
                    throw new RuleException("referrals.nir-refused",
                        $"{(path.Length == 0 ? "The request" : path)} contains what looks like a NIR (social security number); the law reserves it: remove it.")
                        { Extensions = { ["field"] = path } };
                return;
            case IEnumerable list:
                var i = 0;
                foreach (var item in list) Walk(item, $"{path}[{i++}]", depth + 1);
                return;
        }
        var type = value.GetType();
        if (type.IsPrimitive || type.IsEnum || type.Namespace?.StartsWith("System", StringComparison.Ordinal) == true) return;
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            if (p.GetIndexParameters().Length == 0)
                Walk(p.GetValue(value), path.Length == 0 ? Camel(p.Name) : $"{path}.{Camel(p.Name)}", depth + 1);
    }

    private static string Camel(string name) => char.ToLowerInvariant(name[0]) + name[1..];
}

/// <summary>
/// The duplicate guard's key: family name, given names and birth date, normalised (accents, case,
/// apostrophes removed). One function, under a blind index (<c>ReferralPersonData.KeyOf</c>).
/// </summary>
public static class PersonKey
{
    /// <summary>
    /// The full identity, normalised: family name, every given name in order (spaces, commas and hyphens alike:
    /// "Jean-Pierre" is "Jean Pierre"), birth date. Two people who share a first given name and a birthday are two.
    /// </summary>
    public static string Of(string familyName, string givenNames, DateOnly birthDate) =>
        $"{Normalise(familyName)}|{string.Join(' ', givenNames.Split(Separators).Select(Normalise).Where(n => n.Length > 0))}|{birthDate:yyyy-MM-dd}";

    private static readonly char[] Separators = [' ', ',', '-', '\u00A0', '\u202F', '\u2009', '\t'];

    private static string Normalise(string s)
    {
        // A fold table rather than Unicode decomposition: the host runs with invariant globalization.
        var sb = new StringBuilder(s.Length);
        foreach (var ch in s.ToUpperInvariant())
        {
            var i = Accented.IndexOf(ch);
            if (i >= 0) sb.Append(Plain[i]);
            else if (ch == 'Æ') sb.Append("AE");
            else if (ch == 'Œ') sb.Append("OE");
            else if (char.IsLetterOrDigit(ch)) sb.Append(ch);
        }
        return sb.ToString();
    }

    private const string Accented = "ÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝŸ";
    private const string Plain = "AAAAAACEEEEIIIINOOOOOUUUUYY";
}
