using System.Data.Common;
using System.Text.Json;
using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Features.PersonalData;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.Http;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>
/// Sends a referral: to <c>receiverId</c> when named, else to whoever the competence map makes
/// responsible for the need in the person's commune today. <c>force</c> (with a reason) sends a
/// second open referral for the same person, need and receiver.
/// </summary>
[ContractName("ReferralDraft")]
public sealed record CreateReferralCommand(
    Guid? ReceiverId, string Need, Urgency Urgency, PersonInput Person, string? Context, AgentInput Agent, LegalBasisInput LegalBasis,
    bool Force = false, string? ForceReason = null) : ICommand<ReferralDto>;

/// <summary>Field limits shared by every referral request.</summary>
public static class ReferralRules
{
    public const int TextMax = 4000;

    public static void Agent<T>(IRuleBuilder<T, AgentInput> rule) => rule.NotNull().ChildRules(AgentFields);

    public static void AgentFields(InlineValidator<AgentInput> a)
    {
        a.RuleFor(x => x.Reference).NotEmpty().MaximumLength(100);
        a.RuleFor(x => x.DisplayName).NotEmpty().MaximumLength(200);
    }

    public static void Person<T>(IRuleBuilder<T, PersonInput> rule) => rule.NotNull().ChildRules(p =>
    {
        p.RuleFor(x => x.FamilyName).NotEmpty().MaximumLength(100);
        p.RuleFor(x => x.GivenNames).NotEmpty().MaximumLength(100);
        p.RuleFor(x => x.BirthDate).InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange);
        p.RuleFor(x => x.CommuneInsee).NotEmpty().Matches("^(\\d{5}|2[AB]\\d{3})$").WithMessage("A commune is its INSEE code (5 characters).");
        p.RuleFor(x => x.Address).MaximumLength(300);
        p.RuleFor(x => x.Contact!.Channel).IsInEnum().When(x => x.Contact is not null);
        p.RuleFor(x => x.Contact!.Value).NotEmpty().MaximumLength(200).When(x => x.Contact is not null);
        p.RuleFor(x => x.AllocataireNumber).MaximumLength(15).Matches("^[0-9A-Za-z]{1,15}$").When(x => x.AllocataireNumber is not null)
            .WithMessage("An allocataire number is 1 to 15 letters or digits.");
    });

    public static void LegalBasis<T>(IRuleBuilder<T, LegalBasisInput> rule) => rule.NotNull()
        .Must(b => (b.Statutory is null) != (b.Consent is null)).WithMessage("Give either a statutory basis or the person's consent.")
        .ChildRules(b =>
        {
            b.RuleFor(x => x.Statutory).IsInEnum();
            b.RuleFor(x => x.Consent!).ChildRules(Consent).When(x => x.Consent is not null);
        });

    public static void Consent(InlineValidator<ConsentInput> c)
    {
        c.RuleFor(x => x.Purpose).NotEmpty().MaximumLength(500);
        c.RuleFor(x => x.Scope).NotNull();
        c.RuleFor(x => x.Scope.Need).NotEmpty().Matches(Needs.NeedPattern).When(x => x.Scope is not null);
        c.RuleFor(x => x.Method).IsInEnum();
        c.RuleFor(x => x.GivenAt).NotEmpty();
        c.RuleFor(x => x.CollectedBy).NotNull().ChildRules(AgentFields);
        c.RuleFor(x => x.ExpiresOn).InclusiveBetween(Dates.Earliest, Dates.Latest).When(x => x.ExpiresOn is not null).WithMessage(Dates.OutOfRange);
    }
}

public sealed class CreateReferralValidator : AbstractValidator<CreateReferralCommand>
{
    public CreateReferralValidator()
    {
        RuleFor(c => c.Need).NotEmpty().MaximumLength(32).Matches(Needs.NeedPattern)
            .WithMessage("need is a need category (FOOD, HOUSING…) or a competence code (RSA_INSTRUCTION…).");
        RuleFor(c => c.Urgency).IsInEnum();
        ReferralRules.Person(RuleFor(c => c.Person));
        RuleFor(c => c.Context).MaximumLength(ReferralRules.TextMax);
        ReferralRules.Agent(RuleFor(c => c.Agent));
        ReferralRules.LegalBasis(RuleFor(c => c.LegalBasis));
        RuleFor(c => c.ForceReason).NotEmpty().When(c => c.Force).WithMessage("Say why a second open referral is sent (forceReason).");
        RuleFor(c => c.ForceReason).MaximumLength(500);
    }
}

