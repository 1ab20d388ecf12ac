using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Platform.Http;

namespace CoordinationHub.Features.Referrals;

/// <summary>The contract's examples for referral bodies (merged into ContractExamples). Fictitious person.</summary>
public static class ReferralExamples
{
    internal static readonly Guid ReferralId = Guid.Parse("019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b");
    internal static readonly Guid CcasId = Guid.Parse("0199a1b3-1a2b-7c3d-9e4f-5a6b7c8d9e0f");
    internal static readonly Guid NordId = Guid.Parse("0199a1b2-0000-7000-8000-000000000059");
    private static readonly Guid LilleId = Guid.Parse("0199a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b");
    private static readonly Guid ConventionId = Guid.Parse("0199b2c3-4d5e-7f60-8a1b-2c3d4e5f6a7b");
    internal static readonly DateTimeOffset At = new(2026, 3, 2, 9, 30, 0, TimeSpan.Zero);
    internal static readonly AgentInput Agent = new("lille-ccas-0042", "Mme A. Bernard, travailleuse sociale");
    internal static readonly AgentInput Referent = new("cd59-rsa-117", "M. K. Haddad, instructeur RSA");
    private static readonly ReferralOrganisation Ccas = new(CcasId, "CCAS de Lille", "CCAS");
    private static readonly ReferralOrganisation Nord = new(NordId, "Nord", "DEPARTEMENT");
    internal static readonly PersonInput Person = new("Dupont", "Jeanne Marie", new DateOnly(1961, 5, 14), "59350", "12 rue Solférino, 59000 Lille",
        new ContactInput(ContactChannel.PHONE, "06 00 00 00 00"), "1234567");
    private static readonly ConsentInput Consent = new("Instruction d'une demande de RSA", new ConsentScopeInput("INCOME", null), ConsentMethod.WRITTEN,
        At.AddHours(-1), Agent, new DateOnly(2026, 9, 2));
    private static readonly IReadOnlyList<ChainStep> Chain = [new ChainStep(NordId, "Nord", "DEPARTEMENT", "LAW", null, null, "CASF L262-15 ; L262-16")];

    internal static readonly ReferralDto Referral = new()
    {
        Id = ReferralId, Status = ReferralStatus.ACCEPTED, Overdue = false, YourRole = ReferralRole.SENDER,
        AllowedActions = [ReferralAction.WITHDRAW_CONSENT, ReferralAction.POST_MESSAGE], Sender = Ccas, Receiver = Nord, Need = "INCOME",
        Competence = "RSA_INSTRUCTION", Urgency = Urgency.NORMAL, CommuneInsee = "59350", Person = Person,
        Context = "Sans ressources depuis la fin de ses droits au chômage en janvier.", SenderAgent = Agent, AssignedAgent = Referent,
        LegalBasis = new ReferralLegalBasis(null, null, Consent, null), Routing = new ReferralRouting(RoutingMode.RESOLVED, Chain),
        Deadline = new ReferralDeadline(At.AddDays(7), DeadlineSource.CONVENTION, ConventionId, null),
        SentAt = At, ReceivedAt = At.AddHours(3), RespondedAt = At.AddDays(1), UpdatedAt = At.AddDays(1), Version = 4,
    };

    private static readonly ReferralSummary Summary = new()
    {
        Id = ReferralId, Status = ReferralStatus.ACCEPTED, Sender = Ccas, Receiver = Nord, Need = "INCOME", Competence = "RSA_INSTRUCTION",
        Urgency = Urgency.NORMAL, CommuneInsee = "59350", Person = new PersonSummary(Person.FamilyName, Person.GivenNames, Person.BirthDate),
        AssignedAgent = Referent, DeadlineAt = At.AddDays(7), SentAt = At, UpdatedAt = At.AddDays(1),
    };

