using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Imaging;
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
            return inspector.Inspect(file.TempPath, file.JpegReachedEnd);
        }
        catch (ImageRejectedException e)
        {
            throw ProblemFor(e);
        }
    }

    /// <summary>
    /// Lists the images' blob folders, then stores every original, and gives back the records to write (the caller's change writes them). If the store fails, what was stored is deleted
    /// and the folders unlisted; if the process dies, the listing lets the garbage collector find the orphans.
    /// A file an earlier run of the same upload stored (its folder listed, its original there) is not sent again.
    /// </summary>
    public static async Task<List<ImageRecord>> Stage(IDatabase db, IObjectStorage storage, TimeProvider clock,
        string userId, string sessionId, string type, IReadOnlyList<(UploadedFile File, ImageFormatInfo Format)> files, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var records = files.Select(f => new ImageRecord
        {
            Id = f.File.ImageId, UserId = userId, SessionId = sessionId, Type = type, Status = ImageStatus.Processing,
            RefCount = 0, CreatedAt = now, UpdatedAt = now, Mime = f.Format.Mime, Ext = f.Format.Extension,
            Width = f.Format.Width, Height = f.Format.Height, Size = f.File.Length, Sha256 = f.File.Sha256,
            Path = BlobKeys.For(userId, sessionId, f.File.ImageId, "original", f.Format.Extension),
        }).ToList();

        var listed = await Task.WhenAll(records.Select(r => db.SortedSetScoreAsync(Keys.ImageBlobIndex, r.BlobFolder)));
        foreach (var r in records) await ImageBlobs.List(db, r.BlobFolder, now);
        var sent = new List<ImageRecord>(); // stored, or on their way when the store failed
        try
        {
            for (var i = 0; i < records.Count; i++)
            {
                if (listed[i] is not null && await storage.ExistsAsync(records[i].Path, ct)) continue;
                sent.Add(records[i]);
                await storage.PutFileAsync(records[i].Path, files[i].File.TempPath, records[i].Mime, ct);
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
        return records;
    }
}
