using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Http;

namespace CoordinationHub.Features.PersonalData;

/// <summary>The contract's examples for the person's data and its rights (merged into ContractExamples). Fictitious person.</summary>
public static class PersonalDataExamples
{
    private static readonly PersonInput Corrected = ReferralExamples.Person with { Address = "3 place du Théâtre, 59000 Lille" };

    private static readonly PersonVersion Version = new(2, Corrected, ReferralExamples.Referral.Context, ["address"],
        ReferralExamples.CcasId, ReferralExamples.Agent, ReferralExamples.At.AddDays(2));

    private static readonly AccessEntry Access = new()
    {
        Id = Guid.Parse("019ab3c6-0000-7000-8000-000000000001"), ReferralId = ReferralExamples.ReferralId, AccessedAt = ReferralExamples.At.AddHours(3),
        OrganisationId = ReferralExamples.NordId, OrganisationName = "Nord", ApiKeyId = Guid.Parse("0199a1b4-0000-7000-8000-000000000007"),
        AgentReference = ReferralExamples.Referent.Reference, Operation = "GetReferral", Purpose = "instruction RSA",
    };

    private static readonly PersonRequestDto Request = new()
    {
        Id = Guid.Parse("019ab3c7-0000-7000-8000-000000000001"), ReferralId = ReferralExamples.ReferralId, Kind = PersonRequestKind.ERASURE,
        OrganisationId = ReferralExamples.CcasId, AgentReference = ReferralExamples.Agent.Reference, AgentName = ReferralExamples.Agent.DisplayName,
        ReceivedAt = ReferralExamples.At.AddDays(3), Outcome = PersonRequestOutcome.ERASED,
    };

    private static readonly Dictionary<Type, object> Examples = new()
    {
        [typeof(RectifyReferralPersonCommand)] = new RectifyReferralPersonCommand(Corrected, ReferralExamples.Referral.Context, ReferralExamples.Agent),
        [typeof(PersonVersion)] = Version,
        [typeof(AccessEntry)] = Access,
        [typeof(PageResponse<AccessEntry>)] = new PageResponse<AccessEntry>([Access], null, null),
        [typeof(RecordPersonRequestCommand)] = new RecordPersonRequestCommand(PersonRequestKind.ERASURE, ReferralExamples.Agent),
        [typeof(PersonRequestDto)] = Request,
        [typeof(DossierEvent)] = new DossierEvent { OccurredAt = ReferralExamples.At, Action = "referral.sent", OrganisationId = ReferralExamples.CcasId },
        [typeof(ReferralDossier)] = new ReferralDossier(ReferralExamples.At.AddDays(3), ReferralExamples.Referral, [Version],
            [new DossierEvent { OccurredAt = ReferralExamples.At, Action = "referral.sent", OrganisationId = ReferralExamples.CcasId }],
            [ReferralExamples.Message], [new AssignmentDto(ReferralExamples.NordId, ReferralExamples.Referent, ReferralExamples.At.AddDays(1))],
            [Access], []),
    };

    public static object? For(Type type) => Examples.GetValueOrDefault(type);
}
