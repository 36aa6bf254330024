using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NanoBanana.Features.Images.GenerateThumbnails;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine.Tracking;

namespace NanoBanana.Tests;

/// <summary>
/// A user's calls to the REST routes over HTTP, on the Alba test server or a Kestrel <see cref="LiveServer"/>:
/// how the realtime tests raise their events, through the one production path.
/// </summary>
public sealed class UserCalls(HttpClient http, TestUser user)
{
    public static UserCalls On(IAlbaHost host, TestUser user) => new(host.Server.CreateClient(), user);

    public static UserCalls On(LiveServer server, TestUser user) => new(new HttpClient { BaseAddress = server.Address }, user);

    /// <summary>session_created.</summary>
    public async Task<string> CreateSession(string? title = null) =>
        Id((await Send(HttpMethod.Post, "/api/sessions", title is null ? new JsonObject() : new JsonObject { ["title"] = title },
            HttpStatusCode.Created))["session"]);

    /// <summary>session_updated.</summary>
    public Task RenameSession(string sessionId, string title) =>
        Send(HttpMethod.Patch, $"/api/sessions/{sessionId}", new JsonObject { ["title"] = title });

    /// <summary>session_deleted.</summary>
    public Task DeleteSession(string sessionId) => Send(HttpMethod.Delete, $"/api/sessions/{sessionId}");

    /// <summary>message_created, then session_updated (its count and time), in one change; the message.</summary>
    public async Task<JsonObject> PostMessage(string sessionId, string text = "hello") =>
        (await Send(HttpMethod.Post, $"/api/sessions/{sessionId}/messages", new JsonObject { ["role"] = "user", ["text"] = text },
            HttpStatusCode.Created))["messageData"]!.AsObject();

    /// <summary>message_updated, then session_updated, in one change.</summary>
    public Task EditMessage(string messageId, string text) =>
        Send(HttpMethod.Put, $"/api/messages/{messageId}", new JsonObject { ["text"] = text });

    /// <summary>message_deleted, then session_updated, in one change.</summary>
    public Task DeleteMessage(string messageId) => Send(HttpMethod.Delete, $"/api/messages/{messageId}");

    /// <summary>One image_uploaded per file, in the files' order, in one change (image_ready or image_failed follow from the thumbnail job); the images.</summary>
    public async Task<List<JsonObject>> UploadBatch(string sessionId, byte[][] gifs, string type = "uploaded")
    {
        var form = new MultipartFormDataContent();
        for (var i = 0; i < gifs.Length; i++)
        {
            var part = new ByteArrayContent(gifs[i]);
            part.Headers.ContentType = MediaTypeHeaderValue.Parse("image/gif");
            form.Add(part, "images", $"{i}.gif");
        }
        form.Add(new StringContent(sessionId), "sessionId");
        form.Add(new StringContent(type), "type");
        var body = await Send(HttpMethod.Post, "/api/images/upload/batch", form, HttpStatusCode.Created);
        return [.. body["results"]!["successful"]!.AsArray().Select(i => i!.AsObject())];
    }

    /// <summary>Runs <paramref name="call"/> on <paramref name="host"/> and waits (Wolverine tracking) for the work it queued, such as thumbnail jobs.</summary>
    public static async Task<T> WithItsWork<T>(IHost host, Func<Task<T>> call)
    {
        T result = default!;
        await host.TrackActivity(TimeSpan.FromSeconds(60)).ExecuteAndWaitAsync(
            (Func<Wolverine.IMessageContext, Task>)(async _ => result = await call()));
        return result;
    }

    /// <summary>
    /// Ends a ready image failed through the thumbnail job (image_failed). No route makes a picture fail once its upload
    /// check passed, so its stored original is corrupted and its record (the images slice's key) set back to processing.
    /// </summary>
    public static async Task FailThumbnails(IHost host, TestUser user, JsonObject image)
    {
        var id = image["id"]!.GetValue<string>();
        await host.Services.GetRequiredService<IObjectStorage>()
            .PutAsync(image["path"]!.GetValue<string>(), new MemoryStream("GIF89a garbage"u8.ToArray()), "image/gif");
        await host.Services.GetRequiredService<IDatabase>().HashSetAsync(Keys.Image(user.Id, id), "status", "processing");
        await host.InvokeMessageAndWaitAsync(new GenerateThumbnails(user.Id, id));
    }

    async Task<JsonObject> Send(HttpMethod method, string url, object? body = null, HttpStatusCode expect = HttpStatusCode.OK)
    {
        using var request = new HttpRequestMessage(method, url)
        {
            Content = body switch { HttpContent c => c, JsonObject j => JsonContent.Create(j), _ => null },
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Token);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expect, $"{method} {url} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    static string Id(JsonNode? resource) => resource!["id"]!.GetValue<string>();
}
