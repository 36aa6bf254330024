using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Imaging;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using NetVips;
using StackExchange.Redis;
using Wolverine;
using Wolverine.Runtime.Handlers;

namespace NanoBanana.Features.Images;

/// <summary>Make the thumbnails of one image (handled on the <c>thumbnails</c> local queue). <paramref name="Attempt"/> counts from 1.</summary>
public sealed record GenerateThumbnails(string UserId, string ImageId, int Attempt = 1);

public static class GenerateThumbnailsHandler
{
    public const string Queue = "thumbnails";

    // Redis away: the job waits for it (the pending set covers a process that dies meanwhile).
    public static void Configure(HandlerChain chain) => chain.RetryWhileRedisIsAway();

    // Ready or failed is logged for the user's devices by Finish, in the same script as the change.
    public static async Task<OutgoingMessages> Handle(GenerateThumbnails msg, IDatabase db, IObjectStorage storage, EventLog events,
        Settings settings, TimeProvider clock, ILogger<GenerateThumbnails> log, CancellationToken ct)
    {
        var outgoing = new OutgoingMessages();
        var pending = (RedisValue)$"{msg.UserId}/{msg.ImageId}";
        var image = await ImageStore.Find(db, msg.UserId, msg.ImageId);
        if (image is null || image.Status != ImageStatus.Processing)
        {
            // Deleted meanwhile, or finished by another instance (a duplicate after a restart): nothing to do.
            await db.SetRemoveAsync(Keys.ThumbnailsPending, pending);
            return outgoing;
        }

        string? failure;
        try
        {
            var thumbnails = await Make(image, storage, ct);
            if (!await Finish(image, ImageStatus.Ready, thumbnails, null, clock.GetUtcNow().ToUnixTimeMilliseconds(), db, events, storage)
                && await ImageStore.Find(db, image.UserId, image.Id) is null)
            {
                // Deleted while we worked: the thumbnails just written would be orphans.
                foreach (var t in thumbnails) await storage.DeleteAsync(t.Key, ct);
            }
            await db.SetRemoveAsync(Keys.ThumbnailsPending, pending);
            return outgoing;
        }
        catch (StorageUnavailableException e)
            when (clock.GetUtcNow().ToUnixTimeMilliseconds() - image.CreatedAt < settings.Images.ThumbnailRetryHours * 3_600_000L)
        {
            // The store will come back: the image stays processing and the job tries again, 1 s, 4 s, then
            // every 15 s (soon after the store returns), until THUMBNAIL_RETRY_HOURS after the upload.
            var delay = TimeSpan.FromSeconds(Math.Min(15, Math.Pow(4, Math.Min(msg.Attempt, 8) - 1)));
            if (msg.Attempt == 1 || msg.Attempt % 20 == 0)
                log.LogWarning(e, "Thumbnails of image {ImageId} failed on attempt {Attempt}: the store is unreachable; retrying every {Delay} until it is back",
                    msg.ImageId, msg.Attempt, delay);
            outgoing.Delay(msg with { Attempt = msg.Attempt + 1 }, delay);
            return outgoing;
        }
        catch (StorageUnavailableException e)
        {
            log.LogError(e, "Thumbnails of image {ImageId} failed: the store was unreachable for {Hours} hours ({Attempt} attempts)",
                msg.ImageId, settings.Images.ThumbnailRetryHours, msg.Attempt);
            failure = "The image store stayed unreachable: the thumbnails could not be made.";
        }
        catch (VipsException e)
        {
            // A decode error does not get better with retries: the file is corrupt.
            log.LogWarning("Image {ImageId} could not be decoded: {Error}", msg.ImageId, e.Message.Split('\n')[0]);
            failure = "The picture could not be decoded: it is corrupt or uses an unsupported encoding.";
        }
        catch (OriginalMissingException)
        {
            failure = "The original file is missing from the store.";
        }

        await Finish(image, ImageStatus.Failed, [], failure, clock.GetUtcNow().ToUnixTimeMilliseconds(), db, events, storage);
        await db.SetRemoveAsync(Keys.ThumbnailsPending, pending);
        return outgoing;
    }

