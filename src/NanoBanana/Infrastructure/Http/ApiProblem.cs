namespace NanoBanana.Infrastructure.Http;

/// <summary>
/// A decision to answer with problem details: thrown by a handler (or its middleware) when the
/// request cannot be honoured, turned into the one error shape of the API by <see cref="ProblemHandling"/>.
/// </summary>
public sealed class ApiProblem(int status, string code, string detail, IDictionary<string, string[]>? errors = null)
    : Exception(detail)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
    public string Detail { get; } = detail;
    public IDictionary<string, string[]>? Errors { get; } = errors;
    public TimeSpan? RetryAfter { get; init; }
    /// <summary>
    /// A 503 by design (load shed, e.g. too many password checks at once): an answer, not a fault, so it is
    /// logged as a warning. A flood of them must not fill the error log.
    /// </summary>
    public bool IsLoadShed { get; init; }

    /// <summary>Set on the request (<c>HttpContext.Items</c>) whose answer was a load shed: its request line is not an error.</summary>
    public const string LoadShedItem = "nb.load-shed";

    /// <summary>A sentence for the seed client's <c>error</c> member; the status's reason phrase when null.</summary>
    public string? Title { get; init; }

    public static ApiProblem NotFound(string what = "resource") =>
        new(StatusCodes.Status404NotFound, "not_found", $"The {what} was not found.");

    public static ApiProblem Validation(string field, string message) =>
        new(StatusCodes.Status400BadRequest, "validation_failed", message,
            new Dictionary<string, string[]> { [field] = [message] });

    public static ApiProblem Validation(IDictionary<string, string[]> errors) =>
        new(StatusCodes.Status400BadRequest, "validation_failed",
            errors.Values.SelectMany(v => v).FirstOrDefault() ?? "The request is not valid.", errors);

    public static ApiProblem Conflict(string code, string detail) => new(StatusCodes.Status409Conflict, code, detail);

    public static ApiProblem Unauthorized(string code, string detail) => new(StatusCodes.Status401Unauthorized, code, detail);

    public static ApiProblem RateLimited(TimeSpan retryAfter) =>
        new(StatusCodes.Status429TooManyRequests, "rate_limited",
            $"Too many attempts. Try again in {Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))} seconds.")
        { RetryAfter = retryAfter };
}
