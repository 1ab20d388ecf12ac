using CoordinationHub.Features.Referrals;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.PersonalData;

/// <summary>
/// The sender corrects the person's data (right to rectification): a new version, the fields that
/// changed named in the thread and in <c>GET …/person/versions</c>, so the receiver sees what changed.
/// The commune routed the referral and is not changed here: cancel and send again.
/// </summary>
[ContractName("PersonRectification")]
public sealed record RectifyReferralPersonCommand(PersonInput Person, string? Context, AgentInput Agent) : ReferralCommand;

public sealed class RectifyReferralPersonValidator : AbstractValidator<RectifyReferralPersonCommand>
{
    public RectifyReferralPersonValidator()
    {
        ReferralRules.Person(RuleFor(c => c.Person));
        RuleFor(c => c.Context).MaximumLength(ReferralRules.TextMax);
        ReferralRules.Agent(RuleFor(c => c.Agent));
    }
}

public sealed class RectifyReferralPersonHandler(ReferralWorkflow workflow, ReferralPersonData people)
    : ICommandHandler<RectifyReferralPersonCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(RectifyReferralPersonCommand command, CancellationToken ct)
    {
        return await workflow.ActAsync(command.Id, command.ExpectedVersion, ReferralAction.RECTIFY_PERSON, "referral.person-rectified", async s =>
        {
            var versions = await people.ReadVersionsAsync(s.C, s.Tx, s.Row.Id, s.Ct);
            var current = versions[^1];
            if (command.Person.CommuneInsee != current.Person.CommuneInsee)
                throw new RuleException("referrals.commune-unchanged",
                    "The commune of residence routed this referral: cancel it and send a new one to the body responsible there.");
            var next = ReferralPersonData.Clean(command.Person, command.Context);
            var changed = ReferralPersonData.Changes(new PersonRecord(current.Person, current.Context), next);
            if (changed.Count == 0) throw new RuleException("referrals.nothing-to-rectify", "The data sent is the data held: nothing to correct.");
            await people.WriteAsync(s.C, s.Tx, s.Row.Id, current.Version + 1, next, changed, new PersonAuthor(s.Row.SenderId, workflow.Acting(command.Agent)), s.Now, s.Ct);
            s.Row.PersonKey = people.KeyOf(next.Person);
            await workflow.AppendAsync(s, MessageKind.RECTIFICATION, command.Agent,
                $"The sender corrected the person's data (version {current.Version + 1}): {string.Join(", ", changed)}.");
        }, ct);
    }
}

/// <summary>Every version of the person's data, with what each changed: for the sender and the current receiver.</summary>
public sealed record ListReferralPersonVersionsQuery(Guid Id) : IQuery<IReadOnlyList<PersonVersion>>;

public sealed class ListReferralPersonVersionsHandler(Db db, Caller caller, ReferralPersonData people, PersonAccess access)
    : IQueryHandler<ListReferralPersonVersionsQuery, IReadOnlyList<PersonVersion>>
{
    public async ValueTask<IReadOnlyList<PersonVersion>> Handle(ListReferralPersonVersionsQuery query, CancellationToken ct)
    {
        var versions = await db.RetryAsync(async (c, t) =>
        {
            var row = await ReferralStore.LoadAsync(db, c, null, query.Id, t);
            var view = await ReferralVisibility.ViewAsync(db, c, null, row, query.Id, caller, t);
            if (view.IsEarlier)
                throw new ForbiddenException("Your organisation transferred this referral; it no longer sees the person's data.");
            // The person withdrew consent: the receiver keeps no version of the person.
            return view.SeesPerson(row!) ? await people.ReadVersionsAsync(c, null, query.Id, t) : [];
        }, ct);
        if (versions.Count > 0) await access.RecordAsync([query.Id], ct);
        return versions;
    }
}