public sealed class CreateReferralHandler(Db db, Caller caller, TimeProvider clock, ChangeLog changeLog, ReferralRouter router,
    ReferralPersonData people, ReferralWorkflow workflow, PersonAccess access, CompetenceMapCache map, MapChanges changes)
    : ICommandHandler<CreateReferralCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(CreateReferralCommand command, CancellationToken ct)
    {
        var senderId = caller.OrganisationId ?? throw new ForbiddenException("Referrals are sent by an organisation's key.");
        var now = clock.GetUtcNow();
        var person = ReferralPersonData.Clean(command.Person, command.Context);
        var agent = workflow.Acting(command.Agent);
        // The reads (route, intake, consent, deadline) happen before the writing transaction, so that
        // writers hold the database (SQLite: the only writer) for the guard and the inserts alone.
        var (row, route, sender) = await db.RetryAsync(async (c, t) =>
        {
            var competence = await router.CompetenceAsync(c, null, command.Need, t);
            var row = new ReferralRow
            {
                Id = Guid.CreateVersion7(), SenderId = senderId, Need = command.Need, CompetenceCode = competence,
                Urgency = command.Urgency.ToString(), Status = nameof(ReferralStatus.SENT),
                PersonKey = people.KeyOf(command.Person),
                SenderAgentReference = agent.Reference.Trim(), SenderAgentName = agent.DisplayName.Trim(),
                StatutoryBasis = command.LegalBasis.Statutory?.ToString(), SentAt = now, Version = 1, UpdatedAt = now,
            };
            if (command.LegalBasis.Consent is { } consent)
            {
                row.ConsentPurpose = consent.Purpose.Trim();
                row.ConsentScopeNeed = consent.Scope.Need;
                row.ConsentScopeReceiverId = consent.Scope.ReceiverId;
                row.ConsentMethod = consent.Method.ToString();
                row.ConsentGivenAt = consent.GivenAt;
                row.ConsentCollectedByReference = consent.CollectedBy.Reference.Trim();
                row.ConsentCollectedByName = consent.CollectedBy.DisplayName.Trim();
                row.ConsentExpiresOn = consent.ExpiresOn;
            }
            var route = await ReferralSending.PrepareAsync(db, router, c, null, row, command.Person.CommuneInsee, command.ReceiverId, now, t);
            // The map holds every organisation's name and kind (registrations and renames write to its feed), as the
            // route's receiver came from it; the directory is read only for a sender it does not hold yet.
            var known = (await map.GetAsync(changes.MinGeneration, t)).Organisations.GetValueOrDefault(senderId);
            var sender = known is not null ? new SenderRow { Name = known.Name, Kind = known.Kind }
                : await c.QuerySingleAsync<SenderRow>(db.Command(SenderSql, new { id = senderId }, t));
            return (row, route, new ReferralOrganisation(senderId, sender.Name, sender.Kind));
        }, ct);
        // The person sealed and the audit record serialised before the transaction too (the guard changes nothing
        // the snapshot holds): on SQLite the writer is held for the statements alone.
        var sealedPerson = people.SealNew(row.Id, person);
        var purpose = row.ConsentPurpose;
        if (purpose is not null) row.ConsentPurpose = people.SealConsentPurpose(sealedPerson, purpose);
        var sent = changeLog.Prepare(new ChangeLog.Entry("referral", row.Id, "referral.sent", null, ReferralStore.Snapshot(row),
            ReferralVisibility.Audience(row.SenderId, row.ReceiverId)));
        await db.InTransactionAsync(async (c, tx, t) =>
        {
            await WriteAsync(db, people, changeLog, access, workflow, c, tx, row, sealedPerson, sent, agent,
                command.Force ? command.ForceReason : null, now, t);
            return 0;
        }, ct);
        // The answer is built from what is in memory: no read after the commit.
        var names = new Dictionary<Guid, (ReferralOrganisation Org, string? Code)>
        {
            [route.Commune.Id] = (new ReferralOrganisation(route.Commune.Id, route.Commune.Name, "COMMUNE"), route.Commune.Code),
        };
        names[sender.Id] = (sender, names.GetValueOrDefault(sender.Id).Code);
        names[route.Receiver.Id] = (route.Receiver, names.GetValueOrDefault(route.Receiver.Id).Code);
        return ReferralStore.ToDto(row, ReferralView.Sender, names, person, purpose, now);
    }

    /// <summary>
    /// The statements of a new referral's transaction, its rows built beforehand: the duplicate guard, the referral, its
    /// person, its receiver, the note of a forced duplicate (<paramref name="forceReason"/>), its audit row and event, the
    /// sender's access record. The benchmark's floor runs the same, without the request around it.
    /// </summary>
    public static async Task WriteAsync(Db db, ReferralPersonData people, ChangeLog changeLog, PersonAccess access, ReferralWorkflow workflow,
        DbConnection c, DbTransaction tx, ReferralRow row, ReferralPersonData.SealedPerson person, ChangeLog.Prepared sent, AgentInput agent,
        string? forceReason, DateTimeOffset now, CancellationToken ct)
    {
        await ReferralSending.GuardAsync(db, c, tx, row, forceReason, ct);
        await ReferralStore.InsertAsync(db, c, tx, row, ct);
        await people.WriteAsync(c, tx, person, [], new PersonAuthor(row.SenderId, agent), now, ct);
        await ReferralSending.ReceiverSinceAsync(db, c, tx, row, now, ct);
        if (forceReason is not null)
            await workflow.AppendAsync(new ReferralStep(c, tx, row, ReferralRole.SENDER, now, ct), MessageKind.MESSAGE, agent,
                $"Sent again although referral {row.ForcedDuplicateOf} is open: {forceReason}");
        await changeLog.WriteAsync(c, tx, [sent], ct);
        await access.RecordAsync(c, tx, [row.Id], ct);
    }

    private sealed class SenderRow
    {
        public string Name { get; init; } = "";
        public string Kind { get; init; } = "";
    }

    private const string SenderSql = "SELECT name, kind FROM organisation WHERE id = @id";
}

