using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using NanoBanana.Tests.Features.Realtime;

namespace NanoBanana.Tests.Features.Generation;

/// <summary>A generation as two devices of one person see it, each connected to a different instance.</summary>
public sealed class GenerationDevicesTests(AppFixture app, LiveServer server) : RealtimeContext(app, server)
{
    static readonly string[] Expected =
    [
        "message_created", "session_updated", "generation_queued", "generation_started", "image_uploaded", "message_created",
        "session_updated", "generation_succeeded", "image_ready",
    ];

    [Fact]
    public async Task Two_devices_on_different_instances_see_queued_started_succeeded_with_the_message_and_image_in_seq_order()
    {
        await using var hostB = LiveServer.Start();
        var user = await RegisterUser();
        using var http = new HttpClient { BaseAddress = Server.Address };
        http.DefaultRequestHeaders.Authorization = new("Bearer", user.Token);
        var created = await http.PostAsJsonAsync("/api/sessions", new { title = "Pictures" });
        var session = (await created.Content.ReadFromJsonAsync<JsonObject>())!["session"]!["id"]!.GetValue<string>();
        var (onA, _) = await Device.Connect(Server, session, user);
        var (onB, _) = await Device.Connect(hostB, session, user);
        await using var _a = onA; await using var _b = onB;

        var queued = await http.PostAsJsonAsync($"/api/sessions/{session}/generations", new { prompt = "two harbours", size = "96x64" });
        Assert.Equal(HttpStatusCode.Accepted, queued.StatusCode);
        var generationId = (await queued.Content.ReadFromJsonAsync<JsonObject>())!["generation"]!["id"]!.GetValue<string>();

        foreach (var device in new[] { onA, onB })
        {
            var frames = new List<JsonObject>();
            while (frames.Count < Expected.Length) frames.Add(await device.ReceiveEvent());
            Assert.Equal(Expected, frames.Select(f => f["type"]!.GetValue<string>()));
            // Seq 1 was session_created, before the devices connected.
            Assert.Equal(Enumerable.Range(2, Expected.Length).Select(i => (long)i), frames.Select(f => f["seq"]!.GetValue<long>()));
            Assert.All(frames.Where(f => f["type"]!.GetValue<string>().StartsWith("generation_")),
                f => Assert.Equal(generationId, f["payload"]!["generation"]!["id"]!.GetValue<string>()));
            var succeeded = frames[7]["payload"]!["generation"]!;
            var imageId = succeeded["resultImageIds"]![0]!.GetValue<string>();
            Assert.Equal(imageId, frames[4]["payload"]!["image"]!["id"]!.GetValue<string>());
            Assert.Equal(imageId, frames[8]["payload"]!["image"]!["id"]!.GetValue<string>());
            Assert.Equal(succeeded["messageId"]!.GetValue<string>(), frames[5]["payload"]!["messageData"]!["id"]!.GetValue<string>());
        }
    }
}
