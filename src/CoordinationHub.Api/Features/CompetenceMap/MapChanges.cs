using Mediator;

namespace CoordinationHub.Features.CompetenceMap;

/// <summary>
/// Set by a handler whose transaction changes what the competence map answers (delegations,
/// conventions, holders by law). The cache is marked stale only once the handler has returned,
/// that is after its commit, so that a reload can never read the state from before the change.
/// </summary>
public sealed class MapChanges
{
    public bool Changed { get; private set; }
    public void Mark() => Changed = true;
}

public sealed class MapRefreshBehavior<TMessage, TResponse>(MapChanges changes, CompetenceMapCache cache)
    : IPipelineBehavior<TMessage, TResponse> where TMessage : notnull, IMessage
{
    public async ValueTask<TResponse> Handle(TMessage message, MessageHandlerDelegate<TMessage, TResponse> next, CancellationToken ct)
    {
        var response = await next(message, ct);
        if (changes.Changed) cache.MarkStale();
        return response;
    }
}
