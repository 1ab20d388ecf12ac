using CoordinationHub.Features.Referrals;

namespace CoordinationHub.Tests.Features.Referrals;

/// <summary>The visibility rule and the person key, without a database: who sees what, span by span.</summary>
public sealed class ReferralVisibilityRuleTests
{
    private static readonly Guid Referral = Guid.NewGuid(), Sender = Guid.NewGuid(), Dep = Guid.NewGuid(), Asso = Guid.NewGuid(),
        Centre = Guid.NewGuid(), Stranger = Guid.NewGuid();
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);

    private static ReceiverSpan Span(Guid org, int since, int? left = null, Guid? to = null) => new()
    {
        ReferralId = Referral, OrganisationId = org, SinceAt = T0.AddHours(since), LeftAt = left is { } l ? T0.AddHours(l) : null,
        TransferredToId = to,
    };

    [Fact]
    public void A_receiver_that_got_the_referral_back_and_transferred_it_again_sees_up_to_its_last_transfer_and_whom_it_went_to()
    {
        // Dep → Asso → Dep → Centre.
        var spans = new[] { Span(Dep, 0, 1, Asso), Span(Asso, 1, 2, Dep), Span(Dep, 2, 3, Centre), Span(Centre, 3) };
        var dep = ReferralVisibility.Of(Sender, Centre, spans, Dep)!;
        Assert.Equal((ReferralRole.EARLIER_RECEIVER, T0.AddHours(3), Centre), (dep.Role, dep.LeftAt, dep.TransferredToId));
        Assert.True(dep.Sees(T0.AddHours(3)));
        Assert.False(dep.Sees(T0.AddHours(3).AddTicks(1)));
        var asso = ReferralVisibility.Of(Sender, Centre, spans, Asso)!;
        Assert.Equal((T0.AddHours(2), Dep), (asso.LeftAt, asso.TransferredToId));
        Assert.Equal(ReferralRole.RECEIVER, ReferralVisibility.Of(Sender, Centre, spans, Centre)!.Role);
        Assert.Equal(ReferralRole.SENDER, ReferralVisibility.Of(Sender, Centre, spans, Sender)!.Role);
        Assert.Null(ReferralVisibility.Of(Sender, Centre, spans, Stranger));
    }

    [Fact]
    public void A_transfer_recorded_before_0014_names_the_receiver_whose_span_began_when_it_ended_not_the_current_one()
    {
        var spans = new[] { Span(Dep, 0, 1), Span(Asso, 1, 2), Span(Centre, 2) };
        Assert.Equal(Asso, ReferralVisibility.Of(Sender, Centre, spans, Dep)!.TransferredToId);
    }

    [Fact]
    public void The_receiver_loses_the_person_when_consent_is_withdrawn_and_the_sender_does_not()
    {
        Assert.True(ReferralView.Receiver.SeesPerson(consentWithdrawn: false));
        Assert.False(ReferralView.Receiver.SeesPerson(consentWithdrawn: true));
        Assert.True(ReferralView.Sender.SeesPerson(consentWithdrawn: true));
        Assert.False(new ReferralView(ReferralRole.EARLIER_RECEIVER, T0, Asso, 3).SeesPerson(consentWithdrawn: false));
    }

    [Fact]
    public void The_person_key_covers_every_given_name_and_forgives_case_accents_and_hyphens()
    {
        var birth = new DateOnly(1990, 2, 3);
        Assert.NotEqual(PersonKey.Of("Nira", "Zéphyrine Nira", birth), PersonKey.Of("Nira", "Zéphyrine Kappa", birth));
        Assert.Equal(PersonKey.Of("Lefèvre-Dupont", "Jean-Pierre", birth), PersonKey.Of("LEFEVRE dupont", "jean pierre", birth));
        Assert.NotEqual(PersonKey.Of("Martin", "Jeanne Marie", birth), PersonKey.Of("Martin", "Marie Jeanne", birth));
    }
}
