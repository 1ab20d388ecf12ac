using System.Text;
using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using Mediator;
using static CoordinationHub.Features.Pages.PageLayout;

namespace CoordinationHub.Features.Pages;

/// <summary>« Qui fait quoi » in one commune on a date: every competence of the catalogue, its responsible body and why.</summary>
public sealed record GetCommunePageQuery(string Insee, DateOnly Date) : IQuery<CommunePage>;

public sealed record Contact(string? Email, string? Phone, string? Address)
{
    public bool IsEmpty => Email is null && Phone is null && Address is null;
}

/// <summary>A delegation of the chain and the convention it was granted under (reference, object, signature, dates).</summary>
public sealed record ChainConvention(string Reference, string? Object, DateTimeOffset? SignedAt, DateOnly StartOn, DateOnly EndOn);

public sealed record PageStep(string Name, string Kind, string? LegalBasis, ChainConvention? Convention);

public sealed record PageCompetence(
    string Code, string Label, bool IsLegal, string Responsible, string ResponsibleKind, Contact Contact, IReadOnlyList<PageStep> Chain,
    IntakeDto Intake);

public sealed record CommunePage(
    string Code, string Name, string DepartementCode, string? DepartementName, string? EpciName, DateOnly Date, DateOnly Today,
    IReadOnlyDictionary<Urgency, int> DefaultDays, IReadOnlyList<PageCompetence> Competences);

/// <summary>
/// The chains come from the competence map in memory (as GET /v1/competence-map answers them); the contacts, the
/// conventions and the intake from the directory, one small query per body or delegation on the page.
/// </summary>
public sealed class GetCommunePageHandler(CompetenceMapCache cache, Db db, ReferralRouter router, IConfiguration configuration, TimeProvider clock)
    : IQueryHandler<GetCommunePageQuery, CommunePage>
{
    public async ValueTask<CommunePage> Handle(GetCommunePageQuery query, CancellationToken ct)
    {
        var map = await cache.GetAsync(0, ct);
        var commune = map.CommunesByCode.GetValueOrDefault(query.Insee.ToUpperInvariant()) ?? throw new NotFoundException("commune", query.Insee);
        var entries = map.Catalogue.Select(c => GetCompetenceMapHandler.Entry(map, commune, c, query.Date)).ToList();
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        return await db.RetryAsync(async (c, t) =>
        {
            var contacts = new Dictionary<Guid, Contact>();
            var conventions = new Dictionary<Guid, ChainConvention?>();
            var competences = new List<PageCompetence>(entries.Count);
            foreach (var (entry, competence) in entries.Zip(map.Catalogue))
            {
                var steps = new List<PageStep>(entry.Chain.Count);
                foreach (var step in entry.Chain)
                {
                    ChainConvention? convention = null;
                    if (step.DelegationId is { } delegation && !conventions.TryGetValue(delegation, out convention))
                        conventions[delegation] = convention = await c.QuerySingleOrDefaultAsync<ChainConventionRow>(
                            db.Command(ConventionSql, new { delegation, date = query.Date }, t)) is { } row
                            ? new ChainConvention(row.Reference, row.Object, row.SignedAt, row.StartOn, row.EndOn) : null;
                    steps.Add(new PageStep(step.Name, step.Kind, step.LegalBasis, convention));
                }
                var responsible = entry.Responsible.Id;
                if (!contacts.TryGetValue(responsible, out var contact))
                    contacts[responsible] = contact = await c.QuerySingleOrDefaultAsync<Contact>(db.Command(ContactSql, new { id = responsible }, t))
                        ?? new Contact(null, null, null);
                var intake = await router.IntakeAsync(c, null, responsible, competence.Code, today, t);
                competences.Add(new PageCompetence(competence.Code, competence.Label, competence.IsLegal, entry.Responsible.Name, entry.Responsible.Kind,
                    contact, steps, intake));
            }
            string? Name(Guid? id) => id is { } x && map.Organisations.TryGetValue(x, out var o) ? o.Name : null;
            return new CommunePage(commune.Code, commune.Name, commune.DepartementCode, Name(commune.DepartementId), Name(commune.EpciId),
                query.Date, today, Enum.GetValues<Urgency>().ToDictionary(u => u, u => ReferralRouter.DefaultResponseDays(configuration, u)), competences);
        }, ct);
    }

    private sealed class ChainConventionRow
    {
        public string Reference { get; init; } = "";
        public string? Object { get; init; }
        public DateTimeOffset? SignedAt { get; init; }
        public DateOnly StartOn { get; init; }
        public DateOnly EndOn { get; init; }
    }

    // The convention's object as its last amendment in effect on the date says it (the first version otherwise).
    private const string ConventionSql = """
        SELECT c.reference, v.object, c.signed_at, d.start_on, d.end_on
        FROM delegation d
        JOIN convention c ON c.id = d.convention_id
        JOIN convention_version v ON v.convention_id = c.id
        WHERE d.id = @delegation
          AND v.amendment_no = (SELECT COALESCE(MAX(w.amendment_no), 0) FROM convention_version w
                                WHERE w.convention_id = c.id AND w.effective_on <= @date AND w.signed_at IS NOT NULL)
        """;
    private const string ContactSql = "SELECT email, phone, address FROM organisation WHERE id = @id";
}

