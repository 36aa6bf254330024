using System.Text.Json.Nodes;
using Alba;
using Wolverine.Tracking;
using NanoBanana.Tests.Features.Images;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>
/// The product flows end to end: a change made over HTTP on one instance (the Alba host) reaches the
/// user's other devices, connected to another instance (the Kestrel host), through Redis.
/// </summary>
public sealed class DeviceSyncTests(AppFixture app, LiveServer server) : RealtimeContext(app, server)
{
    async Task<string> CreateSession(TestUser user, string title)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { title }).ToUrl("/api/sessions");
            s.As(user);
            s.StatusCodeShouldBe(201);
        });
        return (await Json(result))["session"]!["id"]!.GetValue<string>();
    }

    static string Type(JsonObject frame) => frame["type"]!.GetValue<string>();

    [Fact]
    public async Task Post_edit_and_delete_on_one_device_reach_the_other_in_order_and_no_one_else()
    {
        var user = await RegisterUser();
        var other = await RegisterUser();
        var session = await CreateSession(user, "Beach edits");
        var othersSession = await CreateSession(other, "Not yours");
        var (laptop, _) = await Device.Connect(Server, session, user);
        var (stranger, _) = await Device.Connect(Server, othersSession, other);
        await using var _l = laptop; await using var _s = stranger;

        var posted = await Host.Scenario(s =>
        {
            s.Post.Json(new { role = "user", text = "make the sky purple", imageIds = Array.Empty<string>() })
                .ToUrl($"/api/sessions/{session}/messages");
            s.As(user);
            s.StatusCodeShouldBe(201);
        });
        var messageId = (await Json(posted))["messageData"]!["id"]!.GetValue<string>();
        await Host.Scenario(s =>
        {
            s.Put.Json(new { text = "make the sky pink" }).ToUrl($"/api/messages/{messageId}");
            s.As(user);
            s.StatusCodeShouldBe(200);
        });
        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/messages/{messageId}");
            s.As(user);
            s.StatusCodeShouldBe(200);
        });

        var created = await laptop.ReceiveType("message_created");
        var updated = await laptop.ReceiveType("message_updated");
        var deleted = await laptop.ReceiveType("message_deleted");
        Assert.Equal("make the sky purple", created["payload"]!["messageData"]!["text"]!.GetValue<string>());
        Assert.Equal("make the sky pink", updated["payload"]!["messageData"]!["text"]!.GetValue<string>());
        Assert.Equal(messageId, deleted["payload"]!["messageId"]!.GetValue<string>());
        var seqs = new[] { created, updated, deleted }.Select(f => f["seq"]!.GetValue<long>()).ToArray();
        Assert.True(seqs[0] < seqs[1] && seqs[1] < seqs[2], string.Join(",", seqs));

        // The stranger's next event is one of its own, raised after all of the above: it saw none of them.
        await Host.Scenario(s =>
        {
            s.Put.Json(new { title = "Still not yours" }).ToUrl($"/api/sessions/{othersSession}");
            s.As(other);
            s.StatusCodeShouldBe(200);
        });
        var first = await stranger.ReceiveEvent();
        Assert.Equal("session_updated", Type(first));
        Assert.Equal("Still not yours", first["payload"]!["session"]!["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_upload_shows_processing_then_ready_on_the_other_device()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user, "Photos");
        var (laptop, _) = await Device.Connect(Server, session, user);
        await using var _l = laptop;

        // Tracked: returns once the thumbnail job and the events it raised were handled.
        IScenarioResult? upload = null;
        await Host.TrackActivity(TimeSpan.FromSeconds(60)).ExecuteAndWaitAsync(
            (Func<Wolverine.IMessageContext, Task>)(async _ => upload = await Host.Scenario(s =>
            {
                s.Post.MultipartFormData(ImageTestContext.Form(session, "uploaded", "image",
                    ("photo.jpg", TestImages.NoisyJpeg(640, 480), "image/jpeg"))).ToUrl("/api/images/upload");
                s.As(user);
                s.StatusCodeShouldBe(201);
            })));
        var imageId = (await Json(upload!))["image"]!["id"]!.GetValue<string>();

        var uploaded = await laptop.ReceiveType("image_uploaded");
        var ready = await laptop.ReceiveType("image_ready");
        Assert.Equal(imageId, uploaded["payload"]!["image"]!["id"]!.GetValue<string>());
        Assert.Equal("processing", uploaded["payload"]!["image"]!["status"]!.GetValue<string>());
        Assert.Equal(imageId, ready["payload"]!["image"]!["id"]!.GetValue<string>());
        Assert.Equal("ready", ready["payload"]!["image"]!["status"]!.GetValue<string>());
        Assert.Equal(2, ready["payload"]!["image"]!["thumbnails"]!.AsArray().Count);
        Assert.True(ready["seq"]!.GetValue<long>() > uploaded["seq"]!.GetValue<long>());
    }
}
