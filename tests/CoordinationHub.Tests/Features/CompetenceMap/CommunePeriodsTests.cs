using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Features.Delegations;
using Segment = CoordinationHub.Features.CompetenceMap.CompetenceMapCache.Segment;

namespace CoordinationHub.Tests.Features.CompetenceMap;

/// <summary>The compact form of a commune's periods, without a database: what goes in comes out, link by link.</summary>
public sealed class CommunePeriodsTests
{
    private static readonly Guid Departement = Guid.NewGuid(), Ccas = Guid.NewGuid(), Association = Guid.NewGuid();
    private static readonly Guid Convention = Guid.NewGuid(), SubConvention = Guid.NewGuid();

    private static Segment Period(string from, string to, params ChainLink[] chain) => new(DateOnly.Parse(from), DateOnly.Parse(to), chain);

    private static ChainLink Delegated(Guid to, Guid? convention) => new(to, Guid.NewGuid(), convention);

    [Fact]
    public void Each_period_answers_its_own_chain_and_no_chain_outside_the_periods()
    {
        var first = new[] { new ChainLink(Departement, null, null), Delegated(Ccas, Convention) };
        var second = new[] { new ChainLink(Departement, null, null), Delegated(Ccas, Convention), Delegated(Association, SubConvention) };
        var builder = new CommunePeriods.Builder(null, competences: 3);
        builder.Replace(1, [Period("2026-01-01", "2026-06-30", first), Period("2026-07-01", "2026-12-31", second)]);
        var periods = builder.Build()!;

        Assert.Equal(first, periods.ChainOn(1, DateOnly.Parse("2026-01-01")));
        Assert.Equal(first, periods.ChainOn(1, DateOnly.Parse("2026-06-30")));
        Assert.Equal(second, periods.ChainOn(1, DateOnly.Parse("2026-07-01")));
        Assert.Equal(second, periods.ChainOn(1, DateOnly.Parse("2026-12-31")));
        Assert.Null(periods.ChainOn(1, DateOnly.Parse("2025-12-31")));
        Assert.Null(periods.ChainOn(1, DateOnly.Parse("2027-01-01")));
        Assert.Null(periods.ChainOn(0, DateOnly.Parse("2026-03-01")));
        Assert.Null(periods.ChainOn(2, DateOnly.Parse("2026-03-01")));
        Assert.Equal((1, 2), (periods.KeyCount, periods.PeriodCount));
    }

    [Fact]
    public void A_new_version_replaces_one_competence_keeps_the_others_and_leaves_the_old_version_as_it_was()
    {
        var kept = new[] { new ChainLink(Departement, null, null), Delegated(Association, null) };
        var before = new[] { new ChainLink(Departement, null, null), Delegated(Ccas, Convention) };
        var after = new[] { new ChainLink(Departement, null, null), Delegated(Association, SubConvention) };
        var builder = new CommunePeriods.Builder(null, competences: 3);
        builder.Replace(0, [Period("2026-01-01", "2026-12-31", kept)]);
        builder.Replace(2, [Period("2026-01-01", "2026-12-31", before)]);
        var old = builder.Build()!;

        var next = new CommunePeriods.Builder(old, competences: 3);
        next.Replace(2, [Period("2026-03-01", "2026-03-31", after)]);
        var changed = next.Build()!;

        var march = DateOnly.Parse("2026-03-15");
        Assert.Equal(kept, changed.ChainOn(0, march));
        Assert.Equal(after, changed.ChainOn(2, march));
        Assert.Null(changed.ChainOn(2, DateOnly.Parse("2026-02-01")));
        Assert.Equal(before, old.ChainOn(2, march));

        var removal = new CommunePeriods.Builder(changed, competences: 3);
        removal.Replace(0, []);
        removal.Replace(2, []);
        Assert.Null(removal.Build());
    }
}
