using System.Text.Json;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using Wolverine;
using Wolverine.Runtime.Handlers;

namespace NanoBanana.Features.Realtime;

/// <summary>
/// The one edge between the use cases and the sockets: every domain event (IUserEvent) is turned
/// into its SPEC section 5 frame type and payload and handed to the event log, which assigns the
/// user's seq, stores it for catch-up and publishes it to every instance.
/// </summary>
public static class FanOutHandler
{
    // An event whose append meets a Redis that is away waits for it rather than being lost to the devices.
    public static void Configure(HandlerChain chain) => chain.RetryWhileRedisIsAway();

    // Wolverine finds this handler for every concrete IUserEvent (it dispatches on the interface).
    public static async Task Handle(IUserEvent e, EventLog log) =>
        await log.Append(e.UserId, TypeOf(e), e.SessionScope, PayloadOf(e));

    public static string TypeOf(IUserEvent e) => e switch
    {
        SessionCreated => "session_created",
        SessionUpdated => "session_updated",
        SessionDeleted => "session_deleted",
        MessageCreated => "message_created",
        MessageUpdated => "message_updated",
        MessageDeleted => "message_deleted",
        ImageUploaded => "image_uploaded",
        ImageReady => "image_ready",
        ImageFailed => "image_failed",
        _ => throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name, "No realtime frame for this event."),
    };

    /// <summary>Payloads use the REST keys (SPEC section 5), serialized as the API serializes them.</summary>
    public static string PayloadOf(IUserEvent e) => e switch
    {
        SessionCreated x => Serialize(new { session = x.Session }),
        SessionUpdated x => Serialize(new { session = x.Session }),
        SessionDeleted x => Serialize(new { sessionId = x.SessionId }),
        MessageCreated x => Serialize(new { messageData = x.Message }),
        MessageUpdated x => Serialize(new { messageData = x.Message }),
        MessageDeleted x => Serialize(new { messageId = x.MessageId, sessionId = x.SessionId }),
        ImageUploaded x => Serialize(new { image = x.Image }),
        ImageReady x => Serialize(new { image = x.Image }),
        ImageFailed x => Serialize(new { image = x.Image, reason = x.Reason }),
        _ => throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name, "No realtime payload for this event."),
    };

    static readonly JsonSerializerOptions Options = CreateOptions();

    static JsonSerializerOptions CreateOptions()
    {
        var o = new JsonSerializerOptions();
        Json.Configure(o);
        return o;
    }

    static string Serialize<T>(T payload) => JsonSerializer.Serialize(payload, Options);
}

public static class FanOutRouting
{
    public const string Queue = "realtime";

    /// <summary>How many local queues share the fan-out; each processes its users' events in order.</summary>
    public const int Partitions = 8;

    /// <summary>
    /// Domain events cascaded by any handler are partitioned by user over sequential local queues:
    /// one user's events are appended in the order they were raised (a message, then its session's
    /// new count get seqs in that order), while different users' events are appended in parallel.
    /// </summary>
    public static void RouteUserEventsToRealtime(this WolverineOptions opts)
    {
        opts.MessagePartitioning.ByMessage<IUserEvent>(e => e.UserId);
        opts.MessagePartitioning.PublishToPartitionedLocalMessaging(Queue, Partitions,
            topology => topology.MessagesImplementing<IUserEvent>());
    }
}
