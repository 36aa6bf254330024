using NanoBanana.Features;
using NanoBanana.Features.Images;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
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
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var (upload, _) = await UploadAndWait(Host, user, session, TestImages.Gif(), "a.gif");
        var id = upload["id"]!.GetValue<string>();
        // Put the image back as a killed process leaves it: processing, listed as pending, no job queued anywhere.
        await Redis.HashSetAsync(Keys.Image(user.Id, id), [new("status", "processing"), new("thumbs", "[]")]);
        await Redis.SetAddAsync(Keys.ThumbnailsPending, $"{user.Id}/{id}");

        // The user's devices learn of it through the event log's live channel: listen there, as an instance holding a socket does.
        var ready = new TaskCompletionSource<JsonNode>(TaskCreationOptions.RunContinuationsAsynchronously);
        var channel = RedisChannel.Literal(Keys.EventChannel(user.Id));
        var subscriber = Redis.Multiplexer.GetSubscriber();
        await subscriber.SubscribeAsync(channel, (_, message) =>
        {
            if (EventLog.ParseLive((string)message!) is { Type: "image_ready" } e) ready.TrySetResult(JsonNode.Parse(e.Payload)!);
        });
        try
        {
            var sameStore = new Dictionary<string, string?> { ["LOCAL_STORAGE_PATH"] = Host.Services.GetRequiredService<LocalStorage>().Root };
            await using var restarted = await AppFixture.StartHost(sameStore, environment: environment);
            var payload = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(id, payload["image"]!["id"]!.GetValue<string>());

            var image = await GetImage(restarted, user, id);
            Assert.Equal("ready", image["status"]!.GetValue<string>());
            Assert.Equal(2, image["thumbnails"]!.AsArray().Count);
            Assert.False(await Redis.SetContainsAsync(Keys.ThumbnailsPending, $"{user.Id}/{id}"));
        }
        finally
        {
            await subscriber.UnsubscribeAsync(channel);
        }
    }
}
