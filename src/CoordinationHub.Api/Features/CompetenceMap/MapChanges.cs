using System.Data.Common;
using Mediator;

namespace CoordinationHub.Features.CompetenceMap;

/// <summary>
/// The map generation that the request's transaction wrote (set by <see cref="CompetenceMapWriter"/>),
/// and the generation its answer was read at. Scoped to the request.
/// </summary>
public sealed class MapChanges
{
    private int seq;

    public DbTransaction? Transaction { get; private set; }
    /// <summary>The generation of the transaction that last changed the map in this request.</summary>
    public long? Generation { get; private set; }
    /// <summary>The generation this request wrote, once committed and applied here.</summary>
    public long? Written { get; set; }
    /// <summary>The generation of the snapshot a lookup answered from.</summary>
    public long? ReadAt { get; set; }
    /// <summary>The oldest generation the client accepts (header <c>Map-Min-Generation</c>).</summary>
    public long MinGeneration { get; set; }

    /// <summary>A transaction took <paramref name="generation"/>; a retried transaction takes a new one.</summary>
    public void Begin(DbTransaction tx, long generation) => (Transaction, Generation, seq) = (tx, generation, 0);

    public int NextSeq() => ++seq;

    /// <summary>The transaction that took the generation was rolled back on purpose (a dry run): nothing to apply.</summary>
    public void Discard() => (Transaction, Generation) = (null, null);

    public const string Header = "Map-Generation";
    public const string MinHeader = "Map-Min-Generation";
}

/// <summary>
/// After a handler that changed the map has committed (it has returned), this process applies the
/// change before the answer leaves: whoever was told 2xx reads a map that includes it. Readers
/// meanwhile keep answering from the snapshot they had; only this request waits.
/// </summary>
public sealed class MapRefreshBehavior<TMessage, TResponse>(MapChanges changes, CompetenceMapCache cache)
    : IPipelineBehavior<TMessage, TResponse> where TMessage : notnull, IMessage
{
    public async ValueTask<TResponse> Handle(TMessage message, MessageHandlerDelegate<TMessage, TResponse> next, CancellationToken ct)
    {
        var response = await next(message, ct);
        if (changes.Generation is { } generation)
        {
            // Committed: applied here even if the client has gone, so later readers see it at once.
            await cache.IncludeAsync(generation);
            changes.Written = generation;
        }
        return response;
    }
}

/// <summary>
/// Sends <c>Map-Generation</c> on answers that wrote or read the map, and takes the client's
/// <c>Map-Min-Generation</c>: behind a load balancer, a client that wrote through one instance
/// reads its write through any other by sending the generation it was given.
/// </summary>
public sealed class MapConsistency(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext http, MapChanges changes)
    {
        if (http.Request.Headers.TryGetValue(MapChanges.MinHeader, out var min))
        {
            if (!long.TryParse(min, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var g))
                throw new Platform.Errors.BadRequestException("map-min-generation",
                    $"{MapChanges.MinHeader} is a generation number, as sent in a {MapChanges.Header} header.");
            changes.MinGeneration = g;
        }
        http.Response.OnStarting(() =>
        {
            if ((changes.Written, changes.ReadAt) is var (w, r) && (w ?? r) is not null)
                http.Response.Headers[MapChanges.Header] = Math.Max(w ?? 0, r ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        });
        return next(http);
    }
}
