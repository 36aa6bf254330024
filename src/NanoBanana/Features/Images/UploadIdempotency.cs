using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Images;

/// <summary>
/// The <c>Idempotency-Key</c> of an upload route (format, 422 and lifetime as in <see cref="Idempotency"/>).
/// The fingerprint covers what decides the result: the route, <c>sessionId</c>, <c>type</c> and each file's
/// SHA-256 and size, in order (hashed while the file was spooled, so nothing is read twice). File names and
/// declared content types are left out: the bytes are judged, never the name, and a client may name the
/// file afresh when it retries. The record (<c>fingerprint\nid,id,...</c>) is claimed in the same script
/// that writes the image records and logs their events (<see cref="ImageStore.Create"/>), so concurrent retries create once.
/// </summary>
public sealed class UploadIdempotency
{
    public required RedisKey Key { get; init; }
    public required string Fingerprint { get; init; }

    sealed record FilePrint(string Sha256, long Size);
    sealed record BodyPrint(string? SessionId, string? Type, FilePrint[] Files);

    /// <summary>Null without a key. <paramref name="route"/> scopes the key: the same key on the other upload route is another key.</summary>
    public static UploadIdempotency? For(string userId, string route, string? key, string? sessionId, string? type, IEnumerable<UploadedFile> files) =>
        key is null ? null : new()
        {
            Key = Keys.Idempotency(userId, route, key),
            Fingerprint = Idempotency.Fingerprint(route,
                new BodyPrint(sessionId, type, files.Select(f => new FilePrint(f.Sha256, f.Length)).ToArray())),
        };

    /// <summary>What the key stores once <paramref name="images"/> are created.</summary>
    public string RecordOf(IEnumerable<ImageRecord> images) => Idempotency.Record(Fingerprint, string.Join(',', images.Select(i => i.Id)));

    /// <summary>The image ids a stored record names, in the first answer's order; 422 <c>idempotency_key_reused</c> for another body.</summary>
    public string[] IdsIn(string record) => Idempotency.FirstResourceOrThrow(record, Fingerprint).Split(',');

    /// <summary>A retry whose first request's images have all been deleted since: 404, as for a message deleted since.</summary>
    public static ApiProblem FirstImagesDeleted(int count) => new(StatusCodes.Status404NotFound, "not_found",
        (count == 1 ? "The image" : "The images") + " this Idempotency-Key uploaded " + (count == 1 ? "has" : "have") +
        " been deleted since. Upload again with a new key.");

    /// <summary>The image ids the first request with this key created, or null while the key is unused.</summary>
    public async Task<string[]?> Earlier(IDatabase db) =>
        await db.StringGetAsync(Key) is { IsNull: false } record ? IdsIn(record.ToString()) : null;
}
