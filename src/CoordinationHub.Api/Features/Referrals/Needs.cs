using System.Text;

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
