using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Work;
using StackExchange.Redis;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Features.Images;

/// <summary>Helpers of the image tests: a live session, multipart uploads, waiting for the thumbnail work.</summary>
public abstract class ImageTestContext(AppFixture app) : IntegrationContext(app)
{
    /// <summary>A live session of <paramref name="user"/>, created through the sessions route.</summary>
    protected static async Task<string> CreateSession(IAlbaHost host, TestUser user) =>
        (await Json(await host.Scenario(s =>
        {
            s.Post.Json(new { title = "Pictures" }).ToUrl("/api/sessions");
            s.As(user);
            s.StatusCodeShouldBe(201);
        })))["session"]!["id"]!.GetValue<string>();

    protected Task<string> CreateSession(TestUser user) => CreateSession(Host, user);

    /// <summary>The user's background work still in the lease store (not finished yet).</summary>
    protected Task<long> UnfinishedWork(TestUser user) => Redis.SortedSetLengthAsync(Keys.WorkLeases(WorkScope.OfUser(user.Id)));

    /// <summary>A message of <paramref name="user"/> that references <paramref name="imageIds"/> (their refCount goes up).</summary>
    protected static async Task<string> PostMessageWith(IAlbaHost host, TestUser user, string sessionId, params string[] imageIds) =>
        (await Json(await host.Scenario(s =>
        {
            s.Post.Json(new { role = "user", text = "look", imageIds }).ToUrl($"/api/sessions/{sessionId}/messages");
            s.As(user);
            s.StatusCodeShouldBe(201);
        })))["messageData"]!["id"]!.GetValue<string>();

    public static MultipartFormDataContent Form(string? sessionId, string? type, string field, params (string Name, byte[] Bytes, string ContentType)[] files)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, bytes, contentType) in files)
        {
            var part = new ByteArrayContent(bytes);
            part.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            form.Add(part, field, name);
        }
        if (sessionId is not null) form.Add(new StringContent(sessionId), "sessionId");
        if (type is not null) form.Add(new StringContent(type), "type");
        return form;
    }

    protected static Task<IScenarioResult> Upload(IAlbaHost host, TestUser user, string sessionId, byte[] bytes, string fileName = "photo.jpg",
        string type = "uploaded", string contentType = "image/jpeg", int? expect = null) =>
        host.Scenario(s =>
        {
            s.Post.MultipartFormData(Form(sessionId, type, "image", (fileName, bytes, contentType))).ToUrl("/api/images/upload");
            s.As(user);
            if (expect is { } status) s.StatusCodeShouldBe(status); else s.IgnoreStatusCode();
        });

    /// <summary>Uploads and waits (Wolverine tracking) until the thumbnail job and every message it raised are done.</summary>
    protected static async Task<(JsonObject Image, ITrackedSession Tracked)> UploadAndWait(IAlbaHost host, TestUser user, string sessionId,
        byte[] bytes, string fileName = "photo.jpg", string type = "uploaded")
    {
        IScenarioResult? result = null;
        var tracked = await host.TrackActivity(TimeSpan.FromSeconds(60)).ExecuteAndWaitAsync(
            (Func<Wolverine.IMessageContext, Task>)(async _ => result = await Upload(host, user, sessionId, bytes, fileName, type, expect: 201)));
        return ((await Json(result!))["image"]!.AsObject(), tracked);
    }

    protected static async Task<JsonObject> GetImage(IAlbaHost host, TestUser user, string imageId) =>
        (await Json(await host.Scenario(s =>
        {
            s.Get.Url($"/api/images/{imageId}");
            s.As(user);
            s.StatusCodeShouldBe(200);
        })))["image"]!.AsObject();

    /// <summary>Fetches a URL the API handed out: local blob URLs through the test server, presigned S3 URLs over HTTP.</summary>
    protected static async Task<(int Status, byte[] Bytes, string? ContentType)> Fetch(IAlbaHost host, string url)
    {
        var uri = new Uri(url);
        if (uri.AbsolutePath.StartsWith("/blobs/"))
        {
            var result = await host.Scenario(s =>
            {
                s.Get.Url(uri.PathAndQuery);
                s.IgnoreStatusCode();
            });
            var body = new MemoryStream();
            if (result.Context.Response.Body.CanSeek) result.Context.Response.Body.Position = 0;
            await result.Context.Response.Body.CopyToAsync(body);
            return (result.Context.Response.StatusCode, body.ToArray(), result.Context.Response.ContentType);
        }
        using var http = new HttpClient();
        using var response = await http.GetAsync(uri);
        return ((int)response.StatusCode, await response.Content.ReadAsByteArrayAsync(), response.Content.Headers.ContentType?.MediaType);
    }
}
