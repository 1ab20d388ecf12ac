using CoordinationHub.Platform.OpenApi;
using System.Text;

namespace CoordinationHub.Features.Directory;

public enum OrganisationKind { DEPARTEMENT, COMMUNE, EPCI, CCAS, CIAS, PARTNER }

public enum PartnerCategory { CAF, MSA, CPAM, MDPH, FRANCE_TRAVAIL, MISSION_LOCALE, ASSOCIATION, OTHER }

/// <summary>An organisation of the directory, as every directory endpoint returns it.</summary>
[ContractName("Organisation")]
public sealed class OrganisationDto
{
    public Guid Id { get; init; }
    public OrganisationKind Kind { get; init; }
    public string Name { get; init; } = "";
    /// <summary>COG code for communes and départements, SIREN for EPCI; null for registered bodies.</summary>
    public string? Code { get; init; }
    public string? Siren { get; init; }
    public string? Siret { get; init; }
    public string? DepartementCode { get; init; }
    public string? RegionCode { get; init; }
    /// <summary>The commune a CCAS is attached to.</summary>
    public Guid? CommuneId { get; init; }
    /// <summary>The EPCI a commune belongs to, or a CIAS is attached to.</summary>
    public Guid? EpciId { get; init; }
    public PartnerCategory? PartnerCategory { get; init; }
    public string? EpciType { get; init; }
    public int? Population { get; init; }
    public string? Email { get; init; }
    public string? Phone { get; init; }
    public string? Address { get; init; }
    public bool IsActive { get; init; }
    /// <summary>The day the body began to exist (a CCAS: the deliberation creating it); null: before any date asked.</summary>
    public DateOnly? ActiveFrom { get; init; }
    /// <summary>Its last day, once dissolved. A CCAS holds its competences by law from activeFrom to activeUntil.</summary>
    public DateOnly? ActiveUntil { get; init; }
    /// <summary>For a commune merged into another: the commune that succeeded it.</summary>
    public Guid? SuccessorId { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    [System.Text.Json.Serialization.JsonIgnore] public int Version { get; init; }

    public static bool IsImported(OrganisationKind kind) => kind is OrganisationKind.DEPARTEMENT or OrganisationKind.COMMUNE or OrganisationKind.EPCI;

    public const string Columns = """
        o.id, o.kind, o.name, o.code, o.siren, o.siret, o.departement_code, o.region_code, o.commune_id, o.epci_id,
        o.partner_category, o.epci_type, o.population, o.email, o.phone, o.address, o.is_active, o.active_from, o.active_until, o.successor_id,
        o.created_at, o.updated_at, o.version
        """;
}

/// <summary>Names as searched: no accents, no case, punctuation as spaces ("Saint-Étienne" → "saint etienne").</summary>
public static class SearchText
{
    // Latin letters with diacritics and their base letter. A table rather than Unicode
    // decomposition, which needs ICU and the host runs with invariant globalization.
    private const string Accented = "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳ";
    private const string Plain = "aaaaaaceeeeiiiinooooouuuuyaaaaaaceeeeiiiinooooouuuuyyaaaaaaccccccccddeeeeeeeeeegggggggghhiiiiiiiiijjkkllllllnnnnnnoooooorrrrrrssssssssttttuuuuuuuuuuuuwwyyyzzzzzzoouuaaiioouuuuuuuuuuaaaaggkkoooojggnnaaaaaaeeeeiiiioooorrrruuuusstthhaaeeooooooooyy";
    private static readonly Dictionary<char, char> Base = Accented.Zip(Plain).ToDictionary(p => p.First, p => p.Second);

    public static string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        var space = true;
        foreach (var raw in text)
        {
            switch (raw)
            {
                case 'œ' or 'Œ': sb.Append("oe"); space = false; continue;
                case 'æ' or 'Æ': sb.Append("ae"); space = false; continue;
                case 'ß': sb.Append("ss"); space = false; continue;
            }
            var c = Base.TryGetValue(raw, out var b) ? b : raw;
            if (char.IsAsciiLetterOrDigit(c)) { sb.Append(char.ToLowerInvariant(c)); space = false; }
            else if (!space) { sb.Append(' '); space = true; }
        }
        return sb.ToString().TrimEnd();
    }
}

/// <summary>SIREN (9 digits) and SIRET (14 digits) carry a Luhn check digit.</summary>
public static class Identifiers
{
    // La Poste's establishments share SIREN 356000000 and use a digit sum modulo 5 instead of Luhn.
    private const string LaPoste = "356000000";

    public static bool IsSiren(string? value) => value is { Length: 9 } && value.All(char.IsAsciiDigit) && Luhn(value);

    public static bool IsSiret(string? value) =>
        value is { Length: 14 } && value.All(char.IsAsciiDigit)
        && (Luhn(value) || (value.StartsWith(LaPoste, StringComparison.Ordinal) && value.Sum(c => c - '0') % 5 == 0));

    private static bool Luhn(string digits)
    {
        var sum = 0;
        for (var i = 0; i < digits.Length; i++)
        {
            var d = digits[digits.Length - 1 - i] - '0';
            if (i % 2 == 1) { d *= 2; if (d > 9) d -= 9; }
            sum += d;
        }
        return sum % 10 == 0;
    }
}
