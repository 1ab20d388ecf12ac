using System.Reflection;
using FluentValidation;
using FluentValidation.Results;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Primitives;

namespace CoordinationHub.Platform.Http;

/// <summary>
/// Enumerated query values are read case-insensitively (<c>mode=upsert</c> is <c>UPSERT</c>); an unknown one is a 400
/// validation problem naming the parameter and listing the allowed values, before the binder can answer with a .NET
/// type name. Numbers are refused: the contract's enums are names. Every query value is free text at least
/// (<see cref="FreeText"/>): a control character is refused the same way.
/// </summary>
public sealed class QueryEnums(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext http)
    {
        foreach (var (key, values) in http.Request.Query)
            if (!FreeText.IsClean(key) || values.Any(v => !FreeText.IsClean(v)))
                throw new ValidationException([new ValidationFailure(FreeText.Clean(key), FreeText.Message)]);
        if (http.Request.QueryString.HasValue && http.GetEndpoint()?.Metadata.GetMetadata<MethodInfo>() is { } handler)
        {
            Dictionary<string, StringValues>? rewritten = null;
            foreach (var (name, names) in EnumParameters.GetOrAdd(handler, Find))
            {
                if (!http.Request.Query.TryGetValue(name, out var values)) continue;
                var canonical = new string?[values.Count];
                for (var i = 0; i < values.Count; i++)
                {
                    var value = values[i] ?? "";
                    canonical[i] = names.FirstOrDefault(n => string.Equals(n, value.Trim(), StringComparison.OrdinalIgnoreCase))
                        ?? throw new ValidationException([new ValidationFailure(name,
                            $"'{Cut(value)}' is not a value of {name}: one of {string.Join(", ", names)}.")]);
                }
                if (canonical.SequenceEqual(values.ToArray())) continue;
                rewritten ??= http.Request.Query.ToDictionary(q => q.Key, q => q.Value, StringComparer.OrdinalIgnoreCase);
                rewritten[name] = new StringValues(canonical);
            }
            if (rewritten is not null) http.Request.QueryString = QueryString.Create(rewritten);
        }
        return next(http);
    }

    /// <summary>The enum query parameters of each endpoint's handler (name, allowed values), found once.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<MethodInfo, (string Name, string[] Names)[]> EnumParameters = new();

    private static (string Name, string[] Names)[] Find(MethodInfo handler) =>
    [
        .. from parameter in handler.GetParameters()
           let type = Nullable.GetUnderlyingType(parameter.ParameterType) ?? parameter.ParameterType
           let query = parameter.GetCustomAttribute<FromQueryAttribute>()
           where type.IsEnum && query is not null
           select (query.Name ?? parameter.Name!, Enum.GetNames(type)),
    ];

    private static string Cut(string value) => value.Length > 40 ? value[..40] + "…" : value; // clean: checked above
}
