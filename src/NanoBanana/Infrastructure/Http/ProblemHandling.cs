using System.Diagnostics;
using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.AspNetCore.Mvc;
using NanoBanana.Infrastructure.Redis;

namespace NanoBanana.Infrastructure.Http;

/// <summary>
/// One shape for every error (RFC 9457 problem details, SPEC section 1): a stable <c>code</c>,
/// the seed client's <c>error</c> (= title) and <c>message</c> (= detail), a trace id, and
/// <c>errors</c> per field for validation. Framework answers (404 route, 405, 415, 401 challenge)
/// and exceptions all go through here.
/// </summary>
public static class ProblemHandling
{
    public static IServiceCollection AddProblemHandling(this IServiceCollection services)
    {
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx => Complete(ctx.ProblemDetails, ctx.HttpContext));
        services.AddExceptionHandler<ApiExceptionHandler>();
        return services;
    }

    public static string DefaultCode(int status) => status switch
    {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        429 => "rate_limited",
        503 => "service_unavailable",
        _ when status >= 500 => "internal_error",
        _ => "error",
    };

    static string DefaultDetail(int status) => status switch
    {
        400 => "The request could not be understood.",
        401 => "Sign in to continue: the access token is missing or not valid.",
        403 => "You are not allowed to do this.",
        404 => "Nothing was found at this address.",
        405 => "This method is not allowed on this address.",
        413 => "The request body is too large.",
        415 => "This content type is not supported here.",
        429 => "Too many requests. Slow down and try again shortly.",
        503 => "The service is temporarily unavailable. Try again shortly.",
        _ when status >= 500 => "Something went wrong on our side. It has been logged.",
        _ => "The request failed.",
    };

    static void Complete(ProblemDetails p, HttpContext http)
    {
        var status = p.Status ?? http.Response.StatusCode;
        p.Status = status;
        p.Title ??= ReasonPhrases.GetReasonPhrase(status);
        p.Detail ??= DefaultDetail(status);
        p.Type ??= $"https://httpstatuses.io/{status}";
        p.Instance ??= http.Request.Path;
        p.Extensions.TryAdd("code", DefaultCode(status));
        p.Extensions["error"] = p.Title;
        p.Extensions["message"] = p.Detail;
        p.Extensions["traceId"] = Activity.Current?.Id ?? http.TraceIdentifier;
    }

    /// <summary>Writes a problem-details answer from anywhere in the pipeline.</summary>
    public static Task Write(HttpContext http, int status, string code, string detail,
        IDictionary<string, string[]>? errors = null, TimeSpan? retryAfter = null, string? title = null)
    {
        http.Response.StatusCode = status;
        if (retryAfter is { } ra)
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(ra.TotalSeconds)).ToString();
        var problem = errors is null ? new ProblemDetails() : new HttpValidationProblemDetails(errors);
        problem.Status = status;
        problem.Detail = detail;
        problem.Extensions["code"] = code;
        problem.Title = title ?? (errors is null ? ReasonPhrases.GetReasonPhrase(status) : "Validation failed");
        var service = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        return service.WriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem }).AsTask();
    }

    sealed class ApiExceptionHandler(ILogger<ApiExceptionHandler> log) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
        {
            if (http.Response.HasStarted) return false;
            switch (Unwrap(exception))
            {
                case ApiProblem p:
                    if (p.IsLoadShed) http.Items[ApiProblem.LoadShedItem] = true;
                    await Write(http, p.Status, p.Code, p.Detail, p.Errors, p.RetryAfter, p.Title);
                    return true;
                case ValidationException v:
                    var errors = v.Errors
                        .GroupBy(e => Camel(e.PropertyName))
                        .ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).Distinct().ToArray());
                    await Write(http, 400, "validation_failed",
                        errors.Values.SelectMany(x => x).FirstOrDefault() ?? "The request is not valid.", errors);
                    return true;
                case BadHttpRequestException b:
                    await WriteBadRequest(http, b);
                    return true;
                case JsonException j:
                    await WriteJsonProblem(http, j);
                    return true;
                case var redis when RedisFailures.IsUnavailable(redis):
                    // Away, or back but still loading its data: the client may retry; a 500 would say it is our bug.
                    log.LogError(exception, "Redis unavailable while handling {Method} {Path}", http.Request.Method, http.Request.Path);
                    await Write(http, 503, "service_unavailable",
                        "The data store is not answering right now. Try again shortly.",
                        retryAfter: TimeSpan.FromSeconds(2));
                    return true;
                case OperationCanceledException when http.RequestAborted.IsCancellationRequested:
                    // The client went away: there is nobody to answer.
                    return true;
                default:
                    log.LogError(exception, "Unhandled exception on {Method} {Path}", http.Request.Method, http.Request.Path);
                    await Write(http, 500, "internal_error", "Something went wrong on our side. It has been logged with this request's trace id.");
                    return true;
            }
        }

        static Exception Unwrap(Exception e) =>
            e is AggregateException { InnerExceptions.Count: 1 } a ? Unwrap(a.InnerExceptions[0])
            : e is System.Reflection.TargetInvocationException { InnerException: { } inner } ? Unwrap(inner)
            : e;

        static Task WriteBadRequest(HttpContext http, BadHttpRequestException b)
        {
            if (b.StatusCode == 413)
                return Write(http, 413, "payload_too_large", "The request body is larger than this route accepts.");
            if (b.StatusCode == 415)
                return Write(http, 415, "unsupported_media_type", "Send this request as application/json.");
            if (b.InnerException is JsonException j)
                return WriteJsonProblem(http, j);
            return Write(http, b.StatusCode, b.StatusCode == 400 ? "bad_request" : DefaultCode(b.StatusCode),
                b.StatusCode == 400 ? "The request body or parameters could not be read." : b.Message);
        }

        static Task WriteJsonProblem(HttpContext http, JsonException j)
        {
            var member = j.Path is { Length: > 1 } path ? path.TrimStart('$', '.') : null;
            // Text that is not JSON fails in the reader (its exception is the inner one); a value the member's type
            // cannot hold fails in a converter, at that member.
            if (member is null || j.InnerException is JsonException)
                return Write(http, 400, "malformed_json",
                    member is null ? "The request body is not valid JSON." : $"The request body is not valid JSON (at '{member}').");
            var message = $"'{member}' has the wrong type: see this route's documented body.";
            return Write(http, 400, "validation_failed", message, new Dictionary<string, string[]> { [member] = [message] });
        }

        static string Camel(string name) =>
            string.IsNullOrEmpty(name) ? "body" : char.ToLowerInvariant(name[0]) + name[1..];
    }
}
