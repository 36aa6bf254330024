using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Imaging;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using NetVips;
using StackExchange.Redis;
using Wolverine;
using NanoBanana.Infrastructure.Work;
using Wolverine.Runtime.Handlers;

namespace NanoBanana.Features.Images.GenerateThumbnails;

/// <summary>
/// Make the thumbnails of one image (handled on the <c>thumbnails</c> local queue): leased work of the image's owner,
/// enqueued by the upload's change. <paramref name="Attempt"/> counts from 1.
/// </summary>
public sealed record GenerateThumbnails(string UserId, string ImageId, int Attempt = 1) : IUserWork
{
    string ILeasedWork.LeaseId => $"thumbs:{ImageId}";
}

/// <summary>
/// The thumbnails of a processing image are made and stored (<paramref name="Failure"/> null), or cannot be: the
/// image becomes ready or failed. A message of its own, so that a commit that meets moved data runs this step again, not the work.
/// </summary>
public sealed record ThumbnailsMade(string UserId, string ImageId, IReadOnlyList<StoredThumbnail> Thumbnails, string? Failure) : IChangesUserData;

public static class GenerateThumbnailsHandler
{
    public const string Queue = "thumbnails";

    // Redis away: the job waits for it (its lease lapses meanwhile, so a process that dies meanwhile loses nothing).
    public static void Configure(HandlerChain chain) => chain.RetryWhileRedisIsAway();

    /// <summary>
    /// The outcome is invoked (committed) before the handler returns, not cascaded: the work's lease is acknowledged
    /// only once the image is ready or failed. Run twice, the second run finds the image finished and does nothing.
    /// </summary>
    public static async Task<RetryLater?> Handle(GenerateThumbnails msg, IDatabase db, IObjectStorage storage, ImagingSlots slots,
        IMessageBus bus, Settings settings, TimeProvider clock, ILogger<GenerateThumbnails> log, CancellationToken ct)
    {
        var image = await ImageStore.Find(db, msg.UserId, msg.ImageId);
        // Deleted meanwhile, or finished by another instance (the work ran twice): nothing to do.
        if (image is null || image.Status != ImageStatus.Processing) return null;

        ThumbnailsMade outcome;
        try
        {
            outcome = new ThumbnailsMade(msg.UserId, msg.ImageId, await Make(image, storage, slots, ct), null);
        }
        catch (StorageUnavailableException e)
            when (clock.GetUtcNow().ToUnixTimeMilliseconds() - image.CreatedAt < settings.Images.ThumbnailRetryHours * 3_600_000L)
        {
            // The store will come back: the image stays processing and the work is due again in 1 s, 4 s, then
            // every 15 s (soon after the store returns), until THUMBNAIL_RETRY_HOURS after the upload.
            var delay = TimeSpan.FromSeconds(Math.Min(15, Math.Pow(4, Math.Min(msg.Attempt, 8) - 1)));
            if (msg.Attempt == 1 || msg.Attempt % 20 == 0)
                log.LogWarning(e, "Thumbnails of image {ImageId} failed on attempt {Attempt}: the store is unreachable; retrying every {Delay} until it is back",
                    msg.ImageId, msg.Attempt, delay);
            return new RetryLater(msg with { Attempt = msg.Attempt + 1 }, delay);
        }
        catch (StorageUnavailableException e)
        {
            log.LogError(e, "Thumbnails of image {ImageId} failed: the store was unreachable for {Hours} hours ({Attempt} attempts)",
                msg.ImageId, settings.Images.ThumbnailRetryHours, msg.Attempt);
            outcome = new ThumbnailsMade(msg.UserId, msg.ImageId, [], "The image store stayed unreachable: the thumbnails could not be made.");
        }
        catch (VipsException e)
        {
            // A decode error does not get better with retries: the file is corrupt.
            log.LogWarning("Image {ImageId} could not be decoded: {Error}", msg.ImageId, e.Message.Split('\n')[0]);
            outcome = new ThumbnailsMade(msg.UserId, msg.ImageId, [], "The picture could not be decoded: it is corrupt or uses an unsupported encoding.");
        }
        catch (OriginalMissingException)
        {
            outcome = new ThumbnailsMade(msg.UserId, msg.ImageId, [], "The original file is missing from the store.");
        }
        await bus.InvokeAsync(outcome, ct);
        return null;
    }

    sealed class OriginalMissingException : Exception;

    static async Task<List<StoredThumbnail>> Make(ImageRecord image, IObjectStorage storage, ImagingSlots slots, CancellationToken ct)
    {
        IReadOnlyList<Thumbnail> made;
        await using (var stream = await storage.GetAsync(image.Path, ct) ?? throw new OriginalMissingException())
        {
            // The local store's file is read by libvips itself; the S3 store's copy is exactly sized (no second copy);
            // any other stream is read whole before a slot is taken, so the slot holds pixels only.
            var bytes = stream switch
            {
                FileStream => null,
                MemoryStream { Position: 0 } memory when memory.TryGetBuffer(out var whole) && whole.Offset == 0 && whole.Count == whole.Array!.Length => whole.Array,
                _ => await ReadAll(stream, ct),
            };
            using (await slots.Enter(ct))
                made = bytes is null ? Thumbnailer.Make((FileStream)stream, ImageBlobs.ThumbnailSizes) : Thumbnailer.Make(bytes, ImageBlobs.ThumbnailSizes);
        }
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

    static async Task<byte[]> ReadAll(Stream stream, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, ct);
        return buffer.ToArray();
    }
}

public static class ThumbnailsMadeHandler
{
    public static void Configure(HandlerChain chain) => chain.RetryWhileRedisIsAway();

    /// <summary>
    /// The processing image becomes ready (or failed) and raises image_ready (or image_failed), with the record as
    /// it is now (a message may have taken it meanwhile). An image finished already (the job ran twice) changes
    /// nothing and raises nothing; one deleted meanwhile leaves thumbnails that go again.
    /// </summary>
    public static async Task<(UserChange?, ThumbnailsSettled)> Handle(ThumbnailsMade msg, IDatabase db, IObjectStorage storage, TimeProvider clock)
    {
        var basis = await UserBasis.Read(db, msg.UserId);
        var image = await ImageStore.Find(db, msg.UserId, msg.ImageId);
        if (image is null) return (null, new ThumbnailsSettled(msg.UserId, msg.ImageId, [.. msg.Thumbnails.Select(t => t.Key)]));
        if (image.Status != ImageStatus.Processing) return (null, new ThumbnailsSettled(msg.UserId, msg.ImageId, []));

        var done = image with
        {
            Status = msg.Failure is null ? ImageStatus.Ready : ImageStatus.Failed, Thumbnails = msg.Thumbnails,
            Reason = msg.Failure, UpdatedAt = clock.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        var dto = done.ToDto(storage);
        var change = basis.Change()
            .Write(tx => ImageStore.WriteOutcome(tx, done))
            .Raise(msg.Failure is null ? new ImageReady(msg.UserId, dto) : new ImageFailed(msg.UserId, dto, dto.Reason!));
        return (change, new ThumbnailsSettled(msg.UserId, msg.ImageId, []));
    }
}

/// <summary>After the outcome committed: thumbnails of an image deleted meanwhile are orphans and go.</summary>
public sealed record ThumbnailsSettled(string UserId, string ImageId, IReadOnlyList<string> Orphans) : ISideEffect
{
    public async Task ExecuteAsync(IObjectStorage storage, CancellationToken ct)
    {
        foreach (var key in Orphans) await storage.DeleteAsync(key, ct);
    }
}
