using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Tests.Features.Images;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Features.Generation;

/// <summary>Helpers of the session generation tests: queue one, wait for its run (Wolverine tracking), read it back.</summary>
public abstract class GenerationTestContext(AppFixture app) : ImageTestContext(app)
{
    protected static Task<IScenarioResult> Queue(IAlbaHost host, TestUser user, string sessionId, object body, int? expect = 202,
        string? idempotencyKey = null) =>
        host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl($"/api/sessions/{sessionId}/generations");
            s.As(user);
            if (idempotencyKey is not null) s.WithRequestHeader("Idempotency-Key", idempotencyKey);
            if (expect is { } status) s.StatusCodeShouldBe(status); else s.IgnoreStatusCode();
        });

    /// <summary>Queues a generation and waits until its run, the thumbnails of its pictures and everything they sent are done.</summary>
    protected static async Task<JsonObject> QueueAndWait(IAlbaHost host, TestUser user, string sessionId, object body)
    {
        IScenarioResult? result = null;
        await host.TrackActivity(TimeSpan.FromSeconds(60)).ExecuteAndWaitAsync(
            (Func<Wolverine.IMessageContext, Task>)(async _ => result = await Queue(host, user, sessionId, body)));
        return (await Json(result!))["generation"]!.AsObject();
    }

    protected static async Task<JsonObject> GetGeneration(IAlbaHost host, TestUser user, string id) =>
        (await Json(await host.Scenario(s =>
        {
            s.Get.Url($"/api/generations/{id}");
            s.As(user);
            s.StatusCodeShouldBe(200);
        })))["generation"]!.AsObject();

    protected static async Task<JsonObject> GetMessage(IAlbaHost host, TestUser user, string id) =>
        (await Json(await host.Scenario(s =>
        {
            s.Get.Url($"/api/messages/{id}");
            s.As(user);
            s.StatusCodeShouldBe(200);
        })))["messageData"]!.AsObject();

    protected static async Task<JsonArray> SessionMessages(IAlbaHost host, TestUser user, string sessionId) =>
        (await Json(await host.Scenario(s =>
        {
            s.Get.Url($"/api/sessions/{sessionId}/messages");
            s.As(user);
            s.StatusCodeShouldBe(200);
        })))["messages"]!.AsArray();

    protected static async Task<JsonArray> SessionImages(IAlbaHost host, TestUser user, string sessionId) =>
        (await Json(await host.Scenario(s =>
        {
            s.Get.Url($"/api/images/session/{sessionId}");
            s.As(user);
            s.StatusCodeShouldBe(200);
        })))["images"]!.AsArray();

    protected static string Id(JsonNode? node) => node!["id"]!.GetValue<string>();
    protected static string Str(JsonNode? node, string key) => node![key]!.GetValue<string>();
}
