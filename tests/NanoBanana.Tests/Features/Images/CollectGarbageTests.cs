using NanoBanana.Features.Images.CollectGarbage;
using NanoBanana.Features.Images;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using Microsoft.Extensions.DependencyInjection;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Features.Images;

public sealed class CollectGarbageTests(AppFixture app) : ImageTestContext(app)
{
    /// <summary>Moves an image's creation (and its blob listing) back in time, as if uploaded two days ago.</summary>
    async Task Age(string userId, string sessionId, string imageId, string ext)
    {
        var past = DateTimeOffset.UtcNow.AddDays(-2).ToUnixTimeMilliseconds();
        await Redis.HashSetAsync(Keys.Image(userId, imageId), "createdAt", past);
        await Redis.SortedSetAddAsync(Keys.ImageBlobIndex, ImageBlobs.Folder(userId, sessionId, imageId, ext), past);
    }

    [Fact]
    public async Task The_collector_removes_old_unreferenced_images_and_never_a_referenced_one()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var (garbage, _) = await UploadAndWait(Host, user, session, TestImages.Gif(), "old.gif");
        var (referenced, _) = await UploadAndWait(Host, user, session, TestImages.Gif(), "kept.gif");
        var (young, _) = await UploadAndWait(Host, user, session, TestImages.Gif(), "new.gif");
        var garbageId = garbage["id"]!.GetValue<string>();
        var referencedId = referenced["id"]!.GetValue<string>();
        await Age(user.Id, session, garbageId, "gif");
        await Age(user.Id, session, referencedId, "gif");
        await PostMessageWith(Host, user, session, referencedId); // a live message uses it
        var garbageUrls = await GetImage(Host, user, garbageId);

        var tracked = await Host.InvokeMessageAndWaitAsync(new CollectGarbage());
        var outcome = tracked.FindSingleTrackedMessageOfType<GarbageCollected>();
        Assert.Equal((1, 1), (outcome.Removed, outcome.Kept));

        await Host.Scenario(s =>
        {
            s.Get.Url($"/api/images/{garbageId}");
            s.As(user);
            s.StatusCodeShouldBe(404);
        });
        Assert.Equal(404, (await Fetch(Host, garbageUrls["url"]!.GetValue<string>())).Status);
        Assert.Equal(404, (await Fetch(Host, garbageUrls["thumbnails"]![0]!["url"]!.GetValue<string>())).Status);

        var kept = await GetImage(Host, user, referencedId);
        Assert.Equal(200, (await Fetch(Host, kept["url"]!.GetValue<string>())).Status);
        await GetImage(Host, user, young["id"]!.GetValue<string>());
        Assert.Equal(2, await Redis.SortedSetLengthAsync(Keys.UserImages(user.Id)));
        Assert.Equal(2, (int)await Redis.HashGetAsync(Keys.SessionImageCounts(user.Id, session), "uploaded"));
    }

    [Fact]
    public async Task With_a_zero_grace_period_every_unreferenced_image_goes_and_orphan_blobs_of_a_dead_upload_too()
    {
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?> { ["IMAGE_GC_GRACE_SECONDS"] = "0" });
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var (image, _) = await UploadAndWait(host, user, session, TestImages.Gif(), "a.gif");

        // An upload that died after storing its original and before writing its record: only the listing knows it.
        var storage = host.Services.GetRequiredService<IObjectStorage>();
        var orphanKey = BlobKeys.For(user.Id, session, "orphan", "original", "gif");
        await storage.PutAsync(orphanKey, new MemoryStream(TestImages.Gif()), "image/gif");
        await Redis.SortedSetAddAsync(Keys.ImageBlobIndex, ImageBlobs.Folder(user.Id, session, "orphan", "gif"), 0);

        var tracked = await host.InvokeMessageAndWaitAsync(new CollectGarbage());
        Assert.Equal(1, tracked.FindSingleTrackedMessageOfType<GarbageCollected>().Removed);
        Assert.False(await Redis.KeyExistsAsync(Keys.Image(user.Id, image["id"]!.GetValue<string>())));
        Assert.False(await storage.ExistsAsync(orphanKey));
        Assert.False(await storage.ExistsAsync(image["path"]!.GetValue<string>()));
        Assert.Equal(0, await Redis.SortedSetLengthAsync(Keys.ImageBlobIndex));
    }
}
