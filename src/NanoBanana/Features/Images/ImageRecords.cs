using System.Globalization;
using System.Text.Json;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images;

public static class ImageTypes
{
    public static readonly string[] All = ["uploaded", "generated", "edited"];
    public static bool IsValid(string? type) => type is not null && All.Contains(type);
}

public static class ImageStatus
{
    public const string Processing = "processing";
    public const string Ready = "ready";
    public const string Failed = "failed";
}

public sealed record StoredThumbnail(int Size, int Width, int Height, string Mime, string Key);

/// <summary>
/// An image as stored: the HASH at <see cref="Keys.Image"/> (fields per the contract documented there,
/// plus the ones below). Timestamps are unix milliseconds.
/// </summary>
public sealed record ImageRecord
{
    public required string Id { get; init; }
    public required string UserId { get; init; }
    public required string SessionId { get; init; }
    public required string Type { get; init; }
    public required string Status { get; init; }
    public int RefCount { get; init; }
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }
    public required string Mime { get; init; }
    public required string Ext { get; init; }
    public int Width { get; init; }
    public int Height { get; init; }
    public long Size { get; init; }
    public required string Sha256 { get; init; }
    public required string Path { get; init; }
    public IReadOnlyList<StoredThumbnail> Thumbnails { get; init; } = [];
    public string? Reason { get; init; }

    /// <summary>This image's member of <see cref="Keys.ImageBlobIndex"/>.</summary>
    public string BlobFolder => ImageBlobs.Folder(UserId, SessionId, Id, Ext);

    public HashEntry[] ToHash() =>
    [
        new("id", Id), new("userId", UserId), new("sessionId", SessionId), new("type", Type), new("status", Status),
        new("refCount", RefCount), new("createdAt", CreatedAt), new("updatedAt", UpdatedAt), new("mime", Mime),
        new("ext", Ext), new("width", Width), new("height", Height), new("size", Size), new("sha256", Sha256),
        new("path", Path), new("thumbs", JsonSerializer.Serialize(Thumbnails, Json.Storage)), new("reason", Reason ?? ""),
    ];

    public static ImageRecord? From(HashEntry[] hash)
    {
        if (hash.Length == 0) return null;
        var d = hash.ToDictionary(h => h.Name.ToString(), h => h.Value.ToString());
        string S(string k) => d.GetValueOrDefault(k) ?? "";
        long L(string k) => long.TryParse(d.GetValueOrDefault(k), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;
        var thumbs = S("thumbs") is { Length: > 0 } json
            ? JsonSerializer.Deserialize<List<StoredThumbnail>>(json, Json.Storage) ?? []
            : [];
        return new ImageRecord
        {
            Id = S("id"), UserId = S("userId"), SessionId = S("sessionId"), Type = S("type"), Status = S("status"),
            RefCount = (int)L("refCount"), CreatedAt = L("createdAt"), UpdatedAt = L("updatedAt"), Mime = S("mime"),
            Ext = S("ext"), Width = (int)L("width"), Height = (int)L("height"), Size = L("size"), Sha256 = S("sha256"),
            Path = S("path"), Thumbnails = thumbs, Reason = S("reason") is { Length: > 0 } r ? r : null,
        };
    }

    /// <summary>The wire shape, with URLs signed now (a client whose URLs expired reads the image again).</summary>
    public ImageDto ToDto(IObjectStorage storage)
    {
        var original = storage.GetUrl(Path);
        var expires = original.ExpiresAt;
        var thumbs = new List<ThumbnailDto>(Thumbnails.Count);
        foreach (var t in Thumbnails.OrderBy(t => t.Size))
        {
            var url = storage.GetUrl(t.Key);
            if (url.ExpiresAt < expires) expires = url.ExpiresAt;
            thumbs.Add(new ThumbnailDto(t.Size, t.Width, t.Height, t.Mime, url.Url));
        }
        return new ImageDto(Id, SessionId, UserId, Type, Path,
            Thumbnails.OrderBy(t => t.Size).FirstOrDefault()?.Key, thumbs, Mime, Width, Height, Size, Sha256,
            Status, RefCount, DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt), DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt),
            original.Url, expires)
        { Reason = Status == ImageStatus.Failed ? Reason ?? "Thumbnails could not be made." : null };
    }
}

