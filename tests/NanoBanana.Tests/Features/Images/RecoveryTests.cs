using NanoBanana.Features.Images.GenerateThumbnails;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using NanoBanana.Infrastructure.Work;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json.Nodes;
using StackExchange.Redis;

namespace NanoBanana.Tests.Features.Images;

public sealed class RecoveryTests(AppFixture app) : ImageTestContext(app)
{
    // Development validates DI scopes (scripts/run.sh runs it): the start-up work once failed there only.
    [Theory]
    [InlineData("Testing")]
    [InlineData("Development")]
    public async Task An_image_left_processing_by_a_dead_process_is_finished_when_an_instance_starts(string environment)
    {
        // A Redis of the test's own: the instance started below is the only one that can take the work over.
        await using var redis = await OwnRedis.Start();
        var settings = new Dictionary<string, string?> { ["REDIS_URL"] = redis.Endpoint, ["LOCAL_STORAGE_PATH"] = Host.Services.GetRequiredService<LocalStorage>().Root };
        string id;
        TestUser user;
        await using (var first = await AppFixture.StartHost(settings))
        {
            user = await RegisterUser(host: first);
            var session = await CreateSession(first, user);
            id = (await UploadAndWait(first, user, session, TestImages.Gif(), "a.gif")).Image["id"]!.GetValue<string>();
        }
        // Put the image back as a killed process leaves it: processing, its work held by that process, whose lease lapsed.
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var db = connection.GetDatabase();
        var work = new GenerateThumbnails(user.Id, id);
        var scope = WorkScope.OfUser(user.Id);
        await db.HashSetAsync(Keys.Image(user.Id, id), [new("status", "processing"), new("thumbs", "[]")]);
        await db.SortedSetAddAsync(Keys.WorkScopes, scope, 0);
        await db.SortedSetAddAsync(Keys.WorkLeases(scope), $"thumbs:{id}", DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeMilliseconds());
        await db.HashSetAsync(Keys.WorkMessages(scope), $"thumbs:{id}", WorkLeases.Serialize(work));
        await db.HashSetAsync(Keys.WorkOwners(scope), $"thumbs:{id}", "a-dead-process");

        // The user's devices learn of it through the event log's live channel: listen there, as an instance holding a socket does.
        var ready = new TaskCompletionSource<JsonNode>(TaskCreationOptions.RunContinuationsAsynchronously);
        await connection.GetSubscriber().SubscribeAsync(RedisChannel.Literal(Keys.EventChannel(user.Id)), (_, message) =>
        {
            if (EventLog.ParseLive((string)message!) is { Type: "image_ready" } e) ready.TrySetResult(JsonNode.Parse(e.Payload)!);
        });

        await using var restarted = await AppFixture.StartHost(settings, environment: environment);
        var payload = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(id, payload["image"]!["id"]!.GetValue<string>());

        var image = await GetImage(restarted, user, id);
        Assert.Equal("ready", image["status"]!.GetValue<string>());
        Assert.Equal(2, image["thumbnails"]!.AsArray().Count);
        Assert.Equal(0, await db.SortedSetLengthAsync(Keys.WorkLeases(scope)));
    }
}
