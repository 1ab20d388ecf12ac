using CoordinationHub.Platform.OpenApi;
using System.Text.Json.Serialization;
using CoordinationHub.Features.Delegations;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Conventions;

/// <summary>
/// A party ends the convention early: from <c>effectiveOn</c> it is no longer in force, and its
/// delegations end the day before. Unilaterally, the notice period of the terms in force applies;
/// by agreement of every party, any date from today.
/// </summary>
[ContractName("ConventionTerminationNotice")]
public sealed record TerminateConventionCommand(DateOnly EffectiveOn, string Reason, bool AgreedByAllParties) : ICommand<ConventionDto>
{
    [JsonIgnore] public Guid Id { get; init; }
    [JsonIgnore] public int ExpectedVersion { get; init; }
}

public sealed class TerminateConventionValidator : AbstractValidator<TerminateConventionCommand>
{
    public TerminateConventionValidator()
    {
        RuleFor(c => c.EffectiveOn).NotEmpty();
        RuleFor(c => c.Reason).NotEmpty().MaximumLength(500);
    }
}

public sealed class TerminateConventionHandler(Db db, Caller caller, TimeProvider clock, ChangeLog changeLog, ConventionDelegations delegations)
    : ICommandHandler<TerminateConventionCommand, ConventionDto>
{
    public async ValueTask<ConventionDto> Handle(TerminateConventionCommand command, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var today = ConventionAccess.Today(clock);
        return await db.InTransactionAsync(async (c, tx, t) =>
        {
            var before = ConventionAccess.Visible(await ConventionStore.LoadAsync(db, c, tx, command.Id, t, forUpdate: true), caller, command.Id);
            ConventionAccess.RequireParty(before, caller, "terminate it");
            if (before.Recorded == ConventionStatus.DRAFT)
                throw new RuleException("conventions.not-signed", $"Convention {before.Reference} is still a draft: it is abandoned, not terminated.");
            if (before.Recorded == ConventionStatus.TERMINATED)
                throw new ConflictException("conventions.already-terminated", $"Convention {before.Reference} was already terminated from {before.TerminatedOn:yyyy-MM-dd}.");
            if (before.Version != command.ExpectedVersion)
                throw new PreconditionFailedException($"The convention is at version {before.Version}, not {command.ExpectedVersion}; read it again.");

            if (command.EffectiveOn < today)
                throw new RuleException("conventions.termination-in-past", "A termination takes effect today at the earliest.");
            var lastDay = before.LastDayOn(today);
            if (command.EffectiveOn > lastDay)
                throw new RuleException("conventions.termination-after-end", $"The convention ends on {lastDay:yyyy-MM-dd} anyway; a termination takes effect on or before that day.");
            var notice = before.TermsOn(today).NoticeDays;
            if (!command.AgreedByAllParties && command.EffectiveOn < today.AddDays(notice))
                throw new RuleException("conventions.notice-period",
                    $"Terminated by one party, the convention ends {notice} days after notice at the earliest: on {today.AddDays(notice):yyyy-MM-dd} or later (or set agreedByAllParties).");

            var updated = await c.ExecuteAsync(db.Command(TerminateSql, new
            {
                id = before.Id, expected = command.ExpectedVersion, terminatedOn = command.EffectiveOn, reason = command.Reason.Trim(),
                terminatedBy = caller.OrganisationId, now,
            }, t, tx));
            if (updated == 0) throw new PreconditionFailedException("The convention was changed by someone else meanwhile; read it again.");
            await delegations.EndAllAsync(c, tx, before.Id, command.EffectiveOn.AddDays(-1), command.Reason.Trim(), t);

            var after = (await ConventionStore.LoadAsync(db, c, tx, before.Id, t))!;
            await changeLog.RecordAsync(c, tx, "convention", before.Id, "convention.terminated", ConventionAudit.Snapshot(before), ConventionAudit.Snapshot(after), t);
            return await ConventionAccess.ToDtoAsync(db, c, tx, after, today, caller, t);
        }, ct);
    }

    private const string TerminateSql = """
        UPDATE convention
        SET status = 'TERMINATED', terminated_on = @terminatedOn, termination_reason = @reason, terminated_by = @terminatedBy,
            version = version + 1, updated_at = @now
        WHERE id = @id AND version = @expected
        """;
}
