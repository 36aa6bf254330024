using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images;

/// <summary>
/// Remove images that no message references and that are older than the grace period, and the blobs
/// of uploads that died half-way. <paramref name="Recurring"/>: the scheduled run, which schedules the next one.
/// </summary>
public sealed record CollectGarbage(bool Recurring = false);

public sealed record GarbageCollected(int Removed, int Kept);

public static class CollectGarbageHandler
{
    public const string Queue = "image-gc";
    const int Batch = 200;

    public static async Task<(GarbageCollected, OutgoingMessages)> Handle(CollectGarbage msg, IDatabase db, IObjectStorage storage,
        Settings settings, TimeProvider clock, ILogger<CollectGarbage> log, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var cutoff = now - settings.Images.GcGraceSeconds * 1000L;
        int removed = 0, kept = 0;
        var outgoing = new OutgoingMessages();
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
                    if (ImageBlobs.Parse(folder) is not var (userId, sessionId, imageId, _))
                    {
                        await db.SortedSetRemoveAsync(Keys.ImageBlobIndex, member);
                        continue;
                    }
                    var outcome = await ImageStore.RemoveIfUnreferenced(db, userId, sessionId, imageId, cutoff);
                    if (outcome is "removed" or "gone")
                    {
                        await ImageBlobs.Delete(db, storage, folder, ct);
                        if (outcome == "removed") removed++;
                    }
                    else
                    {
                        // Referenced (or younger than it looked): look again one grace period from now.
                        await db.SortedSetAddAsync(Keys.ImageBlobIndex, member, now, SortedSetWhen.Exists);
                        kept++;
                    }
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
            // Returning (not throwing) keeps the schedule: the next run is the retry.
            log.LogWarning(e, "Image garbage collection stopped early: Redis is not answering");
        }
        finally
        {
            if (msg.Recurring) outgoing.Delay(new CollectGarbage(Recurring: true), TimeSpan.FromSeconds(settings.Images.GcIntervalSeconds));
        }
        if (removed > 0) log.LogInformation("Image garbage collection removed {Removed} images, kept {Kept} referenced", removed, kept);
        return (new GarbageCollected(removed, kept), outgoing);
    }
}
