using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Features;
using NanoBanana.Features.Messages;
using NanoBanana.Features.Messages.DeleteMessage;
using NanoBanana.Features.Messages.EditMessage;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Redis;

namespace NanoBanana.Tests.Features.Messages;

using NanoBanana.Tests.Features.Sessions;

public sealed class MessageImagesTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Attach_and_detach_log_the_image_list_as_the_api_answers_it()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var (a, b) = (await SeedImage(user, id), await SeedImage(user, id));
        var messageId = await NewMessageId(user, id, "pictures");
        foreach (var (method, url, body) in new (HttpMethod, string, object?)[]
        {
            (HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = a }),
            (HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = b }),
            (HttpMethod.Delete, $"/api/messages/{messageId}/images/{a}", null),
            (HttpMethod.Delete, $"/api/messages/{messageId}/images/{b}", null),
        })
        {
            var since = await LoggedEvents.Mark(Host, user.Id);
            var result = await Send(user, method, url, body);
            Assert.Equal(200, result.Context.Response.StatusCode);
            var logged = await Logged(user, since);
            Assert.Equal(["message_updated", "session_updated"], logged.Select(e => e.Type));
            Assert.Equal(await MessageUpdatedPayload(user, messageId), logged[0].Payload);
            Assert.Equal(await SessionUpdatedPayload(user, id), logged[1].Payload);
            SameJson(await result.ReadAsTextAsync(), logged[0].Payload);
        }
    }

    [Fact]
    public async Task Attach_list_and_detach_keep_refCount_exact()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var a = await SeedImage(user, id);
        var b = await SeedImage(user, id, status: "processing", type: "generated");
        var messageId = Str((await PostMessage(user, id, "pictures", imageIds: [a]))["id"]);

        var (attach, events) = await WithEvents(user, () => Send(user, HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = b }));
        Assert.Equal(200, attach.Context.Response.StatusCode);
        Assert.Equal([a, b], (await Json(attach))["messageData"]!["imageIds"]!.AsArray().Select(Str));
        Assert.Single(events.OfType<MessageUpdated>());
        Assert.Equal(1, await RefCount(user, b));

        // Attaching it again changes nothing.
        await Send(user, HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = b });
        Assert.Equal(1, await RefCount(user, b));

        var images = (await Get(user, $"/api/messages/{messageId}/images"))["images"]!.AsArray();
        Assert.Equal([a, b], images.Select(i => Str(i!["id"])));
        Assert.Equal("generated", Str(images[1]!["type"]));
        Assert.Equal(1, images[0]!["refCount"]!.GetValue<int>());

        var detach = await Send(user, HttpMethod.Delete, $"/api/messages/{messageId}/images/{a}");
        Assert.Equal(200, detach.Context.Response.StatusCode);
        Assert.Equal([b], (await Json(detach))["messageData"]!["imageIds"]!.AsArray().Select(Str));
        Assert.Equal(0, await RefCount(user, a));
        await ShouldBeProblem(await Send(user, HttpMethod.Delete, $"/api/messages/{messageId}/images/{a}"), 404, "not_found");
        Assert.Equal(0, await RefCount(user, a));
    }

    [Fact]
    public async Task Concurrent_attaches_and_deletes_keep_every_refCount_exact()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var images = await SeedImages(user, id, 15);
        var messageId = await NewMessageId(user, id, "target");
        var attaches = images.Select(img => Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Json(new { imageId = img }).ToUrl($"/api/messages/{messageId}/images");
            s.StatusCodeShouldBe(200);
        }));
        // Meanwhile other messages reference the same images and are deleted again.
        var churn = images.Take(5).Select(async img =>
        {
            var other = Str((await PostMessage(user, id, "churn", imageIds: [img]))["id"]);
            await Host.Scenario(s => { s.As(user); s.Delete.Url($"/api/messages/{other}"); s.StatusCodeShouldBe(200); });
        });
        await Task.WhenAll(attaches.Cast<Task>().Concat(churn));

        var attached = (await Get(user, $"/api/messages/{messageId}"))["messageData"]!["imageIds"]!.AsArray().Select(Str).ToList();
        Assert.Equal(images.Order(), attached.Order());
        foreach (var img in images) Assert.Equal(1, await RefCount(user, img));
        Assert.Equal(1, (await Get(user, $"/api/sessions/{id}"))["session"]!["messageCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task Attaching_an_unusable_image_answers_400_naming_it()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var failed = await SeedImage(user, id, status: "failed");
        var messageId = await NewMessageId(user, id);
        var missing = Guid.CreateVersion7().ToString("N");
        foreach (var bad in new[] { failed, missing })
        {
            var body = await ShouldBeProblem(await Send(user, HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = bad }), 400, "validation_failed");
            Assert.Contains(bad, Str(body["message"]));
        }
        Assert.Empty((await Get(user, $"/api/messages/{messageId}"))["messageData"]!["imageIds"]!.AsArray());
        var malformed = await ShouldBeProblem(await Send(user, HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = "no spaces allowed" }), 400, "validation_failed");
        Assert.NotNull(malformed["errors"]!["imageId"]);
    }

    [Fact]
    public async Task More_than_20_images_on_a_message_answers_400()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var images = await SeedImages(user, id, 21);
        var messageId = Str((await PostMessage(user, id, "many", imageIds: images.Take(20).ToArray()))["id"]);
        await ShouldBeProblem(await Send(user, HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = images[20] }), 400, "validation_failed");
        Assert.Equal(0, await RefCount(user, images[20]));
        await ShouldBeProblem(await Send(user, HttpMethod.Post, $"/api/sessions/{id}/messages", new { role = "user", text = "x", imageIds = images }), 400, "validation_failed");
    }
}
