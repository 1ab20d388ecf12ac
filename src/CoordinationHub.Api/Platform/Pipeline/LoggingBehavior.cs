using System.Diagnostics;
using CoordinationHub.Platform.Errors;
using Mediator;

namespace CoordinationHub.Platform.Pipeline;

/// <summary>One log line per use case: its name, outcome and duration. Never the payload (it may hold personal data).</summary>
public sealed class LoggingBehavior<TMessage, TResponse>(ILogger<LoggingBehavior<TMessage, TResponse>> logger)
    : IPipelineBehavior<TMessage, TResponse> where TMessage : notnull, IMessage
{
    public async ValueTask<TResponse> Handle(TMessage message, MessageHandlerDelegate<TMessage, TResponse> next, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await next(message, ct);
            if (logger.IsEnabled(LogLevel.Debug))
                logger.LogDebug("{UseCase} succeeded in {Elapsed:0.0} ms", typeof(TMessage).Name, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return response;
        }
        catch (ProblemException p)
        {
            logger.LogInformation("{UseCase} refused: {Status} {Code}", typeof(TMessage).Name, p.Status, p.Code);
            throw;
        }
        catch (FluentValidation.ValidationException)
        {
            logger.LogInformation("{UseCase} refused: invalid request", typeof(TMessage).Name);
            throw;
        }
    }
}
