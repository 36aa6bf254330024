using NanoBanana.Features.Images.GenerateThumbnails;
using NanoBanana.Features;
using NanoBanana.Features.Images;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using Microsoft.Extensions.DependencyInjection;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Features.Images;

public sealed class GenerateThumbnailsTests(AppFixture app) : ImageTestContext(app)
{
    [Fact]
    public async Task Thumbnails_become_ready_upright_within_their_sizes_as_webp_without_gps()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var original = TestImages.JpegWithOrientation6AndGps();
        Assert.Contains(TestImages.Fields(original), f => f.StartsWith("exif-ifd3-GPS")); // the fixture really carries GPS

        var since = await LoggedEvents.Mark(Host, user.Id);
        var (uploaded, _) = await UploadAndWait(Host, user, session, original);
        var id = uploaded["id"]!.GetValue<string>();

        // What the user's devices receive, in this order: the upload, then its thumbnails being ready.
        var events = await LoggedEvents.Since(Host, user.Id, since);
        Assert.Equal(2, events.Count);
        var uploadedEvent = Assert.IsType<ImageUploaded>(events[0]);
        Assert.Equal("processing", uploadedEvent.Image.Status);
        var ready = Assert.IsType<ImageReady>(events[1]);
        Assert.Equal(id, ready.Image.Id);
        Assert.Equal("ready", ready.Image.Status);

