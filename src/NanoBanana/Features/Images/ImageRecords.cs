using System.Globalization;
using System.Text.Json;
using NanoBanana.Features.Realtime;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;

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

/// <summary>The Redis side of images: reads through the caller's own keys, writes in scripts and transactions.</summary>
public static class ImageStore
{
    public static async Task<ImageRecord?> Find(IDatabase db, string userId, string imageId) =>
        ImageRecord.From(await db.HashGetAllAsync(Keys.Image(userId, imageId)));

    public static async Task<ImageRecord> Get(IDatabase db, string userId, string imageId) =>
        await Find(db, userId, imageId) ?? throw ApiProblem.NotFound("image");

    // The records, their indexes and, with an Idempotency-Key, its record, written only while the key is
    // unused; their image_uploaded events are appended in the same script (EventLog.Apply), so an upload is
    // never stored without its events (a retry recognised by its key has nothing left to raise).
    // KEYS: idempotency (or any key of the user, unused), user images, session images, session counts, then
    // each image. ARGV: record or '', ttl ms, then per image: id, createdAt, type, field count, fields and values.
    static readonly LoggedChange Store = new("""
        if ARGV[1] ~= '' then
          if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        end
        local a = 3
        for i = 5, #KEYS do
          local n = tonumber(ARGV[a + 3])
          redis.call('HSET', KEYS[i], unpack(ARGV, a + 4, a + 3 + n))
          redis.call('ZADD', KEYS[3], ARGV[a + 1], ARGV[a])
          redis.call('ZADD', KEYS[2], ARGV[a + 1], ARGV[a])
          redis.call('HINCRBY', KEYS[4], ARGV[a + 2], 1)
          a = a + 4 + n
        end
        return 1
        """);

    /// <summary>
    /// Writes the records of one upload (one user, one session) with their indexes, and appends their
    /// <c>image_uploaded</c> events (built from <paramref name="images"/>' DTOs) in the same script. With an
    /// Idempotency-Key, the script also claims it and writes only while it is unused: when another request
    /// with that key created its images first, nothing is written and its record is answered.
    /// </summary>
    public static async Task<string?> Create(IDatabase db, EventLog log, IReadOnlyList<(ImageRecord Record, ImageDto Dto)> images,
        UploadIdempotency? idempotency = null)
    {
        var (userId, sessionId) = (images[0].Record.UserId, images[0].Record.SessionId);
        RedisKey[] keys =
        [
            idempotency?.Key ?? Keys.UserImages(userId), Keys.UserImages(userId), Keys.SessionImages(userId, sessionId),
            Keys.SessionImageCounts(userId, sessionId), .. images.Select(i => (RedisKey)Keys.Image(userId, i.Record.Id)),
        ];
        var args = new List<RedisValue>
        {
            idempotency?.RecordOf(images.Select(i => i.Record)) ?? "", (long)Idempotency.Lifetime.TotalMilliseconds,
        };
        foreach (var (record, _) in images)
        {
            var hash = record.ToHash();
            args.AddRange([record.Id, record.CreatedAt, record.Type, hash.Length * 2]);
            foreach (var field in hash) args.AddRange([field.Name, field.Value]);
        }
        IUserEvent[] uploaded = [.. images.Select(i => new ImageUploaded(userId, i.Dto))];
        while (true)
        {
            if ((long)await FanOutHandler.AppendWith(uploaded, Store, keys, [.. args], log) == 1) return null;
            if (await db.StringGetAsync(idempotency!.Key) is { IsNull: false } held) return held.ToString();
            // The key expired between the two reads (24 h after its first use): claim it again.
        }
    }

    // Uploads go only into the caller's live sessions (the sessions slice's rule).
    public static async Task EnsureLiveSession(IDatabase db, string userId, string sessionId)
    {
        if (!await NanoBanana.Features.Sessions.SessionRecord.IsLive(db, userId, sessionId)) throw ApiProblem.NotFound("session");
    }

