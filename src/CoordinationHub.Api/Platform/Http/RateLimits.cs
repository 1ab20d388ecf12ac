using System.Globalization;
using System.Threading.RateLimiting;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Errors;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace CoordinationHub.Platform.Http;

/// <summary>One token bucket: <c>TokenLimit</c> requests at once, refilled by <c>TokensPerPeriod</c> every <c>PeriodSeconds</c>.</summary>
public sealed class BucketOptions
{
    public int TokenLimit { get; set; } = 100;
    public int TokensPerPeriod { get; set; } = 10;
    public int PeriodSeconds { get; set; } = 1;

    /// <summary>Seconds an empty bucket takes to fill again (the draft's window).</summary>
    public int Window => (int)Math.Ceiling((double)TokenLimit / TokensPerPeriod * PeriodSeconds);
}

/// <summary>Section <c>RateLimiting</c>: a bucket per API key; the platform administrator's is larger.</summary>
public sealed class RateLimitOptions
{
    public BucketOptions PerKey { get; set; } = new();
    public BucketOptions PlatformAdmin { get; set; } = new() { TokenLimit = 1000, TokensPerPeriod = 100 };
}

/// <summary>
/// Rate limiting per API key with ASP.NET Core's limiter (requests without a valid key share a bucket per
/// client address). Every answer carries RateLimit-Policy and RateLimit (IETF httpapi draft); a refusal is a
/// 429 problem with Retry-After.
/// </summary>
public static class RateLimits
{
    public const string Policy = "per-key";

    public static IServiceCollection AddRateLimits(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<RateLimitOptions>(configuration.GetSection("RateLimiting"));
        services.AddRateLimiter(o => { }); // the limiter itself is built from the options below
        services.AddSingleton<IConfigureOptions<RateLimiterOptions>, ConfigureLimiter>();
        return services;
    }

    public static void UseRateLimitHeaders(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<IOptions<RateLimiterOptions>>().Value;
        var buckets = app.ApplicationServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
        app.Use((http, next) =>
        {
            // Read at the start of the answer, once authentication has said who called.
            http.Response.OnStarting(() =>
            {
                var bucket = Bucket(http, buckets);
                var left = options.GlobalLimiter?.GetStatistics(http)?.CurrentAvailablePermits ?? bucket.TokenLimit;
                Write(http.Response.Headers, bucket, left);
                return Task.CompletedTask;
            });
            return next(http);
        });
    }

    private static void Write(IHeaderDictionary headers, BucketOptions bucket, long left)
    {
        headers["RateLimit-Policy"] = $"\"{Policy}\";q={bucket.TokenLimit};w={bucket.Window}";
        headers["RateLimit"] = string.Create(CultureInfo.InvariantCulture,
            $"\"{Policy}\";r={Math.Max(0, left)};t={(left >= bucket.TokenLimit ? 0 : bucket.PeriodSeconds)}");
    }

    private static bool IsAdmin(HttpContext http) => http.User.HasClaim("scope", Scopes.PlatformAdmin);

    private static BucketOptions Bucket(HttpContext http, RateLimitOptions options) => IsAdmin(http) ? options.PlatformAdmin : options.PerKey;

    private sealed class ConfigureLimiter(IOptions<RateLimitOptions> settings) : IConfigureOptions<RateLimiterOptions>
    {
        public void Configure(RateLimiterOptions o)
        {
            var buckets = settings.Value;
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                var key = http.User.FindFirst("key_id")?.Value;
                var bucket = Bucket(http, buckets);
                var partition = key is null ? "ip:" + http.Connection.RemoteIpAddress : (IsAdmin(http) ? "admin:" : "key:") + key;
                return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = bucket.TokenLimit,
                    TokensPerPeriod = bucket.TokensPerPeriod,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(bucket.PeriodSeconds),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (context, ct) =>
            {
                var bucket = Bucket(context.HttpContext, buckets);
                Telemetry.RateLimitRefusals.Add(1, new KeyValuePair<string, object?>("bucket", IsAdmin(context.HttpContext) ? "platform-admin" : "per-key"));
                var wait = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
                    ? (int)Math.Ceiling(retryAfter.TotalSeconds)
                    : bucket.PeriodSeconds;
                context.HttpContext.Response.Headers.RetryAfter = Math.Max(1, wait).ToString(CultureInfo.InvariantCulture);
                await TypedResults.Problem(
                    $"This API key has used its {bucket.TokenLimit} requests; retry in {Math.Max(1, wait)} seconds.",
                    statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                    type: ProblemExceptionHandler.TypeBase + "rate-limited").ExecuteAsync(context.HttpContext);
            };
        }
    }
}

/// <summary>
/// CORS: CoordinationHub is called server to server; browsers are let in only from the origins listed in
/// <c>Cors:AllowedOrigins</c>. Without the list no CORS header is ever sent.
/// </summary>
public static class CorsAllowlist
{
    public static IServiceCollection AddCorsAllowlist(this IServiceCollection services)
    {
        services.AddCors();
        // Read when first used, so that every configuration source (tests included) is in.
        services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>().Configure<IConfiguration>((o, configuration) =>
        {
            var origins = configuration.GetSection("Cors:AllowedOrigins").Get<string[]>() ?? [];
            o.AddDefaultPolicy(p => p.WithOrigins(origins).AllowAnyHeader().AllowAnyMethod()
                .WithExposedHeaders("ETag", "Location", "RateLimit", "RateLimit-Policy", "Retry-After"));
        });
        return services;
    }
}
