using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>
/// After a decline, the sender re-orients in one call: a new referral, linked to the first, to the
/// receiver named, else the one the decliner suggested, else whoever the map resolves; same person,
/// need, urgency and legal basis; the thread carried over.
/// </summary>
[ContractName("ReferralReorientation")]
public sealed record ReorientReferralCommand(AgentInput Agent, Guid? ReceiverId, string? Text, bool Force = false, string? ForceReason = null)
    : ReferralCommand, IReferralText;

public sealed class ReorientReferralValidator : AbstractValidator<ReorientReferralCommand>
{
    public ReorientReferralValidator()
    {
        Include(new ReferralTextRules());
        RuleFor(c => c.ForceReason).NotEmpty().When(c => c.Force).WithMessage("Say why a second open referral is sent (forceReason).");
        RuleFor(c => c.ForceReason).MaximumLength(500);
    }
}

public sealed class ReorientReferralHandler(Db db, ReferralWorkflow workflow, ReferralRouter router, ReferralPersonData people,
    ChangeLog changeLog, ISender sender) : ICommandHandler<ReorientReferralCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(ReorientReferralCommand command, CancellationToken ct)
    {
        var newId = Guid.CreateVersion7();
        await workflow.ApplyAsync(command.Id, command.ExpectedVersion, ReferralAction.REORIENT, "referral.reoriented", async s =>
        {
            var old = s.Row;
            var agent = workflow.Acting(command.Agent);
            var next = new ReferralRow
            {
                Id = newId, SenderId = old.SenderId, Need = old.Need, CompetenceCode = old.CompetenceCode, Urgency = old.Urgency,
                Status = nameof(ReferralStatus.SENT), PersonKey = old.PersonKey,
                SenderAgentReference = agent.Reference.Trim(), SenderAgentName = agent.DisplayName.Trim(),
                StatutoryBasis = old.StatutoryBasis, ConsentScopeNeed = old.ConsentScopeNeed,
                ConsentScopeReceiverId = old.ConsentScopeReceiverId, ConsentMethod = old.ConsentMethod, ConsentGivenAt = old.ConsentGivenAt,
                ConsentCollectedByReference = old.ConsentCollectedByReference, ConsentCollectedByName = old.ConsentCollectedByName,
                ConsentExpiresOn = old.ConsentExpiresOn, ReorientedFromId = old.Id, SentAt = s.Now, Version = 1, UpdatedAt = s.Now,
            };
            var person = await people.ReadAsync(s.C, s.Tx, old.Id, s.Ct)
                ?? throw new ConflictException("referrals.person-purged", "The person's data of this referral was purged: send a new referral.");
            // A consent that names the declining receiver does not follow the person elsewhere (422 consent-out-of-scope).
            await ReferralSending.SendAsync(db, router, s.C, s.Tx, next, person.Person.CommuneInsee, command.ReceiverId ?? old.SuggestedReceiverId,
                command.Force ? command.ForceReason : null, s.Now, s.Ct);
            await people.CarryConsentPurposeAsync(s.C, s.Tx, old, next, s.Now, s.Ct);
            await ReferralStore.InsertAsync(db, s.C, s.Tx, next, s.Ct);
            await people.CopyAsync(s.C, s.Tx, old.Id, next.Id, new PersonAuthor(old.SenderId, agent), s.Now, s.Ct);
            await ReferralSending.ReceiverSinceAsync(db, s.C, s.Tx, next, s.Now, s.Ct);
            foreach (var m in await people.ReadThreadAsync(s.C, s.Tx, old.Id, null, s.Ct))
                await people.WriteMessageAsync(s.C, s.Tx, m with { Id = Guid.CreateVersion7() }, next.Id, s.Ct);
            var step = s with { Row = next };
            await workflow.AppendAsync(step, MessageKind.REORIENTATION, command.Agent, command.Text);
            await changeLog.RecordAsync(s.C, s.Tx, [new ChangeLog.Entry("referral", next.Id, "referral.sent", null, ReferralStore.Snapshot(next),
                ReferralVisibility.Audience(next.SenderId, next.ReceiverId))], s.Ct);
            old.ReorientedToId = next.Id;
        }, ct);
        return await sender.Send(new GetReferralQuery(newId), ct);
    }
}
