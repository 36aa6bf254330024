using NanoBanana.Features.Images.GenerateThumbnails;
using NanoBanana.Features.Images.CollectGarbage;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features;
using NanoBanana.Features.Images;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Storage;
using NanoBanana.Tests.Features.Images;
using StackExchange.Redis;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Infrastructure.Redis;

/// <summary>
/// Redis killed and started again, still loading its data (as after a crash with a large dataset; the
/// drill <c>drills/run.sh redis</c> found these): the API answers 503, and background work done while it
/// was away is not dropped.
/// </summary>
public sealed class RedisOutageTests(AppFixture app) : ImageTestContext(app)
{
    static Task Reconnected(IConnectionMultiplexer mux)
    {
        var restored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        mux.ConnectionRestored += (_, _) => restored.TrySetResult();
        return restored.Task;
    }

    [Fact]
    public async Task While_a_restarted_redis_is_loading_its_data_requests_answer_503_problem_details_not_500()
    {
        await using var redis = await OwnRedis.Start();
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?> { ["REDIS_URL"] = redis.Endpoint });
        var user = await RegisterUser(host: host);
        var reconnected = Reconnected(host.Services.GetRequiredService<IConnectionMultiplexer>());

        await redis.RestartLoading(keys: 300, perKey: TimeSpan.FromMilliseconds(100));
        await reconnected.WaitAsync(TimeSpan.FromSeconds(30));

        foreach (var url in new[] { "/api/sessions", "/api/auth/me" })
        {
            var result = await host.Scenario(s =>
            {
                s.Get.Url(url);
                s.As(user);
                s.StatusCodeShouldBe(503);
            });
            await ShouldBeProblem(result, 503, "service_unavailable");
            Assert.False(string.IsNullOrEmpty(result.Context.Response.Headers.RetryAfter.ToString()));
        }
        Assert.False(redis.Loaded.IsCompleted, "the requests were meant to reach a Redis that is still loading");
    }

    [Fact]
    public async Task A_thumbnail_job_run_again_after_redis_came_back_finds_the_image_ready_and_raises_nothing_more()
    {
        await using var redis = await OwnRedis.Start();
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?> { ["REDIS_URL"] = redis.Endpoint });
        var user = await RegisterUser(host: host);
        var session = await CreateSession(host, user);
        var since = await LoggedEvents.Mark(host, user.Id);
        var (uploaded, _) = await UploadAndWait(host, user, session, TestImages.Gif(), "a.gif");
        var id = uploaded["id"]!.GetValue<string>();

        // Redis goes away right after the image became ready (killed, back and loading its data).
        var reconnected = Reconnected(host.Services.GetRequiredService<IConnectionMultiplexer>());
        await redis.RestartLoading(keys: 30, perKey: TimeSpan.FromMilliseconds(100));
        await reconnected.WaitAsync(TimeSpan.FromSeconds(30));

        // The job runs again, as after a restart (Wolverine retries it until Redis answers), and finds the image ready.
        await host.TrackActivity(TimeSpan.FromSeconds(90)).DoNotAssertOnExceptionsDetected()
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(ctx =>
                ctx.PublishAsync(new GenerateThumbnails(user.Id, id)).AsTask()));
        await redis.Loaded.WaitAsync(TimeSpan.FromSeconds(30));

        // The user's devices hear of the upload and of it being ready, each exactly once.
        var events = await LoggedEvents.Since(host, user.Id, since);
        Assert.Equal(2, events.Count);
        Assert.IsType<ImageUploaded>(events[0]);
        var ready = Assert.IsType<ImageReady>(events[1]);
        Assert.Equal((id, "ready", 2), (ready.Image.Id, ready.Image.Status, ready.Image.Thumbnails.Count));
        Assert.Equal("ready", (await GetImage(host, user, id))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_garbage_collector_schedules_its_next_run_even_when_redis_is_away()
    {
        await using var redis = await OwnRedis.Start();
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?> { ["REDIS_URL"] = redis.Endpoint });
        var reconnected = Reconnected(host.Services.GetRequiredService<IConnectionMultiplexer>());
        await redis.RestartLoading(keys: 300, perKey: TimeSpan.FromMilliseconds(100));
        await reconnected.WaitAsync(TimeSpan.FromSeconds(30));

        var tracked = await host.TrackActivity(TimeSpan.FromSeconds(30)).DoNotAssertOnExceptionsDetected()
            .InvokeMessageAndWaitAsync(new GarbageCollectionDue());

        // The run met Redis loading (its lease could not be taken); the schedule goes on regardless.
        Assert.Single(tracked.Sent.MessagesOf<CollectGarbage>());
        tracked.Scheduled.SingleMessage<GarbageCollectionDue>();
        Assert.False(redis.Loaded.IsCompleted, "the collector was meant to run while Redis is still loading");
    }
}
