using CoordinationHub.Features.Delegations;

namespace CoordinationHub.Features.CompetenceMap;

/// <summary>
/// The delegated periods of one commune, for every competence, in three flat arrays of values. A national map
/// holds hundreds of thousands of periods, each with its own delegation: kept as a dictionary entry per
/// (commune, competence), an array per chain and nullable Guids, it took about three times the bytes.
/// Immutable: a change builds the commune anew (<see cref="Builder"/>); a snapshot holding the old one is untouched.
/// </summary>
public sealed class CommunePeriods
{
    /// <summary>A period and where its chain starts in the links; it ends where the next period's starts.</summary>
    private readonly record struct Period(DateOnly From, DateOnly To, int FirstLink);

    /// <summary>A link of a chain: organisation and convention are indexes into the commune's ids.</summary>
    private readonly record struct Link(Guid DelegationId, ushort Organisation, ushort Convention);

    /// <summary>No delegation (the holder by law), or no convention: <see cref="Guid.Empty"/> and this.</summary>
    private const ushort None = ushort.MaxValue;

    /// <summary>The organisations and conventions the links name: a handful per commune.</summary>
    private readonly Guid[] ids;
    /// <summary>Competence k's periods are periods[starts[k]..starts[k + 1]], sorted and disjoint.</summary>
    private readonly int[] starts;
    private readonly Period[] periods;
    private readonly Link[] links;

    private CommunePeriods(Guid[] ids, int[] starts, Period[] periods, Link[] links) =>
        (this.ids, this.starts, this.periods, this.links) = (ids, starts, periods, links);

    /// <summary>The chain of the period of <paramref name="competence"/> (its catalogue index) that covers the date, if one does.</summary>
    public IReadOnlyList<ChainLink>? ChainOn(int competence, DateOnly date)
    {
        // Binary search on the start date.
        int first = starts[competence], lo = first, hi = starts[competence + 1] - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (periods[mid].From <= date) lo = mid + 1; else hi = mid - 1;
        }
        return hi >= first && periods[hi].To >= date ? Chain(hi) : null;
    }

    public int PeriodCount => periods.Length;

    /// <summary>The competences with at least one period.</summary>
    public int KeyCount => Enumerable.Range(0, starts.Length - 1).Count(k => starts[k + 1] > starts[k]);

    private ChainLink[] Chain(int period)
    {
        var (first, end) = (periods[period].FirstLink, period + 1 < periods.Length ? periods[period + 1].FirstLink : links.Length);
        var chain = new ChainLink[end - first];
        for (var i = 0; i < chain.Length; i++)
        {
            var link = links[first + i];
            chain[i] = new ChainLink(ids[link.Organisation],
                link.DelegationId == Guid.Empty ? null : link.DelegationId,
                link.Convention == None ? null : ids[link.Convention]);
        }
        return chain;
    }

    /// <summary>
    /// The next version of a commune: the competences replaced, the others as they were. Holds only the replaced
    /// competences' periods, in their compact form, until <see cref="Build"/>.
    /// </summary>
    public sealed class Builder(CommunePeriods? current, int competences)
    {
        private readonly List<Guid> ids = [];
        private readonly Dictionary<Guid, ushort> indexes = [];
        private readonly (Period[] Periods, Link[] Links)?[] replaced = new (Period[], Link[])?[competences];

        /// <summary>The periods of competence <paramref name="competence"/> are now these (sorted and disjoint; none to remove it).</summary>
        public void Replace(int competence, IReadOnlyList<CompetenceMapCache.Segment> segments)
        {
            var periods = new Period[segments.Count];
            var links = new Link[segments.Sum(s => s.Chain.Count)];
            var next = 0;
            for (var p = 0; p < periods.Length; p++)
            {
                var s = segments[p];
                periods[p] = new Period(s.From, s.To, next);
                foreach (var l in s.Chain)
                    links[next++] = new Link(l.DelegationId ?? Guid.Empty, Index(l.OrganisationId), l.ConventionId is { } c ? Index(c) : None);
            }
            replaced[competence] = (periods, links);
        }

        /// <summary>The commune's new version; null when it has no period left.</summary>
        public CommunePeriods? Build()
        {
            var starts = new int[replaced.Length + 1];
            int periodCount = 0, linkCount = 0;
            for (var k = 0; k < replaced.Length; k++)
            {
                starts[k] = periodCount;
                var (p, l) = Slice(k);
                (periodCount, linkCount) = (periodCount + p.Count, linkCount + l.Count);
            }
            starts[^1] = periodCount;
            if (periodCount == 0) return null;

            var periods = new Period[periodCount];
            var links = new Link[linkCount];
            var linkAt = 0;
            for (var k = 0; k < replaced.Length; k++)
            {
                var (p, l) = Slice(k);
                var shift = linkAt - (p.Count > 0 ? p[0].FirstLink : 0);
                for (var i = 0; i < p.Count; i++) periods[starts[k] + i] = p[i] with { FirstLink = p[i].FirstLink + shift };
                // The unchanged competences' links name the current version's ids: indexed again into this one's.
                var fromCurrent = replaced[k] is null;
                foreach (var link in l)
                    links[linkAt++] = fromCurrent ? Reindex(link) : link;
            }
            return new CommunePeriods([.. ids], starts, periods, links);
        }

        /// <summary>Competence k's periods and links: the replacement, else the current version's.</summary>
        private (ArraySegment<Period>, ArraySegment<Link>) Slice(int k)
        {
            if (replaced[k] is { } r) return (r.Periods, r.Links);
            if (current is null || current.starts[k] == current.starts[k + 1]) return (ArraySegment<Period>.Empty, ArraySegment<Link>.Empty);
            var (first, end) = (current.starts[k], current.starts[k + 1]);
            var linkEnd = end < current.periods.Length ? current.periods[end].FirstLink : current.links.Length;
            var firstLink = current.periods[first].FirstLink;
            return (new(current.periods, first, end - first), new(current.links, firstLink, linkEnd - firstLink));
        }

        private Link Reindex(Link link) => link with
        {
            Organisation = Index(current!.ids[link.Organisation]),
            Convention = link.Convention == None ? None : Index(current.ids[link.Convention]),
        };

        private ushort Index(Guid id)
        {
            if (indexes.TryGetValue(id, out var index)) return index;
            if (ids.Count == None) throw new InvalidOperationException("A commune's chains name more organisations and conventions than the map can index.");
            indexes[id] = index = (ushort)ids.Count;
            ids.Add(id);
            return index;
        }
    }
}
