using NanoBanana.Features.Realtime;
using NanoBanana.Features.Images.GenerateThumbnails;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NanoBanana.Features;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features.Images;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using NanoBanana.Infrastructure.Work;
using NanoBanana.Tests.Infrastructure.Storage;
using Wolverine.Tracking;

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
        Assert.Equal(0, await UnfinishedWork(user));
        // The put was sent, so its folder stays listed: the collector checks it (there is nothing in it) once the store is back.
        var listed = Assert.Single(await Redis.SortedSetRangeByRankAsync(Keys.ImageBlobIndex));
        Assert.StartsWith($"{user.Id}/{session}/", listed.ToString());
    }

    static Dictionary<string, string?> StoreAway()
    {
        var down = TestS3.AppSettings();
        down["AWS_ENDPOINT"] = "http://127.0.0.1:9"; // nothing listens there
        down["STORAGE_TIMEOUT_SECONDS"] = "2";
        return down;
    }

    /// <summary>An image as an upload leaves it: record processing (its original is in a store that is now away).</summary>
    async Task<string> ProcessingImage(TestUser user, string sessionId, DateTimeOffset uploadedAt)
    {
        var id = Guid.CreateVersion7().ToString("N");
        var at = uploadedAt.ToUnixTimeMilliseconds();
        var record = new ImageRecord
        {
            Id = id, UserId = user.Id, SessionId = sessionId, Type = "uploaded", Status = ImageStatus.Processing,
            CreatedAt = at, UpdatedAt = at, Mime = "image/gif", Ext = "gif", Width = 300, Height = 200, Size = 1000,
            Sha256 = new string('0', 64), Path = BlobKeys.For(user.Id, sessionId, id, "original", "gif"),
        };
        // Committed as an upload commits it (its original never reached the store, which is away).
        var change = (await UserBasis.Read(Redis, user.Id)).Change().Write(tx => ImageStore.WriteNew(tx, record));
        await CommitChanges.Commit(change, Redis, Host.Services.GetRequiredService<NanoBanana.Infrastructure.Realtime.EventLog>(), TimeProvider.System);
        return id;
    }

    [Fact]
    public async Task A_thumbnail_job_that_meets_a_store_that_is_away_keeps_the_image_processing_and_tries_again()
    {
        await using var host = await AppFixture.StartHost(StoreAway());
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var id = await ProcessingImage(user, session, DateTimeOffset.UtcNow);
        var since = await LoggedEvents.Mark(host, user.Id);

        // Well past the few attempts a short outage needs: an outage of minutes must not fail the image.
        await host.TrackActivity(TimeSpan.FromSeconds(60)).DoNotAssertOnExceptionsDetected()
            .InvokeMessageAndWaitAsync(new GenerateThumbnails(user.Id, id, Attempt: 10));

        // The work is back in the lease store, held by nobody, due again later, with its attempt counted.
        var scope = WorkScope.OfUser(user.Id);
        var stored = WorkLeases.Deserialize((string)(await Redis.HashGetAsync(Keys.WorkMessages(scope), $"thumbs:{id}"))!);
        Assert.Equal(11, Assert.IsType<GenerateThumbnails>(stored).Attempt);
        Assert.False(await Redis.HashExistsAsync(Keys.WorkOwners(scope), $"thumbs:{id}"));
        Assert.True(await Redis.SortedSetScoreAsync(Keys.WorkLeases(scope), $"thumbs:{id}") > DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.Equal("processing", (string?)await Redis.HashGetAsync(Keys.Image(user.Id, id), "status"));
        Assert.Empty(await LoggedEvents.Since(host, user.Id, since));
    }

    [Fact]
    public async Task A_thumbnail_job_gives_up_when_the_store_stayed_away_for_the_whole_retry_period()
    {
        await using var host = await AppFixture.StartHost(StoreAway());
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var id = await ProcessingImage(user, session, DateTimeOffset.UtcNow.AddHours(-25)); // THUMBNAIL_RETRY_HOURS: 24
        var since = await LoggedEvents.Mark(host, user.Id);

        await host.TrackActivity(TimeSpan.FromSeconds(60)).DoNotAssertOnExceptionsDetected()
            .InvokeMessageAndWaitAsync(new GenerateThumbnails(user.Id, id, Attempt: 2));

        Assert.Equal(0, await UnfinishedWork(user));
        Assert.Equal("failed", (string?)await Redis.HashGetAsync(Keys.Image(user.Id, id), "status"));
        Assert.IsType<ImageFailed>(Assert.Single(await LoggedEvents.Since(host, user.Id, since)));
    }

    /// <summary>A store whose connections drop in the middle of a request (as when it dies): it reads a little, then resets.</summary>
    sealed class DroppingStore : IDisposable
    {
        readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        readonly CancellationTokenSource _stop = new();

        public DroppingStore()
        {
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    await client.GetStream().ReadAtLeastAsync(new byte[4096], 1, throwOnEndOfStream: false, _stop.Token);
                    client.Client.LingerState = new LingerOption(true, 0); // close with a reset
                }
            });
        }

        public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
        }
    }

    [Fact]
    public async Task An_upload_cut_off_by_the_store_mid_request_answers_503_and_leaves_its_folder_listed_for_the_collector()
    {
        using var store = new DroppingStore();
        var settings = TestS3.AppSettings();
        settings["AWS_ENDPOINT"] = store.Url;
        settings["STORAGE_TIMEOUT_SECONDS"] = "2";
        await using var host = await AppFixture.StartHost(settings);
        var user = await RegisterUser();
        var session = await CreateSession(user);

        await ShouldBeProblem(await Upload(host, user, session, TestImages.Gif(), "a.gif"), 503, "storage_unavailable");

        // The store may hold part of the object (found by drills/run.sh s3: s3rver killed mid-put kept
        // 640 KB of it): no record, and the folder stays listed so that the collector deletes what is there.
        Assert.Equal(0, await Redis.SortedSetLengthAsync(Keys.UserImages(user.Id)));
        Assert.Equal(0, await UnfinishedWork(user));
        var listed = Assert.Single(await Redis.SortedSetRangeByRankAsync(Keys.ImageBlobIndex));
        Assert.StartsWith($"{user.Id}/{session}/", listed.ToString());
    }
}
