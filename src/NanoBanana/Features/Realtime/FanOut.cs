using System.Text.Json;
using JasperFx;
using JasperFx.CodeGeneration;
using JasperFx.CodeGeneration.Frames;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;
using Wolverine;
using Wolverine.Configuration;
using Wolverine.Runtime.Handlers;

namespace NanoBanana.Features.Realtime;

/// <summary>
/// The one edge between the use cases and the sockets: every domain event (IUserEvent) is turned
/// into its SPEC section 5 frame type and payload and handed to the event log, which assigns the
/// user's seq, stores it for catch-up and publishes it to every instance.
/// Events a handler returns are appended by <see cref="AppendReturnedUserEvents"/> inside that
/// handler's own pipeline; an event published on the bus reaches <see cref="Handle"/>.
/// </summary>
public static class FanOutHandler
{
    // An event whose append meets a Redis that is away waits for it rather than being lost to the devices.
    public static void Configure(HandlerChain chain) => chain.RetryWhileRedisIsAway();

    // Wolverine finds this handler for every concrete IUserEvent (it dispatches on the interface).
    public static async Task Handle(IUserEvent e, EventLog log) =>
        await log.Append(e.UserId, TypeOf(e), e.SessionScope, PayloadOf(e));

    /// <summary>
    /// Makes a change and appends its event in one script (<see cref="EventLog.Apply"/>), for a change whose
    /// retry, finding it made, could not tell whether its event went out (returning the event would append
    /// it only after the change, as a second write): the thumbnail job, uploads, the deletes and edits of
    /// sessions and messages. Returns what the change answered.
    /// </summary>
    public static Task<RedisResult> AppendWith(IUserEvent e, LoggedChange change, RedisKey[] keys, RedisValue[] args, EventLog log) =>
        AppendWith([e], change, keys, args, log);

    /// <summary>
    /// As above, for a change that raises several events (all of one user), appended in list order; values of
    /// their payloads that only the change's script decides are left to it as <paramref name="holes"/>.
    /// </summary>
    public static Task<RedisResult> AppendWith(IReadOnlyList<IUserEvent> events, LoggedChange change, RedisKey[] keys, RedisValue[] args,
        EventLog log, PayloadHoles? holes = null) =>
        log.Apply(change, events[0].UserId, keys, args, events.Select(e => (TypeOf(e), e.SessionScope, PayloadOf(e))).ToList(), holes);

    // The unsent mark goes in the script that appends: whichever attempt removes it appends the events, no other does.
    static readonly LoggedChange TakeUnsentMark = new("return redis.call('DEL', KEYS[1])");

    /// <summary>The return action for the events of a create under an Idempotency-Key: appended once, by the attempt that takes the mark.</summary>
    public static Task AppendOnce(OnceEvents? once, EventLog log) =>
        once is null || once.Events.Count == 0 ? Task.CompletedTask
            : AppendWith(once.Events, TakeUnsentMark, [once.UnsentMark], [], log);

    /// <summary>The return action for one returned event (null: the handler raised none, e.g. an idempotent retry).</summary>
    public static Task AppendReturned(IUserEvent? e, EventLog log) => e is null ? Task.CompletedTask : Handle(e, log);

    /// <summary>The return action for several returned events, appended one after another in list order.</summary>
    public static async Task AppendReturnedAll(UserEvents? events, EventLog log)
    {
        foreach (var e in events ?? []) await Handle(e, log);
    }

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

/// <summary>
/// Every event a handler returns is appended to the user's event log as part of that handler, in the
/// order returned, before its caller is answered; not cascaded to a queue. So:
/// <list type="bullet">
/// <item>a change acknowledged to a client (its 2xx) is already in the log: an instance that dies
/// after answering loses no event, and a device that resumes finds it;</item>
/// <item>seq order follows the order of the answers: a client that edits, then deletes after the
/// edit's answer, gives every device the edit before the delete, whichever instances served them;</item>
/// <item>no queue hop between the commit and the publish: the other devices' frames leave as the
/// answer does.</item>
/// </list>
/// If the append fails (Redis went away between the change and its event), the call fails with it:
/// the client sees the outcome as unknown (503) rather than a success its other devices never hear of.
/// </summary>
public sealed class AppendReturnedUserEvents : IHandlerPolicy
{
    public void Apply(IReadOnlyList<HandlerChain> chains, GenerationRules rules, IServiceContainer container)
    {
        var one = typeof(FanOutHandler).GetMethod(nameof(FanOutHandler.AppendReturned))!;
        var many = typeof(FanOutHandler).GetMethod(nameof(FanOutHandler.AppendReturnedAll))!;
        var once = typeof(FanOutHandler).GetMethod(nameof(FanOutHandler.AppendOnce))!;
        foreach (var chain in chains)
        {
            foreach (var returned in chain.ReturnVariablesOfType<IUserEvent>())
                returned.UseReturnAction(v => Call(one, v), "Appended to the user's event log before the caller is answered");
            foreach (var returned in chain.ReturnVariablesOfType<UserEvents>())
                returned.UseReturnAction(v => Call(many, v), "Appended to the user's event log before the caller is answered");
            foreach (var returned in chain.ReturnVariablesOfType<OnceEvents>())
                returned.UseReturnAction(v => Call(once, v), "Appended to the user's event log once, by the attempt that takes the unsent mark");
        }
    }

    static MethodCall Call(System.Reflection.MethodInfo method, JasperFx.CodeGeneration.Model.Variable returned)
    {
        var call = new MethodCall(typeof(FanOutHandler), method);
        call.Arguments[0] = returned;
        return call;
    }
}

public static class FanOutRouting
{
    public const string Queue = "realtime";

    /// <summary>How many local queues share the fan-out; each processes its users' events in order.</summary>
    public const int Partitions = 8;

    /// <summary>
    /// Handlers' returned events are appended in their own pipeline (<see cref="AppendReturnedUserEvents"/>).
    /// Events published on the bus instead (a tool, a test, a future handler that publishes) are
    /// partitioned by user over sequential local queues: one user's events are appended in the order
    /// they were published, while different users' events are appended in parallel.
    /// </summary>
    public static void RouteUserEventsToRealtime(this WolverineOptions opts)
    {
        opts.Policies.Add<AppendReturnedUserEvents>();
        opts.MessagePartitioning.ByMessage<IUserEvent>(e => e.UserId);
        opts.MessagePartitioning.PublishToPartitionedLocalMessaging(Queue, Partitions,
            topology => topology.MessagesImplementing<IUserEvent>());
    }
}
