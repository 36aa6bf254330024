using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace NanoBanana.Features;

// The wire shapes of SPEC section 2, shared by the REST answers and the realtime payloads.
// The seed web client reads these names: change them only with the SPEC.

public sealed record SessionDto(
    string Id, string UserId, string Title,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    int MessageCount, DateTimeOffset? DeletedAt);

public sealed record MessageDto(
    string Id, string SessionId, [property: AllowedValues("user", "assistant", "system")] string Role, string Text,
    JsonObject? Params, IReadOnlyList<string> ImageIds,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? EditedOf);

public sealed record ThumbnailDto(int Size, int Width, int Height, string Mime, string Url);

public sealed record ImageDto(
    string Id, string SessionId, string UserId, [property: AllowedValues("uploaded", "generated", "edited")] string Type,
    string Path, string? ThumbPath, IReadOnlyList<ThumbnailDto> Thumbnails,
    string Mime, int Width, int Height, long Size, string Sha256,
    [property: AllowedValues("processing", "ready", "failed")] string Status, int RefCount, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    string Url, DateTimeOffset? UrlExpiresAt)
{
    /// <summary>Why thumbnailing failed; present only when <c>status</c> is <c>failed</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Reason { get; init; }
}

/// <summary>Why a generation failed: <c>code</c> is one of SPEC section 8's, <c>message</c> a sentence for people.</summary>
public sealed record GenerationError(string Code, string Message);

/// <summary>A generation of SPEC section 8: queued, running, then succeeded, failed or cancelled.</summary>
public sealed record GenerationDto(
    string Id, string SessionId, string UserId, string Provider, string Model, string Operation,
    string Prompt, IReadOnlyList<string> InputImageIds, string? MaskImageId, string? Size, int N, long? Seed,
    string Status, GenerationError? Error, IReadOnlyList<string> ResultImageIds,
    string? PromptMessageId, string? MessageId, int Attempts,
    DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt);

/// <summary><c>{message}</c>: the answer of a delete, a logout or a password change, a sentence for people.</summary>
public sealed record MessageResponse(string Message);

/// <summary>The SPEC's page envelope member: <c>{limit, offset, total, hasMore}</c>.</summary>
public sealed record Pagination(int Limit, int Offset, long Total, bool HasMore)
{
    public static Pagination Of(int limit, int offset, long total) => new(limit, offset, total, offset + limit < total);
}
