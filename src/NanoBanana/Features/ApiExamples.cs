using NanoBanana.Features.Auth;

namespace NanoBanana.Features;

/// <summary>
/// The OpenAPI document's example values (RouteDocs.Example): one person's session with a picture and a
/// message, as the service would answer them. OpenApiContractTests checks each example against its schema.
/// </summary>
public static class ApiExamples
{
    public const string UserId = "0193f1a2b3c47d8e9f00112233445566";
    public const string SessionId = "0193f1a2c0de7a11b2c3d4e5f6a7b8c9";
    public const string MessageId = "0193f1a2d00d7e22a1b2c3d4e5f6a7b8";
    public const string ImageId = "0193f1a2e1f07b33c2d3e4f5a6b7c8d9";
    public const string Token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwMTkzZjFhMmIzYzQ3ZDhlOWYwMDExMjIzMzQ0NTU2NiJ9.c2lnbmF0dXJl";
    public const string RefreshToken = "r1.0193f1a2f2a08c44.Zm9yLWV4YW1wbGUtb25seS1ub3QtYS1yZWFsLXRva2Vu";

    static readonly DateTimeOffset Created = new(2025, 1, 27, 10, 0, 0, TimeSpan.Zero);
    static readonly DateTimeOffset Later = Created.AddMinutes(5);

    public static readonly DateTimeOffset TokenExpiresAt = Later.AddMinutes(15);

    public static readonly UserDto User = new(UserId, "ada@example.com", "ada", null, Created, Created, Later, true);

    public static readonly SessionDto Session = new(SessionId, UserId, "Make the sky purple", Created, Later, 2, null);

    public static readonly ImageDto Image = new(ImageId, SessionId, UserId, "uploaded",
        $"users/{UserId}/sessions/{SessionId}/{ImageId}/original.jpg",
        $"users/{UserId}/sessions/{SessionId}/{ImageId}/thumb-256.webp",
        [
            new ThumbnailDto(256, 256, 171, "image/webp", $"/blobs/users/{UserId}/sessions/{SessionId}/{ImageId}/thumb-256.webp?exp=1737975600&sig=3q2-7w"),
            new ThumbnailDto(1024, 1024, 683, "image/webp", $"/blobs/users/{UserId}/sessions/{SessionId}/{ImageId}/thumb-1024.webp?exp=1737975600&sig=8f1-2b"),
        ],
        "image/jpeg", 1536, 1024, 482_113, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "ready", 1, Created, Created.AddSeconds(2),
        $"/blobs/users/{UserId}/sessions/{SessionId}/{ImageId}/original.jpg?exp=1737975600&sig=a1b-9c", Created.AddHours(1));

    public static readonly MessageDto Message = new(MessageId, SessionId, "user", "Make the sky purple",
        new System.Text.Json.Nodes.JsonObject { ["model"] = "gemini", ["aspectRatio"] = "3:2" }, [ImageId], Later, Later, null);

    /// <summary>A 1x1 PNG, as the compatibility routes carry pictures (base64 in JSON).</summary>
    public static readonly byte[] TinyPng = Convert.FromBase64String(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==");

    public static readonly GenerationDto Generation = new("0193f1a3a1b27c55d4e5f6a7b8c9d0e1", SessionId, UserId, "local", "local",
        "edit", "Make the sky purple", [ImageId], null, "1024x1024", 1, 7, "queued", null, [], MessageId, null, 0,
        Later, null, null);

    public static Pagination Page(int limit, long total) => Pagination.Of(limit, 0, total);
}