public sealed record ImageResponse(ImageDto Image);

/// <summary>A page of an image list: limit 1..1000 (default 100).</summary>
public sealed record ImagePage(IReadOnlyList<ImageDto> Images, Pagination Pagination)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
}

/// <summary>
/// The Redis side of images: reads through the caller's own keys; writes are queued on a
/// <see cref="UserChange"/>'s transaction, so they commit with the version check and the events.
/// </summary>
public static class ImageStore
{
    public static async Task<ImageRecord?> Find(IDatabaseAsync db, string userId, string imageId) =>
        ImageRecord.From(await db.HashGetAllAsync(Keys.Image(userId, imageId)));

    public static async Task<ImageRecord> Get(IDatabaseAsync db, string userId, string imageId) =>
        await Find(db, userId, imageId) ?? throw ApiProblem.NotFound("image");

    /// <summary>Uploads go only into the caller's live sessions (the sessions slice's rule).</summary>
    public static async Task EnsureLiveSession(IDatabaseAsync db, string userId, string sessionId)
    {
        if (await SessionRecord.Live(db, userId, sessionId) is null) throw ApiProblem.NotFound("session");
    }

    /// <summary>A new record, listed in its session's and its user's index and counted by type.</summary>
    public static void WriteNew(RedisWrites tx, ImageRecord r)
    {
        tx.HashSet(Keys.Image(r.UserId, r.Id), r.ToHash());
        tx.SortedSetAdd(Keys.SessionImages(r.UserId, r.SessionId), r.Id, r.CreatedAt);
        tx.SortedSetAdd(Keys.UserImages(r.UserId), r.Id, r.CreatedAt);
        tx.HashIncrement(Keys.SessionImageCounts(r.UserId, r.SessionId), r.Type);
    }

    /// <summary>The end of the thumbnail work: status, thumbnails, reason and updatedAt (refCount stays the messages slice's).</summary>
    public static void WriteOutcome(RedisWrites tx, ImageRecord done) =>
        tx.HashSet(Keys.Image(done.UserId, done.Id),
        [
            new("status", done.Status), new("updatedAt", done.UpdatedAt),
            new("thumbs", JsonSerializer.Serialize(done.Thumbnails, Json.Storage)), new("reason", done.Reason ?? ""),
        ]);

    /// <summary>
    /// Removes <paramref name="images"/> (all of one user) with their index entries and counts; a count that
    /// reaches 0 is dropped. <paramref name="counts"/>: the sessions' counts by type as loaded with the decision.
    /// </summary>
    public static void Remove(RedisWrites tx, IReadOnlyCollection<ImageRecord> images, ImageCounts counts)
    {
        foreach (var r in images)
        {
            tx.KeyDelete(Keys.Image(r.UserId, r.Id));
            tx.SortedSetRemove(Keys.SessionImages(r.UserId, r.SessionId), r.Id);
            tx.SortedSetRemove(Keys.UserImages(r.UserId), r.Id);
        }
        foreach (var group in images.GroupBy(r => (r.UserId, r.SessionId, r.Type)))
        {
            var (userId, sessionId, type) = group.Key;
            var key = Keys.SessionImageCounts(userId, sessionId);
            if (counts.Of(sessionId, type) <= group.Count()) tx.HashDelete(key, type);
            else tx.HashIncrement(key, type, -group.Count());
        }
    }

    /// <summary>The counts by type of the sessions <paramref name="images"/> are in, for <see cref="Remove"/>.</summary>
    public static async Task<ImageCounts> CountsOf(IDatabaseAsync db, IEnumerable<ImageRecord> images)
    {
        var counts = new Dictionary<(string, string), long>();
        foreach (var (userId, sessionId, type) in images.Select(r => (r.UserId, r.SessionId, r.Type)).Distinct())
            counts[(sessionId, type)] = (long?)await db.HashGetAsync(Keys.SessionImageCounts(userId, sessionId), type) ?? 0;
        return new ImageCounts(counts);
    }

