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

namespace NanoBanana.Tests.Infrastructure;

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
    public async Task Image_ready_is_not_lost_when_redis_goes_away_right_after_the_image_became_ready()
    {
        await using var redis = await OwnRedis.Start();
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?> { ["REDIS_URL"] = redis.Endpoint });
        var db = host.Services.GetRequiredService<IDatabase>();
        var user = await RegisterUser(host: host);
        var session = await CreateSession(db, user);
        var (uploaded, _) = await UploadAndWait(host, user, session, TestImages.Gif(), "a.gif");
        var id = uploaded["id"]!.GetValue<string>();
        // The job as it is about to finish: its thumbnails made and stored, the image still processing.
        var thumbnails = (await ImageStore.Get(db, user.Id, id)).Thumbnails;
        await db.HashSetAsync(Keys.Image(user.Id, id), [new("status", "processing"), new("thumbs", "[]")]);
        var image = await ImageStore.Get(db, user.Id, id);
        var since = await LoggedEvents.Mark(host, user.Id);

        // Its last step marks the image ready; Redis goes away right after (killed, back and loading its data).
        Assert.True(await GenerateThumbnailsHandler.Finish(image, ImageStatus.Ready, thumbnails, null, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            db, host.Services.GetRequiredService<EventLog>(), host.Services.GetRequiredService<IObjectStorage>()));
        var reconnected = Reconnected(host.Services.GetRequiredService<IConnectionMultiplexer>());
        await redis.RestartLoading(keys: 30, perKey: TimeSpan.FromMilliseconds(100));
        await reconnected.WaitAsync(TimeSpan.FromSeconds(30));

        // The job runs again (Wolverine retries it until Redis answers) and finds the image ready.
        await host.TrackActivity(TimeSpan.FromSeconds(90)).DoNotAssertOnExceptionsDetected()
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(ctx =>
                ctx.PublishAsync(new GenerateThumbnails(user.Id, id)).AsTask()));
        await redis.Loaded.WaitAsync(TimeSpan.FromSeconds(30));

        // The user's devices hear of it exactly once.
        var ready = Assert.IsType<ImageReady>(Assert.Single(await LoggedEvents.Since(host, user.Id, since)));
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
            .InvokeMessageAndWaitAsync(new CollectGarbage(Recurring: true));

        Assert.True(tracked.Scheduled.SingleMessage<CollectGarbage>().Recurring);
        Assert.False(redis.Loaded.IsCompleted, "the collector was meant to run while Redis is still loading");
    }
}
