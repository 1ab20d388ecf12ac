using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using CoordinationHub.Platform.Errors;

namespace CoordinationHub.Platform.Http;

/// <summary>
/// Caps request bodies (413 beyond). Kestrel enforces its own limit; this also covers hosts
/// that do not (the test server), and bodies sent without Content-Length.
/// </summary>
public sealed class RequestLimits(RequestDelegate next, IConfiguration configuration)
{
    /// <summary>The longest request target (path and query), as Kestrel's default request line.</summary>
    public const int MaxTargetLength = 8192;
    /// <summary>The most header bytes (names and values), as Kestrel's default.</summary>
    public const int MaxHeaderBytes = 32768;

    private readonly long maxBytes = configuration.GetValue<long?>("Http:MaxRequestBodyBytes") ?? 1_048_576;

    public Task InvokeAsync(HttpContext http)
    {
        var target = http.Request.Path.ToUriComponent().Length + (http.Request.QueryString.Value?.Length ?? 0);
        if (target > MaxTargetLength)
            throw new LimitException(414, "uri-too-long", "The request target is too long",
                $"The path and query are {target} characters; the limit is {MaxTargetLength}.");
        var headerBytes = http.Request.Headers.Sum(h => h.Key.Length + 4 + h.Value.Sum(v => v?.Length ?? 0));
        if (headerBytes > MaxHeaderBytes)
            throw new LimitException(431, "headers-too-large", "The request headers are too large",
                $"The headers are {headerBytes} bytes; the limit is {MaxHeaderBytes}.");
        var limit = http.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize ?? maxBytes;
        if (http.Request.ContentLength > limit)
            throw new BadHttpRequestException($"The request body is {http.Request.ContentLength} bytes; the limit is {limit}.", StatusCodes.Status413PayloadTooLarge);
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature) feature.MaxRequestBodySize = limit;
        http.Request.Body = new LimitedStream(http.Request.Body, limit);
        return next(http);
    }

    private sealed class LimitedStream(Stream inner, long limit) : Stream
    {
        private long read;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => Count(await inner.ReadAsync(buffer, ct));
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int n)
        {
            read += n;
            if (read > limit) throw new BadHttpRequestException($"The request body exceeds the limit of {limit} bytes.", StatusCodes.Status413PayloadTooLarge);
            return n;
        }
    }
}
