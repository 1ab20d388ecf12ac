using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Webhooks;

/// <summary>Subscribe a URL to event types (exact, <c>family.*</c> or <c>*</c>); only events the organisation may see are sent.</summary>
[ContractName("WebhookSubscriptionDraft")]
public sealed record CreateWebhookSubscriptionCommand(string Url, IReadOnlyList<string> EventTypes, string? Description)
    : ICommand<WebhookSubscriptionDto>;

public sealed class CreateWebhookSubscriptionValidator : AbstractValidator<CreateWebhookSubscriptionCommand>
{
    public const int MaxUrlLength = 2000;
    public const int MaxEventTypes = 20;

    public CreateWebhookSubscriptionValidator()
    {
        RuleFor(c => c.Url).NotEmpty().MaximumLength(MaxUrlLength)
            .Must(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)
                && string.IsNullOrEmpty(uri.UserInfo) && string.IsNullOrEmpty(uri.Fragment))
            .WithMessage("An absolute https URL, without user information or fragment.");
        RuleFor(c => c.EventTypes).NotEmpty().Must(t => t.Count <= MaxEventTypes).WithMessage($"At most {MaxEventTypes} event types.");
        RuleForEach(c => c.EventTypes).NotEmpty().MaximumLength(100).Matches(EventTypes.Pattern)
            .WithMessage("An event type (convention.signed), a family (referral.*) or *.");
        RuleFor(c => c.Description).MaximumLength(500);
    }
}

public sealed class CreateWebhookSubscriptionHandler(Db db, Caller caller, UrlGuard guard, TimeProvider clock, Platform.Security.DataKeys keys)
    : ICommandHandler<CreateWebhookSubscriptionCommand, WebhookSubscriptionDto>
{
    public async ValueTask<WebhookSubscriptionDto> Handle(CreateWebhookSubscriptionCommand command, CancellationToken ct)
    {
        var organisationId = WebhookSubscriptionStore.OwnOrganisation(caller);
        await guard.CheckAsync(command.Url, ct);
        var id = Guid.CreateVersion7();
        var secret = WebhookSigner.NewSecret();
        var now = clock.GetUtcNow();
        // Stored sealed with the platform's data key: a copy of the database signs nothing.
        var stored = await keys.SealPlatformAsync(secret, WebhookSigner.SecretContext(id), ct);
        return await db.InTransactionAsync(async (c, tx, t) =>
        {
            await c.ExecuteAsync(db.Command(InsertSql, new
            {
                id, organisationId, url = command.Url, eventTypes = string.Join(' ', command.EventTypes.Distinct()),
                description = command.Description, secret = stored, now,
            }, t, tx));
            return await WebhookSubscriptionStore.LoadAsync(db, c, tx, id, caller, t) with { Secret = secret };
        }, ct);
    }

    private const string InsertSql = """
        INSERT INTO webhook_subscription (id, organisation_id, url, event_types, description, secret, status, version, created_at, updated_at)
        VALUES (@id, @organisationId, @url, @eventTypes, @description, @secret, 'ACTIVE', 1, @now, @now)
        """;
}
