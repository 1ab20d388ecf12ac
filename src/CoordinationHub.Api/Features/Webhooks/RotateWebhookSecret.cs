using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Webhooks;

/// <param name="OverlapHours">How long the current secret keeps signing beside the new one (0–168, default 24).</param>
[ContractName("WebhookSecretRotation")]
public sealed record WebhookSecretRotation(int? OverlapHours);

/// <summary>A new secret, shown once; during the overlap every delivery carries a signature by each secret.</summary>
public sealed record RotateWebhookSecretCommand(Guid Id, WebhookSecretRotation Request) : ICommand<WebhookSubscriptionDto>;

public sealed class RotateWebhookSecretValidator : AbstractValidator<RotateWebhookSecretCommand>
{
    public RotateWebhookSecretValidator() => RuleFor(c => c.Request.OverlapHours).InclusiveBetween(0, 168).WithName("overlapHours");
}

public sealed class RotateWebhookSecretHandler(Db db, Caller caller, TimeProvider clock, Platform.Security.DataKeys keys)
    : ICommandHandler<RotateWebhookSecretCommand, WebhookSubscriptionDto>
{
    public async ValueTask<WebhookSubscriptionDto> Handle(RotateWebhookSecretCommand command, CancellationToken ct)
    {
        var secret = WebhookSigner.NewSecret();
        var now = clock.GetUtcNow();
        var until = now.AddHours(command.Request.OverlapHours ?? 24);
        var stored = await keys.SealPlatformAsync(secret, WebhookSigner.SecretContext(command.Id), ct);
        return await db.InTransactionAsync(async (c, tx, t) =>
        {
            await WebhookSubscriptionStore.LoadAsync(db, c, tx, command.Id, caller, t);
            await c.ExecuteAsync(db.Command(RotateSql, new { id = command.Id, secret = stored, until, now }, t, tx));
            return await WebhookSubscriptionStore.LoadAsync(db, c, tx, command.Id, caller, t) with { Secret = secret };
        }, ct);
    }

    private const string RotateSql = """
        UPDATE webhook_subscription
        SET previous_secret = secret, previous_secret_until = @until, secret = @secret, version = version + 1, updated_at = @now
        WHERE id = @id
        """;
}
