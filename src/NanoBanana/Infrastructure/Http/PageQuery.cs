using System.Globalization;
using Microsoft.Extensions.Primitives;

namespace NanoBanana.Infrastructure.Http;

/// <summary>
/// <c>limit</c> and <c>offset</c> read from the query string by hand, so that a bad value answers
/// 400 problem details naming the parameter (SPEC: never a silent clamp, never a binder error).
/// </summary>
public readonly record struct PageQuery(int Limit, int Offset)
{
    public static PageQuery Read(HttpRequest request, int defaultLimit, int maxLimit = 100)
    {
        var errors = new Dictionary<string, string[]>();
        var limit = Number(request.Query["limit"], "limit", defaultLimit, 1, maxLimit, errors);
        var offset = Number(request.Query["offset"], "offset", 0, 0, int.MaxValue, errors);
        if (errors.Count > 0) throw ApiProblem.Validation(errors);
        return new PageQuery(limit, offset);
    }

    static int Number(StringValues values, string name, int fallback, int min, int max, Dictionary<string, string[]> errors)
    {
        if (values.Count == 0) return fallback;
        if (values.Count > 1)
        {
            errors[name] = [$"Give '{name}' once."];
            return fallback;
        }
        var raw = values[0]?.Trim() ?? "";
        if (!long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
        {
            errors[name] = [$"'{name}' must be a whole number."];
            return fallback;
        }
        if (n < min || n > max)
        {
            errors[name] = [max == int.MaxValue ? $"'{name}' must be at least {min}." : $"'{name}' must be between {min} and {max}."];
            return fallback;
        }
        return (int)n;
    }

    /// <summary>A single optional text parameter (e.g. <c>q</c>); given twice is a 400.</summary>
    public static string? Text(HttpRequest request, string name, int maxLength)
    {
        var values = request.Query[name];
        if (values.Count == 0) return null;
        if (values.Count > 1) throw ApiProblem.Validation(name, $"Give '{name}' once.");
        var value = values[0] ?? "";
        if (value.Length > maxLength) throw ApiProblem.Validation(name, $"'{name}' must be at most {maxLength} characters.");
        return value;
    }
}
