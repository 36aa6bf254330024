using System.Text.Json.Nodes;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features;
using NanoBanana.Features.Realtime;
using NanoBanana.Features.Messages;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Features.Sessions;

/// <summary>Helpers for the sessions, messages and search tests: real HTTP calls, plus image records as test data.</summary>
public abstract class ChatContext(AppFixture app) : IntegrationContext(app)
{
    protected async Task<JsonObject> CreateSession(TestUser user, string? title = null)
    {
        var result = await Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Json(title is null ? new JsonObject() : new JsonObject { ["title"] = title }).ToUrl("/api/sessions");
            s.StatusCodeShouldBe(201);
        });
        return (await Json(result))["session"]!.AsObject();
    }

    protected async Task<string> NewSessionId(TestUser user, string? title = null) =>
        (await CreateSession(user, title))["id"]!.GetValue<string>();

    protected async Task<JsonObject> PostMessage(TestUser user, string sessionId, string text, string role = "user",
        string[]? imageIds = null, JsonObject? parameters = null)
    {
        var body = new JsonObject { ["role"] = role, ["text"] = text };
        if (imageIds is not null) body["imageIds"] = new JsonArray(imageIds.Select(i => (JsonNode)i).ToArray());
        if (parameters is not null) body["params"] = parameters;
        var result = await Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Json(body).ToUrl($"/api/sessions/{sessionId}/messages");
            s.StatusCodeShouldBe(201);
        });
        return (await Json(result))["messageData"]!.AsObject();
    }

    protected async Task<string> NewMessageId(TestUser user, string sessionId, string text = "hello") =>
        (await PostMessage(user, sessionId, text))["id"]!.GetValue<string>();

    protected async Task<JsonObject> Get(TestUser user, string url, int status = 200)
    {
        var result = await Host.Scenario(s =>
        {
            s.As(user);
            s.Get.Url(url);
            s.StatusCodeShouldBe(status);
        });
        return await Json(result);
    }

    protected Task<IScenarioResult> Send(TestUser user, HttpMethod method, string url, object? body = null) =>
        Host.Scenario(s =>
        {
            s.As(user);
            if (body is not null)
            {
                if (method == HttpMethod.Post) s.Post.Json(body).ToUrl(url);
                else if (method == HttpMethod.Put) s.Put.Json(body).ToUrl(url);
                else if (method == HttpMethod.Patch) s.Patch.Json(body).ToUrl(url);
                else throw new ArgumentException("no body for " + method);
            }
            else if (method == HttpMethod.Get) s.Get.Url(url);
            else if (method == HttpMethod.Delete) s.Delete.Url(url);
            else if (method == HttpMethod.Post) s.Post.Url(url);
            s.IgnoreStatusCode();
        });

    /// <summary>An image of the user in the session (see <see cref="SeedImages"/>).</summary>
    protected async Task<string> SeedImage(TestUser user, string sessionId, string status = "ready", string type = "uploaded") =>
        (await SeedImages(user, sessionId, 1, status, type))[0];

    /// <summary>
    /// Images uploaded through the route in batches and made ready by their thumbnail jobs; <c>failed</c> through the job
    /// (<see cref="UserCalls.FailThumbnails"/>); <c>processing</c> set back on the record by hand, as no route holds an
    /// image processing for the length of a test.
    /// </summary>
    protected async Task<List<string>> SeedImages(TestUser user, string sessionId, int count, string status = "ready", string type = "uploaded")
    {
        var calls = UserCalls.On(Host, user);
        var images = new List<JsonObject>();
        for (var done = 0; done < count; done += 10)
        {
            byte[][] gifs = [.. Enumerable.Range(done, Math.Min(10, count - done)).Select(i => Images.TestImages.Gif(100 + i, 100))];
            images.AddRange(await UserCalls.WithItsWork(Host, () => calls.UploadBatch(sessionId, gifs, type)));
        }
        foreach (var image in images)
        {
            if (status == "failed") await UserCalls.FailThumbnails(Host, user, image);
            else if (status == "processing") await Redis.HashSetAsync(Keys.Image(user.Id, Str(image["id"])), "status", "processing");
        }
        return [.. images.Select(i => Str(i["id"]))];
    }

    protected async Task<long> RefCount(TestUser user, string imageId) =>
        (long)await Redis.HashGetAsync(Keys.Image(user.Id, imageId), "refCount");

    /// <summary>Runs an HTTP call and returns the domain events it appended to the user's event log (what the devices receive).</summary>
    protected async Task<(IScenarioResult Result, List<NanoBanana.Features.IUserEvent> Events)> WithEvents(TestUser user, Func<Task<IScenarioResult>> call)
    {
        var since = await LoggedEvents.Mark(Host, user.Id);
        IScenarioResult? result = null;
        // Waits for the work the call queued too (a large session's purge).
        await Host.TrackActivity().DoNotAssertOnExceptionsDetected()
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ => result = await call()));
        return (result!, await LoggedEvents.Since(Host, user.Id, since));
    }

    /// <summary>The app's event log, for tests that run a handler's own step without Wolverine.</summary>
    protected EventLog Log => Host.Services.GetRequiredService<EventLog>();

    /// <summary>The events stored for the user after <paramref name="since"/> as the devices receive them: frame type and payload text.</summary>
    protected async Task<List<LoggedEvent>> Logged(TestUser user, long since) => [.. (await Log.Read(user.Id, since, 1000)).Events];

    /// <summary>The session_updated payload built from the session's stored record: what devices receive, byte for byte.</summary>
    protected async Task<string> SessionUpdatedPayload(TestUser user, string sessionId) =>
        CommitChanges.PayloadOf(new SessionUpdated(user.Id, (await SessionRecord.Live(Redis, user.Id, sessionId))!.Session));

    /// <summary>The message_updated payload built from the message's stored record (as <see cref="SessionUpdatedPayload"/>).</summary>
    protected async Task<string> MessageUpdatedPayload(TestUser user, string messageId) =>
        CommitChanges.PayloadOf(new MessageUpdated(user.Id, (await MessageRecord.Read(Redis, user.Id, messageId))!.Message));

    /// <summary>The same JSON values (the REST answers write non-ASCII as is, the log escapes it: both are the one serializer's shapes).</summary>
    protected static void SameJson(string expected, string actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)), $"expected {expected}\nactual   {actual}");

    /// <summary>The body of a GET as sent, byte for byte.</summary>
    protected async Task<string> Raw(TestUser user, string url)
    {
        var result = await Host.Scenario(s =>
        {
            s.As(user);
            s.Get.Url(url);
            s.StatusCodeShouldBe(200);
        });
        return await result.ReadAsTextAsync();
    }

    protected static string Str(JsonNode? node) => node!.GetValue<string>();
}
