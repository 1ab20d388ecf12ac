using System.Text.Json.Serialization;
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
/// The caller's organisation pauses intake for a facultative competence until a date (with a reason),
/// resumes it (no pausedUntil), and publishes its expected response delay. A legal competence cannot be
/// paused: its holder must answer, and may only publish a delay.
/// </summary>
[ContractName("IntakeSettings")]
public sealed record SetReferralIntakeCommand(DateOnly? PausedUntil, string? PauseReason, int? ExpectedResponseDays) : ICommand<IntakeDto>
{
    [JsonIgnore] public string Competence { get; init; } = "";
}

public sealed class SetReferralIntakeValidator : AbstractValidator<SetReferralIntakeCommand>
{
    public SetReferralIntakeValidator()
    {
        RuleFor(c => c.Competence).NotEmpty().MaximumLength(32);
        RuleFor(c => c.PausedUntil).InclusiveBetween(Dates.Earliest, Dates.Latest).WithMessage(Dates.OutOfRange);
        RuleFor(c => c.PauseReason).NotEmpty().When(c => c.PausedUntil is not null).WithMessage("Say why intake is paused (pauseReason).");
        RuleFor(c => c.PauseReason).MaximumLength(500);
        RuleFor(c => c.ExpectedResponseDays).InclusiveBetween(1, 365);
    }
}

public sealed class SetReferralIntakeHandler(Db db, Caller caller, TimeProvider clock, ReferralRouter router)
    : ICommandHandler<SetReferralIntakeCommand, IntakeDto>
{
    public async ValueTask<IntakeDto> Handle(SetReferralIntakeCommand command, CancellationToken ct)
    {
        var org = caller.OrganisationId ?? throw new ForbiddenException("Intake is set by an organisation's key.");
        var now = clock.GetUtcNow();
        return await db.InTransactionAsync(async (c, tx, t) =>
        {
            var competence = command.Competence.ToUpperInvariant();
            var isLegal = await c.QuerySingleOrDefaultAsync<bool?>(db.Command(CompetenceSql, new { code = competence }, t, tx))
                ?? throw new NotFoundException("competence", command.Competence);
            if (isLegal && command.PausedUntil is not null)
                throw new RuleException("referrals.legal-competence-cannot-pause",
                    $"{competence} is a legal competence: its holder cannot pause intake; publish an expected response delay instead.");
            await c.ExecuteAsync(db.Command(DeleteSql, new { org, competence }, t, tx));
            await c.ExecuteAsync(db.Command(InsertSql, new
            {
                org, competence, command.PausedUntil, pauseReason = command.PauseReason?.Trim(), command.ExpectedResponseDays, now,
            }, t, tx));
            return await router.IntakeAsync(c, tx, org, competence, DateOnly.FromDateTime(now.UtcDateTime), t);
        }, ct);
    }

    private const string CompetenceSql = "SELECT is_legal FROM competence WHERE code = @code";
    private const string DeleteSql = "DELETE FROM referral_intake WHERE organisation_id = @org AND competence_code = @competence";
    private const string InsertSql = """
        INSERT INTO referral_intake (organisation_id, competence_code, paused_until, pause_reason, expected_response_days, updated_at)
        VALUES (@org, @competence, @pausedUntil, @pauseReason, @expectedResponseDays, @now)
        """;
}
