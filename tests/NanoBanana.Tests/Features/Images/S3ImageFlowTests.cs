using System.Diagnostics;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Tests.Infrastructure.Storage;

namespace NanoBanana.Tests.Features.Images;

/// <summary>The image rows against the S3-compatible server, and against a store that is down.</summary>
public sealed class S3ImageFlowTests(AppFixture app) : ImageTestContext(app)
{
    [Fact]
    public async Task On_s3_upload_thumbnails_presigned_urls_and_delete_work()
    {
        await using var host = await AppFixture.StartHost(TestS3.AppSettings());
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var bytes = TestImages.JpegWithOrientation6AndGps();
        var (uploaded, _) = await UploadAndWait(host, user, session, bytes);
        var id = uploaded["id"]!.GetValue<string>();

        var image = await GetImage(host, user, id);
        Assert.Equal("ready", image["status"]!.GetValue<string>());
        var url = image["url"]!.GetValue<string>();
        Assert.StartsWith(TestS3.Endpoint + "/" + TestS3.Bucket + "/users/", url);
        Assert.Contains("X-Amz-Signature", url);
        var (status, original, _) = await Fetch(host, url);
        Assert.Equal(200, status);
        Assert.Equal(bytes, original);
        var (thumbStatus, thumb, _) = await Fetch(host, image["thumbnails"]![0]!["url"]!.GetValue<string>());
        Assert.Equal(200, thumbStatus);
        Assert.Equal((171, 256), (TestImages.Describe(thumb).Width, TestImages.Describe(thumb).Height));

        await host.Scenario(s =>
        {
            s.Delete.Url($"/api/images/{id}");
            s.As(user);
            s.StatusCodeShouldBe(200);
        });
        Assert.Equal(404, (await Fetch(host, url)).Status);
    }

    [Fact]
    public async Task A_store_that_stays_down_makes_uploads_answer_503_quickly_and_stores_nothing()
    {
        var down = TestS3.AppSettings();
        down["AWS_ENDPOINT"] = "http://127.0.0.1:9"; // nothing listens there
        down["STORAGE_TIMEOUT_SECONDS"] = "2";
        await using var host = await AppFixture.StartHost(down);
        var user = await RegisterUser();
        var session = await CreateSession(user);

        var clock = Stopwatch.StartNew();
        var result = await Upload(host, user, session, TestImages.Gif(), "a.gif");
        await ShouldBeProblem(result, 503, "storage_unavailable");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Equal(0, await Redis.SortedSetLengthAsync(Keys.UserImages(user.Id)));
        Assert.Equal(0, await Redis.SortedSetLengthAsync(Keys.ImageBlobIndex));
        Assert.Equal(0, await Redis.SetLengthAsync(Keys.ThumbnailsPending));
    }
}