/// <summary>
/// What sending to a receiver checks and sets, for a new referral, a re-orientation and a transfer:
/// the route (and the chain that chose it), the receiver's intake, the consent, the duplicate guard
/// and the deadline.
/// </summary>
public static class ReferralSending
{
    public static async Task SendAsync(Db db, ReferralRouter router, DbConnection c, DbTransaction tx, ReferralRow row, string communeInsee,
        Guid? named, string? forceReason, DateTimeOffset now, CancellationToken ct)
    {
        await PrepareAsync(db, router, c, tx, row, communeInsee, named, now, ct);
        await GuardAsync(db, c, tx, row, forceReason, ct);
    }

    /// <summary>The reads: route, intake, consent and deadline; sets the receiver, the routing and the deadline on the row.</summary>
    public static async Task<Route> PrepareAsync(Db db, ReferralRouter router, DbConnection c, DbTransaction? tx, ReferralRow row,
        string communeInsee, Guid? named, DateTimeOffset now, CancellationToken ct)
    {
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        Route route;
        try { route = await router.RouteAsync(c, tx, communeInsee, row.CompetenceCode, named, today, ct); }
        catch (NotFoundException)
        {
            throw new RuleException("referrals.unknown-commune", $"No current commune has the INSEE code '{communeInsee}'.");
        }
        var receiver = route.Receiver;
        if (receiver.Id == row.SenderId)
            throw new RuleException("referrals.self-referral", $"{receiver.Name} is responsible for this need here: it does not refer to itself.");
        if (route.Intake.State == IntakeState.PAUSED)
            throw new RuleException("referrals.receiver-paused",
                $"{receiver.Name} has paused intake for {row.CompetenceCode} until {route.Intake.PausedUntil:yyyy-MM-dd} ({route.Intake.PauseReason})"
                + (route.NextReceiver is { } n ? $"; {n.Name} acts for this need there." : "; no other body acts for this need there."))
                { Extensions = { ["nextReceiver"] = route.NextReceiver, ["pausedUntil"] = route.Intake.PausedUntil } };
        if (row.HasConsent)
        {
            if (row.ConsentScopeNeed != row.Need && row.ConsentScopeNeed != row.CompetenceCode)
                throw new RuleException("referrals.consent-out-of-scope", $"The consent covers the need {row.ConsentScopeNeed}, not {row.Need}.");
            if (row.ConsentScopeReceiverId is { } scoped && scoped != receiver.Id)
                throw new RuleException("referrals.consent-out-of-scope", $"The consent names another receiver than {receiver.Name}.");
            if (row.ConsentExpiresOn is { } expires && expires < today)
                throw new RuleException("referrals.consent-expired", $"The person's consent expired on {expires:yyyy-MM-dd}; collect it again.");
            if (row.ConsentGivenAt > now)
                throw new RuleException("referrals.consent-in-future", "The consent cannot be given after now.");
        }

        var (days, source, conventionId, retentionDays) = await router.ResponseDaysAsync(c, tx, row.SenderId, receiver.Id, row.CompetenceCode,
            Enum.Parse<Urgency>(row.Urgency), today, ct);
        row.ReceiverId = receiver.Id;
        row.CommuneId = route.Commune.Id;
        row.RoutingMode = route.Mode.ToString();
        row.RoutingChain = JsonSerializer.Serialize(route.Chain, ReferralStore.Json);
        row.DeadlineAt = now.AddDays(days);
        row.DeadlineSource = source.ToString();
        row.DeadlineConventionId = conventionId;
        row.RetentionDays = retentionDays;
        return route;
    }

