using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace NanoBanana.Infrastructure.Http;

/// <summary>
/// The <c>Idempotency-Key</c> of create routes. The feature's write script checks and records the
/// key atomically with the creation (so concurrent retries cannot create twice); this holds the
/// parts around it: the key's format, the fingerprint of a request body and the 24 h lifetime.
/// </summary>
public static class Idempotency
{
    public const string Header = "Idempotency-Key";
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);

    public static bool IsValidKey(string? key) =>
        key is { Length: >= 1 and <= 200 } && key.All(c => c is >= '!' and <= '~');

    /// <summary>The header's value when absent or well-formed; otherwise 400 naming the header.</summary>
    public static string? Checked(string? key) =>
        key is null || IsValidKey(key) ? key
            : throw ApiProblem.Validation(Header, "'Idempotency-Key' must be 1-200 visible ASCII characters.");

    /// <summary>SHA-256 of the route scope and the request as JSON: the same body gives the same fingerprint.</summary>
    public static string Fingerprint<T>(string scope, T request) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(scope + "\n" + JsonSerializer.Serialize(request, Json.Storage))));

    /// <summary>The stored record: <c>fingerprint\nresourceId</c>.</summary>
    public static string Record(string fingerprint, string resourceId) => fingerprint + "\n" + resourceId;

    /// <summary>The resource id of the first request when the fingerprints match; otherwise 422 <c>idempotency_key_reused</c>.</summary>
    public static string FirstResourceOrThrow(string record, string fingerprint)
    {
        var parts = record.Split('\n', 2);
        if (parts.Length == 2 && parts[0] == fingerprint) return parts[1];
        throw new ApiProblem(StatusCodes.Status422UnprocessableEntity, "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request body. Use a new key for a new request.");
    }
}
