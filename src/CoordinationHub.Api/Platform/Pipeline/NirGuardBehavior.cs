using CoordinationHub.Platform.Security;
using Mediator;

namespace CoordinationHub.Platform.Pipeline;

/// <summary>
/// Every command's body is walked by the NIR guard after validation, whatever the use case: a new command cannot
/// forget it. Queries take only ids and the query string, which <see cref="NirGuard.Middleware"/> has checked.
/// </summary>
public sealed class NirGuardBehavior<TMessage, TResponse> : IPipelineBehavior<TMessage, TResponse>
    where TMessage : notnull, IMessage
{
    public ValueTask<TResponse> Handle(TMessage message, MessageHandlerDelegate<TMessage, TResponse> next, CancellationToken ct)
    {
        if (message is IBaseCommand) NirGuard.Refuse(message);
        return next(message, ct);
    }
}