    internal static readonly ThreadMessage Message = new(Guid.Parse("019ab3c5-0000-7000-8000-000000000001"), 1, MessageKind.QUESTION, Nord, Referent,
        "Pouvez-vous préciser la date de fin des droits ?", At.AddHours(4));

    private static readonly IntakeDto Intake = new(IntakeState.OPEN, null, null, 10);

    private static readonly Dictionary<Type, object> Examples = new()
    {
        [typeof(ReferralDto)] = Referral,
        [typeof(CreateReferralCommand)] = new CreateReferralCommand(null, "INCOME", Urgency.NORMAL, Person,
            "Sans ressources depuis la fin de ses droits au chômage en janvier.", Agent, new LegalBasisInput(null, Consent)),
        [typeof(RequestReferralInformationCommand)] = new RequestReferralInformationCommand(Referent, "Pouvez-vous préciser la date de fin des droits ?"),
        [typeof(AnswerReferralInformationCommand)] = new AnswerReferralInformationCommand(Agent, "Fin des droits ARE le 31 janvier."),
        [typeof(AcceptReferralCommand)] = new AcceptReferralCommand(Referent, "Rendez-vous proposé le 9 mars.", Referent),
        [typeof(DeclineReferralCommand)] = new DeclineReferralCommand(Referent, DeclineReason.NOT_COMPETENT, "Relève de l'aide alimentaire.", CcasId),
        [typeof(StartReferralCommand)] = new StartReferralCommand(Referent, null),
        [typeof(CompleteReferralCommand)] = new CompleteReferralCommand(Referent, Outcome.FILE_SUBMITTED, "Dossier RSA déposé le 10 mars."),
        [typeof(CloseReferralWithoutOutcomeCommand)] = new CloseReferralWithoutOutcomeCommand(Referent, ClosureReason.PERSON_DID_NOT_COME,
            "Deux rendez-vous manqués."),
        [typeof(CancelReferralCommand)] = new CancelReferralCommand(Agent, CancelReason.NO_LONGER_NEEDED, "Reprise d'emploi."),
        [typeof(TransferReferralCommand)] = new TransferReferralCommand(Referent, CcasId, TransferReason.DELEGATED, "Instruction déléguée au CCAS."),
        [typeof(WithdrawReferralConsentCommand)] = new WithdrawReferralConsentCommand(Agent, "Retrait exprimé à l'accueil."),
        [typeof(ReorientReferralCommand)] = new ReorientReferralCommand(Agent, CcasId, "Orientée vers l'aide alimentaire du CCAS."),
        [typeof(AssignReferralAgentCommand)] = new AssignReferralAgentCommand(Referent),
        [typeof(AssignmentDto)] = new AssignmentDto(NordId, Referent, At.AddDays(1)),
        [typeof(ThreadMessage)] = Message,
        [typeof(PostReferralMessageCommand)] = new PostReferralMessageCommand(Agent, "La personne est joignable l'après-midi."),
        [typeof(RoutingDto)] = new RoutingDto(new MapCommune(LilleId, "59350", "Lille"), "INCOME", "RSA_INSTRUCTION", true, Nord, Chain, Intake, Ccas, 7,
            DeadlineSource.CONVENTION),
        [typeof(SetReferralIntakeCommand)] = new SetReferralIntakeCommand(new DateOnly(2026, 3, 31), "Stocks épuisés jusqu'à la prochaine collecte", 5),
        [typeof(IntakeDto)] = Intake,
        [typeof(PageResponse<ReferralSummary>)] = new PageResponse<ReferralSummary>([Summary], null, null),
        [typeof(ReferralCounts)] = new ReferralCounts(ReferralBox.RECEIVED,
            [new StatusCount(ReferralStatus.SENT, 4), new StatusCount(ReferralStatus.RECEIVED, 12), new StatusCount(ReferralStatus.ACCEPTED, 30)], 2, 46),
    };

    public static object? For(Type type) => Examples.GetValueOrDefault(type);
}