    /// <summary>A page of ids from an index ZSET (newest first), optionally only of one type, with the true total.</summary>
    public static async Task<(List<ImageRecord> Page, long Total)> Page(IDatabase db, string userId, string indexKey,
        string? type, int limit, int offset)
    {
        if (type is null)
        {
            var total = await db.SortedSetLengthAsync(indexKey);
            var ids = await db.SortedSetRangeByRankAsync(indexKey, offset, offset + limit - 1, Order.Descending);
            return (await Load(db, userId, ids.Select(i => i.ToString())), total);
        }
        // Filtering by type reads the types of all the index's images (one pipelined round trip).
        var all = await db.SortedSetRangeByRankAsync(indexKey, 0, -1, Order.Descending);
        var types = await Task.WhenAll(all.Select(id => db.HashGetAsync(Keys.Image(userId, id.ToString()), "type")));
        var matching = all.Where((_, i) => types[i] == type).Select(id => id.ToString()).ToList();
        return (await Load(db, userId, matching.Skip(offset).Take(limit)), matching.Count);
    }

    /// <summary>The records of <paramref name="ids"/> that exist, in that order.</summary>
    public static async Task<List<ImageRecord>> Load(IDatabaseAsync db, string userId, IEnumerable<string> ids)
    {
        var hashes = await Task.WhenAll(ids.Select(id => db.HashGetAllAsync(Keys.Image(userId, id))));
        return hashes.Select(ImageRecord.From).OfType<ImageRecord>().ToList();
    }
}

/// <summary>A session's image counts by type, as read with a decision (see <see cref="ImageStore.CountsOf"/>).</summary>
public sealed class ImageCounts(IReadOnlyDictionary<(string SessionId, string Type), long> counts)
{
    public long Of(string sessionId, string type) => counts.GetValueOrDefault((sessionId, type));
}

/// <summary>
/// The blobs of one image and their index: a folder is listed in <see cref="Keys.ImageBlobIndex"/>
/// before its first blob is written and unlisted after its last blob is deleted.
/// </summary>
public static class ImageBlobs
{
    public static readonly int[] ThumbnailSizes = [256, 1024];

    public static string Folder(string userId, string sessionId, string imageId, string ext) => $"{userId}/{sessionId}/{imageId}/{ext}";

    public static (string UserId, string SessionId, string ImageId, string Ext)? Parse(string folder) =>
        folder.Split('/') is [var u, var s, var i, var e] ? (u, s, i, e) : null;

    public static IEnumerable<string> Keys(string userId, string sessionId, string imageId, string ext) =>
        ThumbnailSizes.Select(size => BlobKeys.For(userId, sessionId, imageId, $"thumb-{size}", "webp"))
            .Prepend(BlobKeys.For(userId, sessionId, imageId, "original", ext));

    public static Task List(IDatabase db, string folder, long nowMs) =>
        db.SortedSetAddAsync(NanoBanana.Infrastructure.Redis.Keys.ImageBlobIndex, folder, nowMs);

    /// <summary>Deletes every blob of the image, then unlists the folder (a crash in between leaves it listed: the collector retries).</summary>
    public static async Task Delete(IDatabase db, IObjectStorage storage, string folder, CancellationToken ct = default)
    {
        if (Parse(folder) is not var (u, s, i, e)) return;
        foreach (var key in Keys(u, s, i, e)) await storage.DeleteAsync(key, ct);
        await db.SortedSetRemoveAsync(NanoBanana.Infrastructure.Redis.Keys.ImageBlobIndex, folder);
    }
}

/// <summary>
/// A handler's last step once its change removed images (or its upload stored blobs it does not keep): their
/// blobs are deleted, then their folders unlisted. A store that is away leaves the rest listed for the collector.
/// </summary>
public sealed record DeleteImageBlobs(IReadOnlyList<string> Folders) : ISideEffect
{
    public static readonly DeleteImageBlobs None = new([]);

    // Not the request's token: the change is committed, and its blobs go even if the client has gone.
    public async Task ExecuteAsync(IDatabase db, IObjectStorage storage)
    {
        try
        {
            foreach (var folder in Folders) await ImageBlobs.Delete(db, storage, folder, CancellationToken.None);
        }
        catch (StorageUnavailableException) { /* listed still: the collector finishes the job */ }
    }
}