    /// <summary>
    /// The duplicate guard, in the writing transaction: one open referral per sender, person, need and receiver unless
    /// forced. It answers the sender about its own referrals only: whether another sender has referred the same person
    /// is that sender's and the receiver's business, and a 409 naming it would let any key learn it.
    /// </summary>
    public static async Task GuardAsync(Db db, DbConnection c, DbTransaction tx, ReferralRow row, string? forceReason, CancellationToken ct)
    {
        // Serialise the sends of one sender, person, need and receiver (only those), so that two identical referrals
        // sent at once cannot both pass the guard.
        if (db.Dialect.KeyLockSql is { } keyLock)
            await c.ExecuteAsync(db.Command(keyLock,
                new { key = $"referral:{row.SenderId}:{row.PersonKey}:{row.CompetenceCode}:{row.ReceiverId}" }, ct, tx));
        var existing = await c.QueryFirstOrDefaultAsync<Guid?>(db.Command(DuplicateSql, new
        {
            row.PersonKey, competence = row.CompetenceCode, receiverId = row.ReceiverId, senderId = row.SenderId, open = ReferralLife.OpenStatuses,
            self = row.Id,
        }, ct, tx));
        if (existing is { } other)
        {
            if (forceReason is null)
                throw new ConflictException("referrals.duplicate",
                    "An open referral for this person and need is already with the receiver; send with force: true and a reason to send another.")
                    { ConflictingResource = $"/v1/referrals/{other}" };
            row.ForcedDuplicateOf = other;
        }
    }

    /// <summary>Records that the row's receiver holds the referral from now.</summary>
    public static Task ReceiverSinceAsync(Db db, DbConnection c, DbTransaction tx, ReferralRow row, DateTimeOffset now, CancellationToken ct) =>
        c.ExecuteAsync(db.Command(ReceiverSql, new { referralId = row.Id, organisationId = row.ReceiverId, now }, ct, tx));

    private const string DuplicateSql = """
        SELECT id FROM referral
        WHERE person_key = @personKey AND competence_code = @competence AND receiver_id = @receiverId AND status {in:open} AND id <> @self
          AND sender_id = @senderId
        ORDER BY id
        """;
    private const string ReceiverSql = """
        INSERT INTO referral_receiver (referral_id, organisation_id, since_at, left_at, transfer_reason)
        VALUES (@referralId, @organisationId, @now, NULL, NULL)
        """;
}
