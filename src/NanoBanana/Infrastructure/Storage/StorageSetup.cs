using Carter;
using NanoBanana.Infrastructure.Configuration;

namespace NanoBanana.Infrastructure.Storage;

public static class StorageSetup
{
    /// <summary>STORAGE_TYPE: local (default), aws (S3, MinIO, R2) or aliyun (OSS through its S3-compatible endpoint).</summary>
    public static IServiceCollection AddObjectStorage(this IServiceCollection services, Settings settings)
    {
        switch (settings.Storage.Type)
        {
            case "local":
                services.AddSingleton(sp => new LocalStorage(settings.Storage, settings.Jwt.Secret,
                    $"http://localhost:{settings.Port}", sp.GetRequiredService<TimeProvider>()));
                services.AddSingleton<IObjectStorage>(sp => sp.GetRequiredService<LocalStorage>());
                break;
            case "aws" or "s3" or "aliyun" or "oss":
                services.AddSingleton<IObjectStorage>(sp => new S3Storage(settings.Storage, sp.GetRequiredService<TimeProvider>()));
                break;
            default:
                throw new InvalidOperationException($"STORAGE_TYPE '{settings.Storage.Type}' is not known: use local, aws or aliyun.");
        }
        return services;
    }
}

/// <summary>
/// Serves the local store's blobs under signed URLs: <c>GET /blobs/{key}?exp=&amp;sig=</c>. A bad or
/// expired signature, or a key that tries to leave the folder, answers 404 like a missing blob.
/// </summary>
public sealed class BlobEndpoint : ICarterModule
{
    static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".jpg"] = "image/jpeg", [".png"] = "image/png", [".webp"] = "image/webp", [".gif"] = "image/gif",
        [".avif"] = "image/avif", [".heic"] = "image/heic",
    };

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGet("/blobs/{**key}", (string key, long? exp, string? sig, HttpContext http, IServiceProvider services) =>
            {
                if (services.GetService<LocalStorage>() is not { } local || exp is null || !local.Verify(key, exp.Value, sig)
                    || local.FileOf(key) is not { } file)
                    return Results.Problem(statusCode: 404, detail: "This link is not valid or has expired; ask for the image again.",
                        extensions: new Dictionary<string, object?> { ["code"] = "not_found" });
                var length = new FileInfo(file).Length;
                if (RangeNotSatisfiable(http.Request, length))
                {
                    // The file result would answer an empty 416; the API's answer is problem details.
                    http.Response.Headers.ContentRange = $"bytes */{length}";
                    return Results.Problem(statusCode: 416, detail: $"The requested range is outside the file ({length} bytes).",
                        extensions: new Dictionary<string, object?> { ["code"] = "range_not_satisfiable" });
                }
                http.Response.Headers.CacheControl = $"private, max-age={Math.Max(0, exp.Value - DateTimeOffset.UtcNow.ToUnixTimeSeconds())}";
                http.Response.Headers["X-Content-Type-Options"] = "nosniff";
                http.Response.Headers.ContentDisposition = "inline";
                return Results.File(file, ContentTypes.GetValueOrDefault(Path.GetExtension(file), "application/octet-stream"), enableRangeProcessing: true);
            })
            .AllowAnonymous().ExcludeFromDescription()
            .WithName("GetBlob");

    /// <summary>
    /// A well-formed <c>Range: bytes=...</c> none of whose ranges starts inside the file (RFC 9110 14.1.2);
    /// a malformed or non-bytes Range is ignored (the whole file is sent), as the file result does.
    /// </summary>
    static bool RangeNotSatisfiable(HttpRequest request, long length)
    {
        if (request.GetTypedHeaders().Range is not { } range || range.Ranges.Count == 0
            || !string.Equals(range.Unit.Value, "bytes", StringComparison.OrdinalIgnoreCase))
            return false;
        foreach (var r in range.Ranges)
        {
            if (r.From is { } from ? from < length : r.To is > 0 && length > 0) return false;
        }
        return true;
    }
}
