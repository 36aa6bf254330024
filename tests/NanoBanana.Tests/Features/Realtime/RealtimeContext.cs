using System.Text.Json.Nodes;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>
/// Base of the realtime tests: a Kestrel host with real sockets (<see cref="LiveServer"/>) next to the
/// Alba host, both on the test Redis. Events are raised as in production, by the REST routes (<see cref="UserCalls"/>),
/// on the Alba host unless a test says otherwise: they reach the sockets on the Kestrel host through Redis.
/// </summary>
public abstract class RealtimeContext(AppFixture app, LiveServer server) : IntegrationContext(app), IClassFixture<LiveServer>
{
    protected LiveServer Server { get; } = server;

    /// <summary>The user's calls on <paramref name="on"/> (the Alba host by default).</summary>
    protected UserCalls Calls(TestUser user, LiveServer? on = null) => on is null ? UserCalls.On(Host, user) : UserCalls.On(on, user);

    /// <summary>A session of the user, created through the route (one session_created); deleted after if asked (one session_deleted).</summary>
    protected async Task<string> NewSession(TestUser user, bool deleted = false)
    {
        var id = await Calls(user).CreateSession();
        if (deleted) await Calls(user).DeleteSession(id);
        return id;
    }

    /// <summary>Uploads small GIFs in one batch on <paramref name="on"/> and waits for their thumbnail jobs: image_uploaded each, then image_ready each.</summary>
    protected Task<List<JsonObject>> UploadAndWait(TestUser user, string sessionId, int count = 1, LiveServer? on = null) =>
        UserCalls.WithItsWork(on?.AppHost ?? Host,
            () => Calls(user, on).UploadBatch(sessionId, [.. Enumerable.Range(0, count).Select(i => Images.TestImages.Gif(100 + i, 100))]));

    /// <summary>The event frames the device receives until the one with <paramref name="lastSeq"/>.</summary>
    protected static async Task<List<JsonObject>> EventsUntil(Device device, long lastSeq)
    {
        var frames = new List<JsonObject>();
        while (frames.Count == 0 || frames[^1]["seq"]!.GetValue<long>() < lastSeq)
            frames.Add(await device.ReceiveEvent());
        return frames;
    }

    protected static string Type(JsonObject frame) => frame["type"]!.GetValue<string>();

    protected static long Seq(JsonObject frame) => frame["seq"]!.GetValue<long>();

    /// <summary>The user's last event seq now (what a socket opened now reports as lastSeq).</summary>
    protected Task<long> LastSeq(TestUser user) => LoggedEvents.Mark(Host, user.Id);
}
