using System.Text.Json.Serialization;
using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>Every action on a referral names the referral (route) and the version read (If-Match).</summary>
public abstract record ReferralCommand : ICommand<ReferralDto>
{
    // Set by the endpoint from the route and If-Match, never read from the body.
    [JsonIgnore] public Guid Id { get; set; }
    [JsonIgnore] public int ExpectedVersion { get; set; }
}

/// <summary>The agent acting and, optionally, a text that goes into the thread.</summary>
public interface IReferralText
{
    AgentInput Agent { get; }
    string? Text { get; }
}

public sealed class ReferralTextRules : AbstractValidator<IReferralText>
{
    public ReferralTextRules()
    {
        ReferralRules.Agent(RuleFor(c => c.Agent));
        RuleFor(c => c.Text).MaximumLength(ReferralRules.TextMax);
    }
}
