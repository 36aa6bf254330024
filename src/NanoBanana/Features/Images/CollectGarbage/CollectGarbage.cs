using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using NanoBanana.Infrastructure.Work;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images.CollectGarbage;

/// <summary>
/// One run of the collector: remove images that no message references and that are older than the grace period,
/// and the blobs of uploads that died half-way. Leased work of its own scope, one id: one run at a time across
/// the deployment; a run whose instance dies is taken over by another once its lease lapses.
/// </summary>
public sealed record CollectGarbage : ILeasedWork
{
    string ILeasedWork.LeaseScope => "gc";
    string ILeasedWork.LeaseId => "run";
}

public sealed record GarbageCollected(int Removed, int Kept);

/// <summary>The collector's schedule on this instance: a run now (unless one is running somewhere), and the next tick.</summary>
public sealed record GarbageCollectionDue;

public static class GarbageCollectionDueHandler
{
    public static OutgoingMessages Handle(GarbageCollectionDue _, Settings settings)
    {
        var outgoing = new OutgoingMessages { new CollectGarbage() };
        outgoing.Delay(new GarbageCollectionDue(), TimeSpan.FromSeconds(settings.Images.GcIntervalSeconds));
        return outgoing;
    }
}

public static class CollectGarbageHandler
{
    public const string Queue = "image-gc";
    const int Batch = 200;

    /// <summary>
    /// Walks the blob index (global, so plain writes) and hands each due image to <see cref="CollectImageHandler"/>,
    /// which decides and commits on the owner's data like any change; the blobs go after that commit.
    /// </summary>
    public static async Task<GarbageCollected> Handle(CollectGarbage msg, IDatabase db, IObjectStorage storage,
        IMessageBus bus, Settings settings, TimeProvider clock, ILogger<CollectGarbage> log, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var cutoff = now - settings.Images.GcGraceSeconds * 1000L;
        int removed = 0, kept = 0;
        try
        {
            while (true)
            {
                // The index is scored by staging time: only folders older than the grace period come back.
                var due = await db.SortedSetRangeByScoreAsync(Keys.ImageBlobIndex, double.NegativeInfinity, cutoff, take: Batch);
                if (due.Length == 0) break;
                foreach (var member in due)
                {
                    var folder = member.ToString();
                    if (ImageBlobs.Parse(folder) is not var (userId, _, imageId, _))
                    {
                        await db.SortedSetRemoveAsync(Keys.ImageBlobIndex, member);
                        continue;
                    }
                    var outcome = await bus.InvokeAsync<ImageCollected>(new CollectImage(userId, imageId, cutoff), ct);
                    if (outcome.Kept)
                    {
                        // Referenced (or younger than it looked): look again one grace period from now.
                        await db.SortedSetAddAsync(Keys.ImageBlobIndex, member, now, SortedSetWhen.Exists);
                        kept++;
                        continue;
                    }
                    await ImageBlobs.Delete(db, storage, folder, ct);
                    if (outcome.Removed) removed++;
                }
                if (due.Length < Batch) break;
            }
        }
        catch (StorageUnavailableException e)
        {
            log.LogWarning(e, "Image garbage collection stopped early: the store is not answering");
        }
        catch (Exception e) when (RedisFailures.IsUnavailable(e))
        {
            // The next run is the retry.
            log.LogWarning(e, "Image garbage collection stopped early: Redis is not answering");
        }
        if (removed > 0) log.LogInformation("Image garbage collection removed {Removed} images, kept {Kept} referenced", removed, kept);
        return new GarbageCollected(removed, kept);
    }
}

/// <summary>One image the collector found due: removed if no message references it and it is older than <paramref name="CutoffMs"/>.</summary>
public sealed record CollectImage(string UserId, string ImageId, long CutoffMs) : IChangesUserData;

/// <summary>Removed: the record went now; Kept: it stays; neither: there was no record (its blobs are orphans).</summary>
public sealed record ImageCollected(bool Removed, bool Kept);

public static class CollectImageHandler
{
    public static async Task<(ImageCollected, UserChange?)> Handle(CollectImage msg, IDatabase db)
    {
        var basis = await UserBasis.Read(db, msg.UserId);
        if (await ImageStore.Find(db, msg.UserId, msg.ImageId) is not { } image) return (new ImageCollected(false, false), null);
        if (image.RefCount > 0 || image.CreatedAt > msg.CutoffMs) return (new ImageCollected(false, true), null);
        var counts = await ImageStore.CountsOf(db, [image]);
        return (new ImageCollected(true, false), basis.Change().Write(tx => ImageStore.Remove(tx, [image], counts)));
    }
}
