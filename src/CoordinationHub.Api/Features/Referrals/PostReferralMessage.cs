using CoordinationHub.Features.PersonalData;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.OpenApi;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>A message in the referral's thread, from the sender or the current receiver.</summary>
[ContractName("ReferralMessageDraft")]
public sealed record PostReferralMessageCommand(AgentInput Agent, string Body) : ICommand<ThreadMessage>
{
    [System.Text.Json.Serialization.JsonIgnore] public Guid Id { get; init; }
}

public sealed class PostReferralMessageValidator : AbstractValidator<PostReferralMessageCommand>
{
    public PostReferralMessageValidator()
    {
        ReferralRules.Agent(RuleFor(c => c.Agent));
        RuleFor(c => c.Body).NotEmpty().MaximumLength(ReferralRules.TextMax);
    }
}

public sealed class PostReferralMessageHandler(Db db, Caller caller, TimeProvider clock, ChangeLog changeLog, ReferralWorkflow workflow, PersonAccess access)
    : ICommandHandler<PostReferralMessageCommand, ThreadMessage>
{
    public async ValueTask<ThreadMessage> Handle(PostReferralMessageCommand command, CancellationToken ct)
    {
        return await db.InTransactionAsync(async (c, tx, t) =>
        {
            var row = await ReferralStore.LoadAsync(db, c, tx, command.Id, t, forUpdate: true);
            var role = await ReferralStore.RoleAsync(db, c, tx, row, command.Id, caller, t);
            ReferralWorkflow.Check(row!, role, ReferralAction.POST_MESSAGE, null);
            var message = await workflow.AppendAsync(new ReferralStep(c, tx, row!, role, clock.GetUtcNow(), t), MessageKind.MESSAGE, command.Agent, command.Body);
            await changeLog.RecordAsync(c, tx, [new ChangeLog.Entry("referral", command.Id, "referral.message-posted", null,
                new { referralId = command.Id, messageId = message.Id, message.Seq, authorOrganisationId = message.AuthorOrganisation.Id },
                ReferralVisibility.Audience(row!.SenderId, row.ReceiverId))], t);
            await access.RecordAsync(c, tx, [command.Id], t);
            return message;
        }, ct);
    }
}

/// <summary>The thread in order; an earlier receiver sees it up to when it transferred the referral.</summary>
public sealed record ListReferralMessagesQuery(Guid Id) : IQuery<IReadOnlyList<ThreadMessage>>;

public sealed class ListReferralMessagesHandler(Db db, Caller caller, ReferralPersonData people, PersonAccess access)
    : IQueryHandler<ListReferralMessagesQuery, IReadOnlyList<ThreadMessage>>
{
    public async ValueTask<IReadOnlyList<ThreadMessage>> Handle(ListReferralMessagesQuery query, CancellationToken ct)
    {
        var thread = await db.RetryAsync(async (c, t) =>
        {
            var row = await ReferralStore.LoadAsync(db, c, null, query.Id, t);
            var view = await ReferralVisibility.ViewAsync(db, c, null, row, query.Id, caller, t);
            return ReferralVisibility.Thread(await people.ReadThreadAsync(c, null, query.Id, view.LeftAtSeq, t), row!, view);
        }, ct);
        if (thread.Any(m => m.Body is not null)) await access.RecordAsync([query.Id], ct);
        return thread;
    }
}
