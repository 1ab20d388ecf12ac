using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.ApiKeys;

/// <summary>What changes: the members sent (an expiry can be moved, not removed: revoke and create instead).</summary>
[ContractName("ApiKeyChange")]
public sealed record ApiKeyChange(string? Label, IReadOnlyList<string>? Scopes, DateTimeOffset? ExpiresAt);

/// <summary>Relabel, rescope or move the expiry of a key; every instance applies it within a second.</summary>
public sealed record ChangeApiKeyCommand(Guid Id, int ExpectedVersion, ApiKeyChange Change) : ICommand<ApiKeyDto>;

public sealed class ChangeApiKeyValidator : AbstractValidator<ChangeApiKeyCommand>
{
    public ChangeApiKeyValidator()
    {
        RuleFor(c => c.Change.Label).NotEmpty().MaximumLength(CreateApiKeyValidator.MaxLabel).When(c => c.Change.Label is not null)
            .WithName("label");
        RuleFor(c => c.Change.Scopes!).NotEmpty().Must(s => s.Count <= 20).When(c => c.Change.Scopes is not null).WithName("scopes");
        RuleForEach(c => c.Change.Scopes).NotEmpty().MaximumLength(50).When(c => c.Change.Scopes is not null).WithName("scopes");
    }
}

public sealed class ChangeApiKeyHandler(Db db, Caller caller, ChangeLog changes, ApiKeyStore store, TimeProvider clock)
    : ICommandHandler<ChangeApiKeyCommand, ApiKeyDto>
{
    public async ValueTask<ApiKeyDto> Handle(ChangeApiKeyCommand command, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        ApiKeyRules.CheckExpiry(command.Change.ExpiresAt, now);
        var scopes = command.Change.Scopes is { } requested ? ApiKeyRules.Grantable(caller, requested) : null;
        var changed = await db.InTransactionAsync(async (c, tx, t) =>
        {
            var before = await ApiKeyRules.LoadAsync(db, c, tx, command.Id, caller, t);
            ApiKeyRules.CheckActive(before);
            if (before.Version != command.ExpectedVersion)
                throw new PreconditionFailedException($"The key is at version {before.Version}, not {command.ExpectedVersion}: read it again.");
            await c.ExecuteAsync(db.Command(ChangeSql, new
            {
                id = command.Id,
                name = command.Change.Label?.Trim() ?? before.Name,
                scopes = scopes is null ? before.Scopes : ApiKeyStore.ScopeList(scopes),
                expiresAt = command.Change.ExpiresAt ?? before.ExpiresAt,
                warnedAt = command.Change.ExpiresAt is null ? before.ExpiryWarnedAt : null,
            }, t, tx));
            var after = await ApiKeyRules.LoadAsync(db, c, tx, command.Id, caller, t);
            await changes.RecordAsync(c, tx, "api_key", command.Id, "api-key.changed", before.Audited(), after.Audited(), t);
            return after.ToDto();
        }, ct);
        store.Changed();
        return changed;
    }

    // A moved expiry is warned of again when its last days come.
    private const string ChangeSql = """
        UPDATE api_key
        SET name = @name, scopes = @scopes, expires_at = @expiresAt, expiry_warned_at = @warnedAt, version = version + 1
        WHERE id = @id
        """;
}

/// <summary>A new secret for the key, shown once; the old one stops working at once (within a second elsewhere).</summary>
public sealed record RotateApiKeyCommand(Guid Id) : ICommand<ApiKeySecretDto>;

public sealed class RotateApiKeyHandler(Db db, Caller caller, ChangeLog changes, ApiKeyStore store)
    : ICommandHandler<RotateApiKeyCommand, ApiKeySecretDto>
{
    public async ValueTask<ApiKeySecretDto> Handle(RotateApiKeyCommand command, CancellationToken ct)
    {
        var (_, key) = ApiKeyStore.NewKey();
        var rotated = await db.InTransactionAsync(async (c, tx, t) =>
        {
            var before = await ApiKeyRules.LoadAsync(db, c, tx, command.Id, caller, t);
            ApiKeyRules.CheckActive(before);
            await c.ExecuteAsync(db.Command(RotateSql, new { id = command.Id, prefix = key[..12], keyHash = ApiKeyStore.Hash(key) }, t, tx));
            var after = await ApiKeyRules.LoadAsync(db, c, tx, command.Id, caller, t);
            await changes.RecordAsync(c, tx, "api_key", command.Id, "api-key.rotated", before.Audited(), after.Audited(), t);
            return after.ToDto();
        }, ct);
        store.Changed();
        return new ApiKeySecretDto { ApiKey = rotated, Key = key };
    }

    private const string RotateSql =
        "UPDATE api_key SET prefix = @prefix, key_hash = @keyHash, version = version + 1 WHERE id = @id";
}

/// <summary>Revoke a key: refused by this instance at once, by every other within a second. It stays listed.</summary>
public sealed record RevokeApiKeyCommand(Guid Id) : ICommand<ApiKeyDto>;

public sealed class RevokeApiKeyHandler(Db db, Caller caller, ChangeLog changes, ApiKeyStore store, TimeProvider clock)
    : ICommandHandler<RevokeApiKeyCommand, ApiKeyDto>
{
    public async ValueTask<ApiKeyDto> Handle(RevokeApiKeyCommand command, CancellationToken ct)
    {
        var revoked = await db.InTransactionAsync(async (c, tx, t) =>
        {
            var before = await ApiKeyRules.LoadAsync(db, c, tx, command.Id, caller, t);
            if (before.RevokedAt is not null) return before.ToDto();
            await c.ExecuteAsync(db.Command(ApiKeyStore.RevokeSql, new { id = command.Id, now = clock.GetUtcNow() }, t, tx));
            var after = await ApiKeyRules.LoadAsync(db, c, tx, command.Id, caller, t);
            await changes.RecordAsync(c, tx, "api_key", command.Id, "api-key.revoked", before.Audited(), after.Audited(), t);
            return after.ToDto();
        }, ct);
        store.Changed();
        return revoked;
    }
}
