using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Imaging;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;

namespace NanoBanana.Features.Images;

/// <summary>The steps both upload routes share: judge the bytes, stage the blobs, write the records.</summary>
public static class ImageIntake
{
    public static ApiProblem ProblemFor(ImageRejectedException e) => e.Kind switch
    {
        ImageRejection.Unsupported => new ApiProblem(415, "unsupported_media_type", e.Message),
        ImageRejection.TooManyPixels => new ApiProblem(413, "payload_too_large", e.Message),
        _ => new ApiProblem(400, "invalid_image", e.Message),
    };

    public static ImageFormatInfo Judge(ImageInspector inspector, UploadedFile file)
    {
        try
        {
            return inspector.Inspect(file.TempPath);
        }
        catch (ImageRejectedException e)
        {
            throw ProblemFor(e);
        }
    }

    /// <summary>
    /// What <see cref="Stage"/> did: created these records, or found that another request with the same
    /// Idempotency-Key created its images meanwhile (<see cref="Earlier"/>: their ids; nothing of this one kept).
    /// </summary>
    public sealed record Staged(IReadOnlyList<ImageDto> Created, string[]? Earlier);

    /// <summary>
    /// Lists the images' blob folders, then stores every original, then writes the records and appends their
    /// <c>image_uploaded</c> events in one script (claiming the Idempotency-Key, if any, in it too). If the
    /// store fails, what was stored is deleted and the folders unlisted; if the process dies, the listing
    /// lets the garbage collector find the orphans.
    /// </summary>
    public static async Task<Staged> Stage(IDatabase db, IObjectStorage storage, EventLog log, TimeProvider clock,
        string userId, string sessionId, string type, IReadOnlyList<(UploadedFile File, ImageFormatInfo Format)> files,
        UploadIdempotency? idempotency, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var records = files.Select(f =>
        {
            var id = Ids.New();
            return new ImageRecord
            {
                Id = id, UserId = userId, SessionId = sessionId, Type = type, Status = ImageStatus.Processing,
                RefCount = 0, CreatedAt = now, UpdatedAt = now, Mime = f.Format.Mime, Ext = f.Format.Extension,
                Width = f.Format.Width, Height = f.Format.Height, Size = f.File.Length, Sha256 = f.File.Sha256,
                Path = BlobKeys.For(userId, sessionId, id, "original", f.Format.Extension),
            };
        }).ToList();

        foreach (var r in records) await ImageBlobs.List(db, r.BlobFolder, now);
        var sent = new List<ImageRecord>(); // stored, or on their way when the store failed
        try
        {
            for (var i = 0; i < records.Count; i++)
            {
                sent.Add(records[i]);
                await using var content = File.OpenRead(files[i].File.TempPath);
                await storage.PutAsync(records[i].Path, content, records[i].Mime, ct);
            }
        }
        catch (Exception e)
        {
            if (e is StorageUnavailableException { NothingSent: true }) sent.RemoveAt(sent.Count - 1);
            var storeAway = false;
            foreach (var r in records)
            {
                if (!sent.Contains(r))
                {
                    await db.SortedSetRemoveAsync(Keys.ImageBlobIndex, r.BlobFolder); // never sent to the store
                    continue;
                }
                // A put that failed after it was sent may have left the object (or part of it): deleted like a
                // stored one, and listed until that delete succeeds. Once the store refuses one delete, the rest
                // stay listed for the collector without each waiting through its own retries.
                if (storeAway) continue;
                try { await ImageBlobs.Delete(db, storage, r.BlobFolder, CancellationToken.None); }
                catch (StorageUnavailableException) { storeAway = true; }
            }
            if (e is StorageUnavailableException)
                throw new ApiProblem(503, "storage_unavailable", "The image store is not answering right now. Nothing was stored; try again shortly.")
                { RetryAfter = TimeSpan.FromSeconds(5) };
            throw;
        }

        // Pending before the record exists: a crash after the record is written still leaves the job findable.
        var pending = records.Select(r => (RedisValue)$"{r.UserId}/{r.Id}").ToArray();
        await db.SetAddAsync(Keys.ThumbnailsPending, pending);
        var dtos = records.Select(r => r.ToDto(storage)).ToList();
        if (await ImageStore.Create(db, log, [.. records.Zip(dtos)], idempotency) is not { } held) return new Staged(dtos, null);

        // A concurrent request with the same Idempotency-Key wrote its records while this one stored its blobs:
        // those blobs go again. If the store refuses now, they stay listed and the collector removes them
        // (a listed folder without a record) after the grace period.
        await db.SetRemoveAsync(Keys.ThumbnailsPending, pending);
        try
        {
            foreach (var r in records) await ImageBlobs.Delete(db, storage, r.BlobFolder, CancellationToken.None);
        }
        catch (StorageUnavailableException) { }
        return new Staged([], idempotency!.IdsIn(held));
    }

    /// <summary>What a stored upload still has to do: its thumbnails (its image_uploaded went out with the records).</summary>
    public static GenerateThumbnails Job(ImageDto image) => new(image.UserId, image.Id);
}
