namespace CoordinationHub.Features.PersonalData;

/// <summary>
/// An answer that carries a person (or who read the person's data) is never cached, by a proxy, a browser or a
/// client library: <c>Cache-Control: no-store</c>, decided here once for every answer rather than per endpoint.
/// Personal are: everything under <see cref="Prefixes"/> (referrals, their thread, agents, dossier, person versions
/// and access log, the platform's access log), every operation marked <see cref="ServesPersonalData"/>, and any
/// answer for which a read of the person was logged (an idempotent replay included). The API keys too: a secret is
/// shown once, in an answer no cache may keep.
/// </summary>
public static class NoStore
{
    public static readonly string[] Prefixes = ["/v1/referrals", "/v1/access-log", "/v1/api-keys"];

    public static bool IsPersonalPath(string? path) =>
        path is not null && Prefixes.Any(p => path.StartsWith(p, StringComparison.OrdinalIgnoreCase)
            && (path.Length == p.Length || path[p.Length] is '/' or '?'));

    /// <summary>Marks the answer just before its headers leave, whichever middleware or handler wrote it.</summary>
    public static void Register(HttpContext http, AccessContext context) => http.Response.OnStarting(() =>
    {
        if (IsPersonalPath(http.Request.Path.Value) || context.Logged.Count > 0
            || http.GetEndpoint()?.Metadata.GetMetadata<ServesPersonalData>() is not null)
            http.Response.Headers.CacheControl = "no-store";
        return Task.CompletedTask;
    });
}