    /// <summary>
    /// The job's last step: the processing image becomes ready (or failed) and its image_ready (or
    /// image_failed) is logged in the same script, so the job, run again after a failure, never finds
    /// it finished with no event sent. False when it is gone or was finished already (a duplicate job).
    /// </summary>
    public static async Task<bool> Finish(ImageRecord image, string status, IReadOnlyList<StoredThumbnail> thumbnails, string? reason,
        long nowMs, IDatabase db, EventLog events, IObjectStorage storage)
    {
        while (true)
        {
            var done = image with { Status = status, Thumbnails = thumbnails, Reason = reason, UpdatedAt = nowMs };
            var dto = done.ToDto(storage);
            IUserEvent outcome = status == ImageStatus.Ready ? new ImageReady(done.UserId, dto) : new ImageFailed(done.UserId, dto, dto.Reason!);
            switch (await ImageStore.Complete(events, done, outcome))
            {
                case ImageStore.Completion.Done: return true;
                case ImageStore.Completion.NotProcessing: return false;
            }
            // A message took or released the image while the thumbnails were made: the event shows it as it is now.
            if (await ImageStore.Find(db, image.UserId, image.Id) is not { } now) return false;
            image = now;
        }
    }

    sealed class OriginalMissingException : Exception;

    static async Task<List<StoredThumbnail>> Make(ImageRecord image, IObjectStorage storage, CancellationToken ct)
    {
        byte[] original;
        await using (var stream = await storage.GetAsync(image.Path, ct) ?? throw new OriginalMissingException())
        {
            if (stream is MemoryStream { Position: 0 } memory && memory.TryGetBuffer(out var whole) && whole.Offset == 0 && whole.Count == whole.Array!.Length)
                original = whole.Array; // the S3 store's copy, exactly sized: no second copy
            else if (stream.CanSeek)
            {
                original = new byte[stream.Length - stream.Position];
                await stream.ReadExactlyAsync(original, ct);
            }
            else
            {
                using var buffer = new MemoryStream();
                await stream.CopyToAsync(buffer, ct);
                original = buffer.ToArray();
            }
        }
        var made = Thumbnailer.Make(original, ImageBlobs.ThumbnailSizes);
        var stored = new List<StoredThumbnail>(made.Count);
        foreach (var t in made)
        {
            var key = BlobKeys.For(image.UserId, image.SessionId, image.Id, $"thumb-{t.Size}", "webp");
            using var content = new MemoryStream(t.Webp, writable: false);
            await storage.PutAsync(key, content, "image/webp", ct);
            stored.Add(new StoredThumbnail(t.Size, t.Width, t.Height, "image/webp", key));
        }
        return stored;
    }
}

/// <summary>Re-queue the thumbnail jobs that were accepted and never finished (the process died): sent once when an instance starts.</summary>
public sealed record RecoverUnfinishedThumbnails;

public static class RecoverUnfinishedThumbnailsHandler
{
    // An instance that starts while Redis is away still recovers the unfinished jobs once it is back.
    public static void Configure(HandlerChain chain) => chain.RetryWhileRedisIsAway();

    public static async Task<OutgoingMessages> Handle(RecoverUnfinishedThumbnails _, IDatabase db, ILogger<RecoverUnfinishedThumbnails> log)
    {
        var outgoing = new OutgoingMessages();
        foreach (var member in await db.SetMembersAsync(Keys.ThumbnailsPending))
        {
            if (member.ToString().Split('/') is not [var userId, var imageId]) continue;
            var status = await db.HashGetAsync(Keys.Image(userId, imageId), "status");
            if (status == ImageStatus.Processing) outgoing.Add(new GenerateThumbnails(userId, imageId));
            else if (status.IsNull)
            {
                // The record was never written (the upload died between staging and writing) or is gone.
                // Its blobs, if any, are listed for the garbage collector.
                await db.SetRemoveAsync(Keys.ThumbnailsPending, member);
            }
            else await db.SetRemoveAsync(Keys.ThumbnailsPending, member);
        }
        if (outgoing.Count > 0) log.LogInformation("Re-queued {Count} unfinished thumbnail jobs", outgoing.Count);
        return outgoing;
    }
}
