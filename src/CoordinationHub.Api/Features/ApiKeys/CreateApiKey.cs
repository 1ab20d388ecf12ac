using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.ApiKeys;

/// <param name="OrganisationId">Whose key: the caller's organisation when omitted; another one only for the platform
/// administrator (who must name it).</param>
[ContractName("ApiKeyDraft")]
public sealed record CreateApiKeyCommand(string Label, IReadOnlyList<string> Scopes, DateTimeOffset? ExpiresAt, Guid? OrganisationId)
    : ICommand<ApiKeySecretDto>;

public sealed class CreateApiKeyValidator : AbstractValidator<CreateApiKeyCommand>
{
    public const int MaxLabel = 200;

    public CreateApiKeyValidator()
    {
        RuleFor(c => c.Label).NotEmpty().MaximumLength(MaxLabel);
        RuleFor(c => c.Scopes).NotEmpty().Must(s => s.Count <= 20).WithMessage("At most 20 scopes.");
        RuleForEach(c => c.Scopes).NotEmpty().MaximumLength(50);
    }
}

public sealed class CreateApiKeyHandler(Db db, Caller caller, ChangeLog changes, ApiKeyStore store, TimeProvider clock)
    : ICommandHandler<CreateApiKeyCommand, ApiKeySecretDto>
{
    public async ValueTask<ApiKeySecretDto> Handle(CreateApiKeyCommand command, CancellationToken ct)
    {
        var organisationId = command.OrganisationId ?? caller.OrganisationId
            ?? throw new RuleException("api-keys.organisation-required", "Name the organisation whose key this is (organisationId).");
        if (!caller.IsPlatformAdmin && !caller.Is(organisationId))
            throw new ForbiddenException("A key manages the keys of its own organisation only.");
        var scopes = ApiKeyRules.Grantable(caller, command.Scopes);
        var now = clock.GetUtcNow();
        ApiKeyRules.CheckExpiry(command.ExpiresAt, now);
        var (id, key) = ApiKeyStore.NewKey();
        var created = await db.InTransactionAsync(async (c, tx, t) =>
        {
            if (await c.ExecuteScalarAsync<int>(db.Command(OrganisationSql, new { organisationId }, t, tx)) == 0)
                throw new RuleException("api-keys.unknown-organisation", $"No organisation {organisationId} in the directory.");
            await c.ExecuteAsync(db.Command(InsertSql, new
            {
                id, organisationId, name = command.Label.Trim(), prefix = key[..12], keyHash = ApiKeyStore.Hash(key),
                scopes = ApiKeyStore.ScopeList(scopes), now, expiresAt = command.ExpiresAt, no = false,
            }, t, tx));
            var row = await ApiKeyRules.LoadAsync(db, c, tx, id, caller, t);
            await changes.RecordAsync(c, tx, "api_key", id, "api-key.created", null, row.Audited(), t);
            return row.ToDto();
        }, ct);
        store.Changed();
        return new ApiKeySecretDto { ApiKey = created, Key = key };
    }

    private const string OrganisationSql = "SELECT COUNT(*) FROM organisation WHERE id = @organisationId";
    private const string InsertSql = """
        INSERT INTO api_key (id, organisation_id, name, prefix, key_hash, scopes, is_platform_admin, created_at, expires_at, version)
        VALUES (@id, @organisationId, @name, @prefix, @keyHash, @scopes, @no, @now, @expiresAt, 0)
        """;
}
