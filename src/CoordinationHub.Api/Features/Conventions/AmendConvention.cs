using CoordinationHub.Platform.OpenApi;
using CoordinationHub.Platform.Http;
using System.Text.Json.Serialization;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Conventions;

/// <summary>
/// Proposes amendment (avenant) n: the current terms with the fields given changed, applying from
/// <c>effectiveOn</c> once every party has signed it. Fields left out keep their current value;
/// any of communeIds/departementCodes/epciSirens replaces the whole territory.
/// </summary>
[ContractName("ConventionAmendment")]
public sealed record AmendConventionCommand(
    DateOnly EffectiveOn, string Summary, string? Object, DateOnly? EndOn, int? RenewalMonths, int? MaxRenewals, int? NoticeDays,
    bool? AllowsSubdelegation, IReadOnlyList<string>? Competences, IReadOnlyList<Guid>? CommuneIds, IReadOnlyList<string>? DepartementCodes,
    IReadOnlyList<string>? EpciSirens, FinancialTerms? FinancialTerms) : ICommand<ConventionVersionDto>, IConventionTermsInput
{
    public IReadOnlyList<ReferralResponseDays>? ReferralResponseDays { get; init; }
    [JsonIgnore] public Guid Id { get; init; }
    [JsonIgnore] public int ExpectedVersion { get; init; }
}

public sealed class AmendConventionValidator : AbstractValidator<AmendConventionCommand>
{
    public AmendConventionValidator()
    {
        RuleFor(c => c.EffectiveOn).NotEmpty().InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange);
        RuleFor(c => c.EndOn).InclusiveBetween(Dates.Earliest, Dates.Latest).When(c => c.EndOn is not null).WithMessage(Dates.OutOfRange);
        RuleFor(c => c.Summary).NotEmpty().MaximumLength(500);
        RuleFor(c => c.Object).NotEmpty().MaximumLength(4000).When(c => c.Object is not null);
        RuleFor(c => c.NoticeDays).InclusiveBetween(0, 3650);
        Include(new ConventionTermsRules());
    }
}

public sealed class AmendConventionHandler(Db db, Caller caller, TimeProvider clock, ChangeLog changeLog, ISender sender)
    : ICommandHandler<AmendConventionCommand, ConventionVersionDto>
{
    public async ValueTask<ConventionVersionDto> Handle(AmendConventionCommand command, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var today = ConventionAccess.Today(clock);
        var number = await db.InTransactionAsync(async (c, tx, t) =>
        {
            var before = ConventionAccess.Visible(await ConventionStore.LoadAsync(db, c, tx, command.Id, t, forUpdate: true), caller, command.Id);
            ConventionAccess.RequireParty(before, caller, "amend it");
            if (before.Recorded == ConventionStatus.TERMINATED)
                throw new ConflictException("conventions.terminated", $"Convention {before.Reference} was terminated from {before.TerminatedOn:yyyy-MM-dd}; it is no longer amended.");
            var status = before.StatusOn(today);
            if (status is not (ConventionStatus.SIGNED or ConventionStatus.IN_FORCE))
                throw new ConflictException("conventions.not-amendable", $"Convention {before.Reference} is {status} today; only a signed convention, before or while in force, is amended.");
            if (ConventionAccess.Pending(before) is { } pending)
                throw new ConflictException("conventions.amendment-pending", $"Amendment {pending.AmendmentNo} of convention {before.Reference} is not yet signed by every party; one amendment at a time.")
                    { ConflictingResource = $"/v1/conventions/{before.Id}/history" };
            if (before.Version != command.ExpectedVersion)
                throw new PreconditionFailedException($"The convention is at version {before.Version}, not {command.ExpectedVersion}; read it again.");

            var current = before.Versions.MaxBy(v => v.AmendmentNo)!;
            var lastDay = before.LastDayOn(command.EffectiveOn);
            if (command.EffectiveOn < current.StartOn || command.EffectiveOn > lastDay)
                throw new RuleException("conventions.effective-outside-period", $"An amendment takes effect within the convention's period, {current.StartOn:yyyy-MM-dd} to {lastDay:yyyy-MM-dd}.");

            var competences = command.Competences is null ? current.Competences : await ConventionTerritory.CompetencesAsync(db, c, tx, command.Competences, t);
            var newTerritory = command.CommuneIds is not null || command.DepartementCodes is not null || command.EpciSirens is not null;
            var communes = newTerritory ? await ConventionTerritory.ExpandAsync(db, c, tx, command.CommuneIds, command.DepartementCodes, command.EpciSirens, t) : current.Communes;
            if (competences.Count > 0 && communes.Count == 0)
                throw new RuleException("conventions.territory-required", "A convention covering competences names the communes where it applies.");
            var endOn = command.EndOn ?? current.EndOn;
            if (endOn < current.StartOn)
                throw new RuleException("conventions.end-before-start", $"The end date cannot precede the start date {current.StartOn:yyyy-MM-dd}.");
            var financial = command.FinancialTerms;
            if (financial?.PayerId is { } payer && !before.IsParty(payer))
                throw new RuleException("conventions.payer-not-a-party", "The payer of the financial terms must be a party.");

            var amended = new ConventionTerms(
                current.AmendmentNo + 1, false, command.EffectiveOn, command.Object?.Trim() ?? current.Object, current.StartOn, endOn,
                command.RenewalMonths ?? current.RenewalMonths, command.MaxRenewals ?? current.MaxRenewals, command.NoticeDays ?? current.NoticeDays,
                command.AllowsSubdelegation ?? current.AllowsSubdelegation,
                financial is null ? current.Amount : financial.Amount, financial is null ? current.Periodicity : financial.Periodicity,
                financial is null ? current.PayerId : financial.PayerId, command.Summary.Trim(), competences, communes)
            {
                // Left out: the current days stay for the competences still covered.
                ReferralResponseDays = ConventionTerritory.ResponseDays(command.ReferralResponseDays, competences)
                    ?? current.ReferralResponseDays.Where(d => competences.Contains(d.Key)).ToDictionary(),
            };
            if ((amended.RenewalMonths is null) != (amended.MaxRenewals is null))
                throw new RuleException("conventions.renewal-incomplete", "Give renewalMonths and maxRenewals together.");
            await ConventionTerritory.InsertVersionAsync(db, c, tx, before.Id, amended, now, t);
            var bumped = await c.ExecuteAsync(db.Command(BumpSql, new { id = before.Id, expected = command.ExpectedVersion, now }, t, tx));
            if (bumped == 0) throw new PreconditionFailedException("The convention was changed by someone else meanwhile; read it again.");

            var after = (await ConventionStore.LoadAsync(db, c, tx, before.Id, t))!;
            await changeLog.RecordAsync(c, tx, "convention", before.Id, "convention.amendment-proposed", ConventionAudit.Snapshot(before), ConventionAudit.Snapshot(after), t);
            return amended.AmendmentNo;
        }, ct);
        var history = await sender.Send(new GetConventionHistoryQuery(command.Id), ct);
        return history.Versions.Single(v => v.AmendmentNo == number);
    }

    private const string BumpSql = "UPDATE convention SET version = version + 1, updated_at = @now WHERE id = @id AND version = @expected";
}