public static class CommunePageView
{
    private static readonly Dictionary<string, string> Kinds = new()
    {
        ["DEPARTEMENT"] = "département", ["COMMUNE"] = "commune", ["EPCI"] = "intercommunalité", ["CCAS"] = "centre communal d’action sociale",
        ["CIAS"] = "centre intercommunal d’action sociale", ["PARTNER"] = "organisme partenaire",
    };

    private static string Kind(string kind) => Kinds.GetValueOrDefault(kind, kind.ToLowerInvariant());

    public static string Render(CommunePage page)
    {
        var html = new StringBuilder();
        var onDate = page.Date == page.Today ? "aujourd’hui" : $"le {Date(page.Date)}";
        html.Append($"""
            <nav class="fr-breadcrumb" aria-label="vous êtes ici :"><ol class="fr-breadcrumb__list">
            <li><a class="fr-breadcrumb__link" href="/communes">Qui fait quoi ?</a></li>
            <li><a class="fr-breadcrumb__link" aria-current="page">{H(page.Name)}</a></li></ol></nav>
            <h1>Qui fait quoi à {H(page.Name)}</h1>
            <p>Commune {page.Code}, département {H(page.DepartementName ?? page.DepartementCode)}{(page.EpciName is null ? "" : ", " + H(page.EpciName))}.
            Responsables {onDate}. <a class="fr-link" href="/observatoire/communes/{page.Code}">Les besoins et les réponses à {H(page.Name)} (observatoire)</a></p>
            <form method="get" action="/communes/{page.Code}" class="fr-mb-4w">
            <div class="fr-input-group"><label class="fr-label" for="date">Responsables à la date du
            <span class="fr-hint-text">Une date passée ou à venir : les délégations et les conventions changent.</span></label>
            <input class="fr-input" type="date" id="date" name="date" value="{page.Date:yyyy-MM-dd}" required></div>
            <button class="fr-btn fr-btn--secondary" type="submit">Afficher à cette date</button>
            </form>
            <p>Délai de réponse à une orientation, sauf convention entre l’organisme qui oriente et celui qui reçoit :
            {page.DefaultDays[Urgency.NORMAL]} jours pour une demande normale, {page.DefaultDays[Urgency.URGENT]} jours urgente,
            {page.DefaultDays[Urgency.IMMEDIATE]} jour{(page.DefaultDays[Urgency.IMMEDIATE] > 1 ? "s" : "")} immédiate.</p>
            """);
        foreach (var competence in page.Competences)
        {
            html.Append($"""<section class="chub-card" aria-labelledby="c-{competence.Code}"><h2 class="fr-h5" id="c-{competence.Code}">{H(competence.Label)}</h2><dl>""");
            html.Append($"<dt>Responsable</dt><dd>{H(competence.Responsible)} ({Kind(competence.ResponsibleKind)})");
            if (!competence.IsLegal) html.Append(" — action facultative : d’autres organismes peuvent aussi agir");
            html.Append("</dd><dt>À quel titre</dt><dd><ol class=\"chub-chain\">");
            foreach (var step in competence.Chain)
            {
                if (step.Convention is not { } c)
                    html.Append($"<li>Par la loi : {H(step.Name)}{(step.LegalBasis is null ? "" : $" ({H(step.LegalBasis)})")}</li>");
                else
                    html.Append($"<li>Par délégation à {H(step.Name)}, du {Date(c.StartOn)} au {Date(c.EndOn)}, convention {H(c.Reference)}"
                        + (c.Object is null ? "" : $" « {H(c.Object)} »")
                        + (c.SignedAt is { } s ? $" signée le {Date(DateOnly.FromDateTime(s.UtcDateTime))}" : "") + "</li>");
            }
            html.Append("</ol></dd><dt>Contact</dt><dd>");
            var contact = competence.Contact;
            if (contact.IsEmpty) html.Append("Aucun contact publié par l’organisme.");
            else
            {
                var parts = new List<string>();
                if (contact.Email is not null) parts.Add($"""<a class="fr-link" href="mailto:{H(contact.Email)}">{H(contact.Email)}</a>""");
                if (contact.Phone is not null) parts.Add($"""<a class="fr-link" href="tel:{H(contact.Phone.Replace(" ", ""))}">{H(contact.Phone)}</a>""");
                if (contact.Address is not null) parts.Add(H(contact.Address));
                html.AppendJoin(" — ", parts);
            }
            html.Append("</dd><dt>Délai de réponse à une orientation</dt><dd>");
            html.Append($"{page.DefaultDays[Urgency.NORMAL]} jours (demande normale)");
            if (competence.Intake.ExpectedResponseDays is { } expected) html.Append($" ; délai annoncé par l’organisme : {expected} jours");
            if (competence.Intake.State == IntakeState.PAUSED)
                html.Append($". Accueil des orientations suspendu jusqu’au {Date(competence.Intake.PausedUntil!.Value)}"
                    + (competence.Intake.PauseReason is null ? "" : $" ({H(competence.Intake.PauseReason)})"));
            html.Append(".</dd></dl></section>");
        }
        return html.ToString();
    }
}
