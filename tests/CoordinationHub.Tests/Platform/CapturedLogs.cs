using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace CoordinationHub.Tests.Platform;

/// <summary>Every log record a host writes, with its structured fields, scopes and exception, for tests to read.</summary>
public sealed class CapturedLogs : ILoggerProvider, ISupportExternalScope
{
    public sealed record Entry(string Category, LogLevel Level, string Message, IReadOnlyList<KeyValuePair<string, object?>> Fields,
        IReadOnlyList<object?> Scopes, Exception? Exception)
    {
        /// <summary>Every string the record carries: message, field values, scopes, exception text.</summary>
        public IEnumerable<string> Strings()
        {
            yield return Category;
            yield return Message;
            foreach (var (k, v) in Fields) { yield return k; yield return v?.ToString() ?? ""; }
            foreach (var s in Scopes)
            {
                if (s is IEnumerable<KeyValuePair<string, object?>> kvs)
                    foreach (var (k, v) in kvs) { yield return k; yield return v?.ToString() ?? ""; }
                yield return s?.ToString() ?? "";
            }
            if (Exception is not null) yield return Exception.ToString();
        }
    }

    private IExternalScopeProvider scopes = new LoggerExternalScopeProvider();
    public ConcurrentQueue<Entry> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);
    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => scopes = scopeProvider;
    public void Dispose() { }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner.scopes.Push(state);
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
            var scopeList = new List<object?>();
            owner.scopes.ForEachScope((s, list) => list.Add(s), scopeList);
            owner.Entries.Enqueue(new Entry(category, logLevel, formatter(state, exception), [.. fields], scopeList, exception));
        }
    }
}
