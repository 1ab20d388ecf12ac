namespace CoordinationHub.Features.Delegations;

/// <summary>One delegation as the responsibility rules see it: who, to whom, when (inclusive days), under which convention.</summary>
public sealed record DelegationSpan(Guid Id, Guid DelegatorId, Guid DelegateId, Guid ConventionId, DateOnly StartOn, DateOnly EndOn)
{
    public bool ActiveOn(DateOnly date) => StartOn <= date && date <= EndOn;
}

/// <summary>A link of the chain that makes an organisation responsible: the law, then each delegation.</summary>
public readonly record struct ChainLink(Guid OrganisationId, Guid? DelegationId, Guid? ConventionId);

/// <summary>A period over which the chain is the same.</summary>
public sealed record ResponsibilitySegment(DateOnly From, DateOnly To, IReadOnlyList<ChainLink> Chain)
{
    public Guid Responsible => Chain[^1].OrganisationId;
}

/// <summary>A CCAS's tenure as holder by law: from its creation to its dissolution (inclusive; null = open).</summary>
public sealed record CcasTenure(Guid Id, DateOnly? From, DateOnly? Until)
{
    public bool Covers(DateOnly date) => (From is null || From <= date) && (Until is null || date <= Until);
}

/// <summary>
/// Who holds a commune's competences by law on a date: the département, the commune, or the CCAS
/// for the days it exists (CASF L123-4/L123-5; a commune without a CCAS acts itself). Dated, so that
/// a CCAS created on 1 March changes the holder from 1 March only.
/// </summary>
public sealed record CommuneLaw(Guid CommuneId, Guid? DepartementId, IReadOnlyList<CcasTenure> Ccas)
{
    public Guid HolderOn(Competences.HolderKind kind, DateOnly date) => kind switch
    {
        Competences.HolderKind.DEPARTEMENT => DepartementId ?? CommuneId,
        Competences.HolderKind.CCAS => CcasOn(date) ?? CommuneId,
        _ => CommuneId,
    };

    public Guid? CcasOn(DateOnly date)
    {
        foreach (var tenure in Ccas) if (tenure.Covers(date)) return tenure.Id;
        return null;
    }

    /// <summary>The days on which the holder of <paramref name="kind"/> may change.</summary>
    public IEnumerable<DateOnly> ChangesOf(Competences.HolderKind kind) => kind != Competences.HolderKind.CCAS ? [] : Ccas
        .SelectMany(t => new[] { t.From, t.Until?.AddDays(1) }).OfType<DateOnly>();
}

/// <summary>
/// "Who is responsible for competence C in commune X on date D": start from the holder by law on D
/// and follow, date by date, the delegation the current holder granted (law → delegation →
/// sub-delegation). A delegation counts only on the days its delegator holds the competence: a
/// commune's delegation of a CCAS competence is followed until the commune's CCAS exists.
/// Plain C#, shared by the delegation rules and the competence map.
/// </summary>
public static class Responsibility
{
    private const int MaxDepth = 16;

    public static IReadOnlyList<ChainLink> ChainOn(Guid lawHolder, IEnumerable<DelegationSpan> delegations, DateOnly date)
    {
        var active = delegations.Where(d => d.ActiveOn(date)).ToList();
        var chain = new List<ChainLink> { new(lawHolder, null, null) };
        var holder = lawHolder;
        while (chain.Count < MaxDepth
            && active.Where(d => d.DelegatorId == holder).OrderBy(d => d.StartOn).ThenBy(d => d.Id).FirstOrDefault() is { } next)
        {
            chain.Add(new ChainLink(next.DelegateId, next.Id, next.ConventionId));
            active.Remove(next);
            holder = next.DelegateId;
        }
        return chain;
    }

    /// <summary>
    /// The periods where delegations make someone other than the law holder responsible, merged
    /// when consecutive periods have the same chain. Outside them the holder by law answers.
    /// </summary>
    public static IReadOnlyList<ResponsibilitySegment> Segments(
        Func<DateOnly, Guid> lawHolderOn, IEnumerable<DateOnly> lawChanges, IReadOnlyCollection<DelegationSpan> delegations)
    {
        var spans = delegations.Where(d => d.StartOn <= d.EndOn).ToList();
        if (spans.Count == 0) return [];
        var (first, last) = (spans.Min(d => d.StartOn), spans.Max(d => d.EndOn));
        var bounds = spans.SelectMany(d => new[] { d.StartOn, d.EndOn.AddDays(1) })
            .Concat(lawChanges.Where(d => first < d && d <= last))
            .Distinct().Order().ToList();
        var segments = new List<ResponsibilitySegment>();
        for (var i = 0; i < bounds.Count - 1; i++)
        {
            var from = bounds[i];
            var to = bounds[i + 1].AddDays(-1);
            var chain = ChainOn(lawHolderOn(from), spans, from);
            if (chain.Count == 1) continue;
            if (segments.Count > 0 && segments[^1].To.AddDays(1) == from && segments[^1].Chain.SequenceEqual(chain))
                segments[^1] = segments[^1] with { To = to };
            else
                segments.Add(new ResponsibilitySegment(from, to, chain));
        }
        return segments;
    }

    /// <summary>
    /// The first day of [from, to] on which <paramref name="organisation"/> holds the competence
    /// neither by law nor by a delegation to it, or null.
    /// </summary>
    public static DateOnly? FirstDayNotHeld(Guid organisation, Func<DateOnly, Guid> lawHolderOn, IEnumerable<DateOnly> lawChanges,
        IReadOnlyCollection<DelegationSpan> delegations, DateOnly from, DateOnly to)
    {
        var changes = lawChanges.Where(d => from < d && d <= to).Append(from).Distinct().Order().ToList();
        for (var i = 0; i < changes.Count; i++)
        {
            var (start, end) = (changes[i], i + 1 < changes.Count ? changes[i + 1].AddDays(-1) : to);
            if (lawHolderOn(start) == organisation) continue;
            // Holding by delegation: some delegation to the organisation covers each day.
            var day = start;
            foreach (var d in delegations.Where(d => d.DelegateId == organisation).OrderBy(d => d.StartOn))
            {
                if (d.StartOn > day) return day;
                if (d.EndOn >= day) day = d.EndOn.AddDays(1);
                if (day > end) break;
            }
            if (day <= end) return day;
        }
        return null;
    }
}
