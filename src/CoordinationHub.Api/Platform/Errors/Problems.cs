namespace CoordinationHub.Platform.Errors;

/// <summary>
/// What a handler throws when a request cannot be served. Each kind becomes one HTTP status;
/// <see cref="Code"/> becomes the ProblemDetails <c>type</c>, stable for clients to switch on.
/// </summary>
public abstract class ProblemException(int status, string code, string title, string detail) : Exception(detail)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
    public string Title { get; } = title;
    /// <summary>The resource the request collided with, when there is one (e.g. /v1/delegations/…).</summary>
    public string? ConflictingResource { get; init; }
    public IDictionary<string, object?> Extensions { get; } = new Dictionary<string, object?>();
}

public sealed class BadRequestException(string code, string detail)
    : ProblemException(400, code, "The request is malformed", detail);

public sealed class NotFoundException(string resource, object id)
    : ProblemException(404, "not-found", "Resource not found", $"No {resource} with id '{id}' is visible to you.");

public sealed class ForbiddenException(string detail)
    : ProblemException(403, "forbidden", "Not allowed", detail);

public sealed class ConflictException(string code, string detail)
    : ProblemException(409, code, "Conflict with the current state", detail);

/// <summary>A business rule refuses the request (422): the request is well-formed but breaks a rule of the domain.</summary>
public sealed class RuleException(string code, string detail)
    : ProblemException(422, code, "A business rule refuses the request", detail);

public sealed class UnsupportedMediaTypeException(string detail)
    : ProblemException(415, "unsupported-media-type", "Unsupported content type", detail);

public sealed class PreconditionFailedException(string detail)
    : ProblemException(412, "precondition-failed", "The resource has changed", detail);

public sealed class PreconditionRequiredException(string detail)
    : ProblemException(428, "precondition-required", "If-Match is required", detail);

/// <summary>A limit of the request itself (its target, its headers) beyond which it is not read.</summary>
public sealed class LimitException(int status, string code, string title, string detail)
    : ProblemException(status, code, title, detail);
