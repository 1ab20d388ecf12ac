namespace CoordinationHub.Features.Delegations;

/// <summary>One delegation as the responsibility rules see it: who, to whom, when (inclusive days), under which convention.</summary>
public sealed record DelegationSpan(Guid Id, Guid DelegatorId, Guid DelegateId, Guid ConventionId, DateOnly StartOn, DateOnly EndOn)
{
    public bool ActiveOn(DateOnly date) => StartOn <= date && date <= EndOn;
}

/// <summary>A link of the chain that makes an organisation responsible: the law, then each delegation.</summary>
public sealed record ChainLink(Guid OrganisationId, Guid? DelegationId, Guid? ConventionId);

/// <summary>A period over which the chain is the same.</summary>
public sealed record ResponsibilitySegment(DateOnly From, DateOnly To, IReadOnlyList<ChainLink> Chain)
{
    public Guid Responsible => Chain[^1].OrganisationId;
}

/// <summary>
/// "Who is responsible for competence C in commune X on date D": start from the holder by law and
/// follow, date by date, the delegation the current holder granted (law → delegation → sub-delegation).
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
        while (chain.Count < MaxDepth && active.Where(d => d.DelegatorId == holder).OrderBy(d => d.StartOn).ThenBy(d => d.Id).FirstOrDefault() is { } next)
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
    public static IReadOnlyList<ResponsibilitySegment> Segments(Guid lawHolder, IReadOnlyCollection<DelegationSpan> delegations)
    {
        var bounds = delegations.Where(d => d.StartOn <= d.EndOn).SelectMany(d => new[] { d.StartOn, d.EndOn.AddDays(1) }).Distinct().Order().ToList();
        var segments = new List<ResponsibilitySegment>();
        for (var i = 0; i < bounds.Count - 1; i++)
        {
            var from = bounds[i];
            var to = bounds[i + 1].AddDays(-1);
            var chain = ChainOn(lawHolder, delegations, from);
            if (chain.Count == 1) continue;
            if (segments.Count > 0 && segments[^1].To.AddDays(1) == from && segments[^1].Chain.SequenceEqual(chain))
                segments[^1] = segments[^1] with { To = to };
            else
                segments.Add(new ResponsibilitySegment(from, to, chain));
        }
        return segments;
    }

    /// <summary>The first day of [from, to] on which <paramref name="organisation"/> does not hold the competence, or null.</summary>
    public static DateOnly? FirstDayNotHeld(Guid organisation, Guid lawHolder, IReadOnlyCollection<DelegationSpan> delegations, DateOnly from, DateOnly to)
    {
        if (organisation == lawHolder) return null;
        // Holding by delegation: some delegation to the organisation covers each day.
        var day = from;
        foreach (var d in delegations.Where(d => d.DelegateId == organisation).OrderBy(d => d.StartOn))
        {
            if (d.StartOn > day) return day;
            if (d.EndOn >= day) day = d.EndOn.AddDays(1);
            if (day > to) return null;
        }
        return day <= to ? day : null;
    }
}