        var image = await GetImage(Host, user, id);
        Assert.Equal("ready", image["status"]!.GetValue<string>());
        var thumbs = image["thumbnails"]!.AsArray();
        Assert.Equal([256, 1024], thumbs.Select(t => t!["size"]!.GetValue<int>()));
        Assert.Equal($"users/{user.Id}/sessions/{session}/{id}/thumb-256.webp", image["thumbPath"]!.GetValue<string>());
        foreach (var t in thumbs)
        {
            var size = t!["size"]!.GetValue<int>();
            var (status, bytes, contentType) = await Fetch(Host, t["url"]!.GetValue<string>());
            Assert.Equal(200, status);
            Assert.Equal("image/webp", contentType);
            var (w, h, _, loader) = TestImages.Describe(bytes);
            Assert.StartsWith("webpload", loader);
            Assert.Equal(size, h);                      // upright: the long side is now the height
            Assert.Equal(size * 2 / 3, w, tolerance: 1); // 800x1200 scaled to fit
            Assert.Equal(w, t["width"]!.GetValue<int>());
            Assert.Equal(h, t["height"]!.GetValue<int>());
            Assert.DoesNotContain(TestImages.Fields(bytes), f => f.StartsWith("exif") || f.Contains("GPS") || f == "orientation");
            var top = TestImages.StripColour(bytes, top: true);
            var bottom = TestImages.StripColour(bytes, top: false);
            Assert.True(top[0] > 150 && top[2] < 80, "red (the stored left half) is on top once rotated clockwise");
            Assert.True(bottom[2] > 150 && bottom[0] < 80, "blue is at the bottom");
        }
    }

    [Fact]
    public async Task Small_pictures_are_never_upscaled_and_png_alpha_is_kept()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var (gif, _) = await UploadAndWait(Host, user, session, TestImages.Gif(300, 200), "small.gif");
        var gifThumbs = (await GetImage(Host, user, gif["id"]!.GetValue<string>()))["thumbnails"]!.AsArray();
        Assert.Equal((256, 171), (gifThumbs[0]!["width"]!.GetValue<int>(), gifThumbs[0]!["height"]!.GetValue<int>()));
        Assert.Equal((300, 200), (gifThumbs[1]!["width"]!.GetValue<int>(), gifThumbs[1]!["height"]!.GetValue<int>()));

        var (png, _) = await UploadAndWait(Host, user, session, TestImages.PngWithAlpha(), "alpha.png");
        var pngImage = await GetImage(Host, user, png["id"]!.GetValue<string>());
        Assert.Equal("image/png", pngImage["mime"]!.GetValue<string>());
        var (_, bytes, _) = await Fetch(Host, pngImage["thumbnails"]![0]!["url"]!.GetValue<string>());
        Assert.Equal(4, TestImages.Describe(bytes).Bands);

        var (avif, _) = await UploadAndWait(Host, user, session, TestImages.Avif(640, 480), "photo.avif");
        var avifImage = await GetImage(Host, user, avif["id"]!.GetValue<string>());
        Assert.Equal(("image/avif", "ready"), (avifImage["mime"]!.GetValue<string>(), avifImage["status"]!.GetValue<string>()));
        Assert.Equal((256, 192), (avifImage["thumbnails"]![0]!["width"]!.GetValue<int>(), avifImage["thumbnails"]![0]!["height"]!.GetValue<int>()));

        var (webp, _) = await UploadAndWait(Host, user, session, TestImages.Webp(2000, 1000), "wide.webp");
        var webpThumbs = (await GetImage(Host, user, webp["id"]!.GetValue<string>()))["thumbnails"]!.AsArray();
        Assert.Equal((1024, 512), (webpThumbs[1]!["width"]!.GetValue<int>(), webpThumbs[1]!["height"]!.GetValue<int>()));
    }

    [Fact]
    public async Task Image_ready_shows_the_refCount_a_message_gave_the_image_while_its_thumbnails_were_made()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var (uploaded, _) = await UploadAndWait(Host, user, session, TestImages.Gif(), "a.gif");
        var id = uploaded["id"]!.GetValue<string>();
        var thumbnails = (await ImageStore.Get(Redis, user.Id, id)).Thumbnails;
        // The job as it is about to finish: its thumbnails made and stored, the image still processing.
        await Redis.HashSetAsync(Keys.Image(user.Id, id), [new("status", "processing"), new("thumbs", "[]")]);

        // While the job makes the thumbnails, a message takes the image.
        await PostMessageWith(Host, user, session, id);
        var since = await LoggedEvents.Mark(Host, user.Id);
        await Host.InvokeMessageAndWaitAsync(new ThumbnailsMade(user.Id, id, thumbnails, null));

        var ready = Assert.IsType<ImageReady>(Assert.Single(await LoggedEvents.Since(Host, user.Id, since)));
        Assert.Equal(("ready", 1, 2), (ready.Image.Status, ready.Image.RefCount, ready.Image.Thumbnails.Count));
        Assert.Equal(1, (await GetImage(Host, user, id))["refCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_job_that_runs_twice_marks_the_image_ready_once_and_raises_one_event()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var since = await LoggedEvents.Mark(Host, user.Id);
        var (uploaded, _) = await UploadAndWait(Host, user, session, TestImages.Gif(), "a.gif");
        var id = uploaded["id"]!.GetValue<string>();
        var readyAt = (await GetImage(Host, user, id))["updatedAt"]!.GetValue<string>();

        // The same job again (as after a restart), and its last step again with other thumbnails.
        await Host.InvokeMessageAndWaitAsync(new GenerateThumbnails(user.Id, id));
        await Host.InvokeMessageAndWaitAsync(new ThumbnailsMade(user.Id, id, [], "a second outcome"));

        var events = await LoggedEvents.Since(Host, user.Id, since);
        Assert.Equal(["ImageUploaded", "ImageReady"], events.Select(e => e.GetType().Name));
        var image = await GetImage(Host, user, id);
        Assert.Equal(("ready", 2, readyAt), (image["status"]!.GetValue<string>(), image["thumbnails"]!.AsArray().Count, image["updatedAt"]!.GetValue<string>()));
        Assert.Equal(0, await UnfinishedWork(user));
    }

    [Fact]
    public async Task A_picture_that_cannot_be_decoded_ends_failed_with_a_reason()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var (uploaded, _) = await UploadAndWait(Host, user, session, TestImages.Gif(), "fine.gif");
        var id = uploaded["id"]!.GetValue<string>();

        // Corrupt the stored original behind the record's back, then run the job again.
        var storage = Host.Services.GetRequiredService<IObjectStorage>();
        await storage.PutAsync(uploaded["path"]!.GetValue<string>(), new MemoryStream("GIF89a garbage"u8.ToArray()), "image/gif");
        await Redis.HashSetAsync(Keys.Image(user.Id, id), "status", "processing");

        var since = await LoggedEvents.Mark(Host, user.Id);
        await Host.InvokeMessageAndWaitAsync(new GenerateThumbnails(user.Id, id));
        var failed = Assert.IsType<ImageFailed>(Assert.Single(await LoggedEvents.Since(Host, user.Id, since)));
        Assert.False(string.IsNullOrWhiteSpace(failed.Reason));
        var image = await GetImage(Host, user, id);
        Assert.Equal("failed", image["status"]!.GetValue<string>());
        Assert.Equal(failed.Reason, image["reason"]!.GetValue<string>());
    }
}