    // Removal is decided and done inside Redis in one step: a message that references the image
    // (HINCRBY refCount in the messages slice's own script) either ran before, and the image stays,
    // or runs after, and finds no image to reference.
    static readonly LuaScript RemoveUnreferenced = LuaScript.Prepare("""
        if redis.call('EXISTS', @image) == 0 then return 'gone' end
        local ref = tonumber(redis.call('HGET', @image, 'refCount') or '0') or 0
        if ref > 0 then return 'in_use' end
        if @cutoff ~= 'now' then
          local created = tonumber(redis.call('HGET', @image, 'createdAt') or '0') or 0
          if created > tonumber(@cutoff) then return 'young' end
        end
        local t = redis.call('HGET', @image, 'type')
        redis.call('DEL', @image)
        redis.call('ZREM', @sessionImages, @id)
        redis.call('ZREM', @userImages, @id)
        if t then
          if redis.call('HINCRBY', @counts, t, -1) <= 0 then redis.call('HDEL', @counts, t) end
        end
        return 'removed'
        """);

    /// <summary>Removes the record if no message references it (and, with a cutoff, if it is older than that): removed, gone, in_use or young.</summary>
    public static async Task<string> RemoveIfUnreferenced(IDatabase db, string userId, string sessionId, string imageId, long? cutoffMs)
    {
        var result = await RemoveUnreferenced.EvaluateAsync(db, new
        {
            image = (RedisKey)Keys.Image(userId, imageId),
            sessionImages = (RedisKey)Keys.SessionImages(userId, sessionId),
            userImages = (RedisKey)Keys.UserImages(userId),
            counts = (RedisKey)Keys.SessionImageCounts(userId, sessionId),
            id = imageId,
            cutoff = cutoffMs?.ToString(CultureInfo.InvariantCulture) ?? "now",
        });
        return result.ToString();
    }

    // The move to ready or failed and its event (image_ready / image_failed) are one script: a job that
    // runs again after a failure finds the image finished and raises nothing, so the event cannot come
    // from a second write. The event carries the record as this script leaves it; the thumbnails take a
    // while, and a message that took or released the image meanwhile moved refCount: -1, build it again.
    static readonly LoggedChange Finish = new("""
        if redis.call('HGET', KEYS[1], 'status') ~= 'processing' then return 0 end
        if (tonumber(redis.call('HGET', KEYS[1], 'refCount')) or 0) ~= tonumber(ARGV[5]) then return -1 end
        redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updatedAt', ARGV[2], 'thumbs', ARGV[3], 'reason', ARGV[4])
        return 1
        """);

    public enum Completion { Stale = -1, NotProcessing = 0, Done = 1 }

    /// <summary>
    /// Moves a processing image to <paramref name="done"/> (its status, thumbnails, reason, updatedAt) and logs
    /// <paramref name="outcome"/>, built from it, in the same script. NotProcessing: gone or finished already;
    /// Stale: its refCount is no longer <paramref name="done"/>'s.
    /// </summary>
    public static async Task<Completion> Complete(EventLog log, ImageRecord done, IUserEvent outcome) =>
        (Completion)(long)await FanOutHandler.AppendWith(outcome, Finish, [Keys.Image(done.UserId, done.Id)],
            [done.Status, done.UpdatedAt, JsonSerializer.Serialize(done.Thumbnails, Json.Storage), done.Reason ?? "", done.RefCount], log);

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
    public static async Task<List<ImageRecord>> Load(IDatabase db, string userId, IEnumerable<string> ids)
    {
        var hashes = await Task.WhenAll(ids.Select(id => db.HashGetAllAsync(Keys.Image(userId, id))));
        return hashes.Select(ImageRecord.From).OfType<ImageRecord>().ToList();
    }
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
        await db.SetRemoveAsync(NanoBanana.Infrastructure.Redis.Keys.ThumbnailsPending, $"{u}/{i}");
    }
}
