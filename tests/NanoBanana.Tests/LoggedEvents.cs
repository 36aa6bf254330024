using System.Text.Json;
using System.Text.Json.Nodes;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Realtime;

namespace NanoBanana.Tests;

/// <summary>
/// Reads what a call put into a user's event log (what every device of the user receives), as the
/// domain events the handlers returned, so tests can assert on them by type.
/// </summary>
public static class LoggedEvents
{
    static readonly JsonSerializerOptions Options = CreateOptions();

    static JsonSerializerOptions CreateOptions()
    {
        var o = new JsonSerializerOptions();
        NanoBanana.Infrastructure.Http.Json.Configure(o);
        return o;
    }

    /// <summary>The user's last seq now: pass it to <see cref="Since"/> after the call.</summary>
    public static Task<long> Mark(IAlbaHost host, string userId) => host.Services.GetRequiredService<EventLog>().LastSeq(userId);

    /// <summary>The events logged for the user after <paramref name="since"/>, oldest first.</summary>
    public static async Task<List<IUserEvent>> Since(IAlbaHost host, string userId, long since)
    {
        var read = await host.Services.GetRequiredService<EventLog>().Read(userId, since, 1000);
        Assert.False(read.ResyncRequired, "the event log lost events the test was reading");
        return read.Events.Select(e => ToDomain(userId, e)).ToList();
    }

    public static IUserEvent ToDomain(string userId, LoggedEvent e)
    {
        var p = JsonNode.Parse(e.Payload)!;
        T Read<T>(string key) => p[key].Deserialize<T>(Options)!;
        return e.Type switch
        {
            "session_created" => new SessionCreated(userId, Read<SessionDto>("session")),
            "session_updated" => new SessionUpdated(userId, Read<SessionDto>("session")),
            "session_deleted" => new SessionDeleted(userId, Read<string>("sessionId")),
            "message_created" => new MessageCreated(userId, Read<MessageDto>("messageData")),
            "message_updated" => new MessageUpdated(userId, Read<MessageDto>("messageData")),
            "message_deleted" => new MessageDeleted(userId, Read<string>("sessionId"), Read<string>("messageId")),
            "image_uploaded" => new ImageUploaded(userId, Read<ImageDto>("image")),
            "image_ready" => new ImageReady(userId, Read<ImageDto>("image")),
            "image_failed" => new ImageFailed(userId, Read<ImageDto>("image"), Read<string>("reason")),
            "generation_queued" => new GenerationQueued(userId, Read<GenerationDto>("generation")),
            "generation_started" => new GenerationStarted(userId, Read<GenerationDto>("generation")),
            "generation_succeeded" => new GenerationSucceeded(userId, Read<GenerationDto>("generation")),
            "generation_failed" => new GenerationFailed(userId, Read<GenerationDto>("generation")),
            "generation_cancelled" => new GenerationCancelled(userId, Read<GenerationDto>("generation")),
            var other => throw new InvalidOperationException($"unknown event type {other}"),
        };
    }
}
