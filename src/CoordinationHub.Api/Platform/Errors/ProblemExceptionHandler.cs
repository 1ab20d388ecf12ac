using System.Text.Json;
using CoordinationHub.Platform.Data;
using FluentValidation;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace CoordinationHub.Platform.Errors;

/// <summary>
/// The one place where exceptions become RFC 9457 problem details. Messages of our own kinds
/// are written for clients; anything unexpected answers 500 with the trace id only.
/// </summary>
public sealed class ProblemExceptionHandler(IProblemDetailsService problems, Db db, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public const string TypeBase = "https://coordinationhub.fr/problems/";

    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        var problem = Map(exception, http);
        // While the database is unreachable every request fails alike: the outage is logged once (Db.Outage), each refusal counted.
        if (problem.Status == 503 && db.Outage.Observe(exception)) db.Outage.Refused();
        else if (problem.Status >= 500) logger.LogError(exception, "Unhandled error on {Method} {Path}", http.Request.Method, RouteOf(http));
        http.Response.StatusCode = problem.Status!.Value;
        if (problem.Status == 503) http.Response.Headers.RetryAfter = "5";
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>The route template (/v1/referrals/{id}), not the path: no query string, nothing a caller typed.</summary>
    private static string RouteOf(HttpContext http) =>
        (http.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? http.GetEndpoint()) is RouteEndpoint { RoutePattern.RawText: { } route }
            ? route : http.Request.Path.Value ?? "";

    private ProblemDetails Map(Exception exception, HttpContext http)
    {
        switch (exception)
        {
            case ValidationException v:
                var errors = v.Errors
                    .GroupBy(e => ToCamel(e.PropertyName))
                    .ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).Distinct().ToArray());
                return new ValidationProblemDetails(errors)
                {
                    Status = 400, Type = TypeBase + "validation", Title = "The request is invalid",
                    Detail = "One or more fields are invalid; see errors.",
                };
            case ProblemException p:
                var pd = new ProblemDetails { Status = p.Status, Type = TypeBase + p.Code, Title = p.Title, Detail = p.Message };
                if (p.ConflictingResource is not null) pd.Extensions["conflictingResource"] = p.ConflictingResource;
                foreach (var (k, val) in p.Extensions) pd.Extensions[k] = val;
                return pd;
            case BadHttpRequestException b:
                return BadRequest(b, http);
            case JsonException j:
                return new ProblemDetails { Status = 400, Type = TypeBase + "malformed-json", Title = "The request body is not valid JSON", Detail = j.Message };
            case OperationCanceledException when http.RequestAborted.IsCancellationRequested:
                return new ProblemDetails { Status = 499, Type = TypeBase + "cancelled", Title = "The client closed the request" };
            case var e when db.Dialect.IsUnavailable(e) || db.Dialect.IsTransient(e) || e is TimeoutException:
                return new ProblemDetails { Status = 503, Type = TypeBase + "unavailable", Title = "The database is unavailable", Detail = "Try again in a few seconds." };
            default:
                return new ProblemDetails { Status = 500, Type = TypeBase + "internal", Title = "An unexpected error occurred", Detail = "The error was logged with the trace id below." };
        }
    }

    private static ProblemDetails BadRequest(BadHttpRequestException b, HttpContext http)
    {
        // Binding failures: the innermost JsonException names the path and the value that failed.
        var json = b.InnerException as JsonException ?? b.InnerException?.InnerException as JsonException;
        return b.StatusCode switch
        {
            413 => new ProblemDetails { Status = 413, Type = TypeBase + "payload-too-large", Title = "The request body is too large", Detail = b.Message },
            415 => new ProblemDetails { Status = 415, Type = TypeBase + "unsupported-media-type", Title = "Unsupported content type", Detail = Unsupported(http) },
            _ when json is { Message: Http.FreeText.Message, Path: { } at } => new ValidationProblemDetails(
                new Dictionary<string, string[]> { [at.TrimStart('$', '.')] = [json.Message] })
            {
                Status = 400, Type = TypeBase + "validation", Title = "The request is invalid", Detail = "One or more fields are invalid; see errors.",
            },
            _ when json is not null => new ProblemDetails { Status = 400, Type = TypeBase + "malformed-json", Title = "The request body could not be read", Detail = Clean(json, http) },
            _ when Binding(b.Message) is { } field => new ValidationProblemDetails(new Dictionary<string, string[]> { [field.Name] = [field.Message] })
            {
                Status = 400, Type = TypeBase + "validation", Title = "The request is invalid", Detail = "One or more fields are invalid; see errors.",
            },
            _ => new ProblemDetails { Status = b.StatusCode, Type = TypeBase + "bad-request", Title = "The request is malformed", Detail = b.Message },
        };
    }

    /// <summary>What the route accepts (a push takes NDJSON, JSON and CSV), not only JSON.</summary>
    public static string Unsupported(HttpContext http)
    {
        // Routing answers 415 itself when no endpoint of the route accepts the type: the route's endpoints say what they accept.
        var accepted = http.RequestServices.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Contains(http.Request.Method) != false
                && Matches(e, http.Request.Path))
            .SelectMany(e => e.Metadata.GetOrderedMetadata<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>())
            .SelectMany(m => m.ContentTypes).Distinct().ToList();
        var types = accepted is { Count: > 0 } ? string.Join(", ", accepted) : "application/json";
        var charsets = accepted.Contains("text/csv") ? " (charset utf-8, iso-8859-1 or windows-1252; gzip with Content-Encoding: gzip)" : "";
        return $"Content-Type '{http.Request.ContentType}' is not accepted here. Accepted: {types}{charsets}.";
    }

    private static bool Matches(RouteEndpoint endpoint, PathString path)
    {
        try
        {
            return new Microsoft.AspNetCore.Routing.Template.TemplateMatcher(
                Microsoft.AspNetCore.Routing.Template.TemplateParser.Parse(endpoint.RoutePattern.RawText ?? ""), []).TryMatch(path, []);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string Clean(JsonException j, HttpContext http)
    {
        var message = j.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        var head = cut > 0 ? message[..cut] : message;
        // An enum value out of range: name the allowed values. Never show CLR type names.
        var endpoint = http.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>()?.Endpoint ?? http.GetEndpoint();
        var bodyType = endpoint?.Metadata.GetMetadata<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>()?.RequestType;
        if (j.Path is not null && TypeAt(bodyType, j.Path) is { IsEnum: true } enumType)
            return $"{j.Path} must be one of: {string.Join(", ", Enum.GetNames(enumType))}.";
        head = TypeName.Replace(head, "the expected type");
        return j.Path is null ? head : $"{head} (at {j.Path})";
    }

    private static readonly System.Text.RegularExpressions.Regex BindFailure =
        new(@"^Failed to bind parameter ""(?<type>.+) (?<name>\w+)"" from ""(?<value>.*)""\.$");
    private static readonly System.Text.RegularExpressions.Regex Missing =
        new(@"^Required parameter ""(?<type>.+) (?<name>\w+)"" was not provided");

    /// <summary>A query, route or header value the binder refused, said without .NET's type names.</summary>
    private static (string Name, string Message)? Binding(string message)
    {
        if (Missing.Match(message) is { Success: true } missing)
            return (missing.Groups["name"].Value, $"{missing.Groups["name"].Value} is required.");
        if (BindFailure.Match(message) is not { Success: true } m) return null;
        var type = m.Groups["type"].Value.Replace("Nullable<", "").TrimEnd('>');
        var expected = type switch
        {
            "int" or "Int32" or "long" or "Int64" => "an integer",
            "bool" or "Boolean" => "true or false",
            "DateOnly" => "a date (YYYY-MM-DD)",
            "DateTimeOffset" or "DateTime" => "an instant (ISO 8601 with offset)",
            "Guid" => "a UUID",
            "decimal" or "double" => "a number",
            _ => "a valid value",
        };
        var value = Http.FreeText.Clean(m.Groups["value"].Value);
        return (m.Groups["name"].Value, $"'{(value.Length > 40 ? value[..40] + "…" : value)}' is not {expected}.");
    }

    private static readonly System.Text.RegularExpressions.Regex TypeName = new(@"\b(CoordinationHub|System)(\.[A-Za-z0-9_`+\[\]]+)+");

    /// <summary>The CLR type at a JSON path such as <c>$.parties[0].role</c>, or null.</summary>
    private static Type? TypeAt(Type? type, string path)
    {
        foreach (var segment in path.TrimStart('$').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            if (type is null) return null;
            var name = segment.Split('[')[0];
            type = type.GetProperty(name, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase)?.PropertyType;
            if (type is not null && segment.Contains('['))
                type = type.IsArray ? type.GetElementType() : type.GetGenericArguments().FirstOrDefault();
        }
        return type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
    }

    private static string ToCamel(string name) =>
        string.Join('.', name.Split('.').Select(p => p.Length == 0 ? p : char.ToLowerInvariant(p[0]) + p[1..]));
}
