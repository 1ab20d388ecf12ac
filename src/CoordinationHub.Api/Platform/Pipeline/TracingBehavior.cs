using System.Diagnostics;
using CoordinationHub.Platform.Errors;
using Mediator;

namespace CoordinationHub.Platform.Pipeline;

/// <summary>
/// A span per use case, named after it, under the request's span and above its SQL. Tags: the use case and, when
/// refused, the problem's status and code; never the message (it may hold personal data).
/// </summary>
public sealed class TracingBehavior<TMessage, TResponse> : IPipelineBehavior<TMessage, TResponse> where TMessage : notnull, IMessage
{
    private static readonly string UseCase = typeof(TMessage).Name.Replace("Command", "").Replace("Query", "");

    public async ValueTask<TResponse> Handle(TMessage message, MessageHandlerDelegate<TMessage, TResponse> next, CancellationToken ct)
    {
        // Under a request that is not sampled, no span (the sampler would drop it): not even the object.
        if (Activity.Current is { Recorded: false }) return await next(message, ct);
        using var activity = Telemetry.Source.StartActivity(UseCase);
        if (activity is null) return await next(message, ct);
        activity.SetTag("coordinationhub.use_case", UseCase);
        try
        {
            return await next(message, ct);
        }
        catch (ProblemException p)
        {
            activity.SetTag("coordinationhub.problem", p.Code);
            activity.SetTag("coordinationhub.problem.status", p.Status);
            if (p.Status >= 500) activity.SetStatus(ActivityStatusCode.Error);
            throw;
        }
        catch (FluentValidation.ValidationException)
        {
            activity.SetTag("coordinationhub.problem", "validation");
            throw;
        }
        catch (Exception e)
        {
            // The exception's type only: its message may quote a value.
            activity.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            throw;
        }
    }
}
