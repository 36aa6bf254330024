using NanoBanana.Features.Messages.MessageImages;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;

namespace NanoBanana.Features.Images;

/// <summary>A message's images as the image routes show them: fresh signed URLs, thumbnails once ready.</summary>
public sealed class MessageImageDescriptions(IDatabase db, IObjectStorage storage) : IImageDescriptions
{
    public async Task<IReadOnlyList<ImageDto>> Describe(string userId, IReadOnlyList<string> imageIds, CancellationToken ct)
    {
        var batch = db.CreateBatch();
        var reads = imageIds.Select(id => batch.HashGetAllAsync(Keys.Image(userId, id))).ToList();
        batch.Execute();
        var images = new List<ImageDto>(reads.Count);
        foreach (var read in reads)
            if (ImageRecord.From(await read) is { } record)
                images.Add(record.ToDto(storage));
        return images;
    }
}
