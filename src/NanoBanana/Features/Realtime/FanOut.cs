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
/// The old event paths, left until the messages and images slices return a UserChange (CommitChanges):
/// events a handler returns appended after its change (<see cref="AppendReturnedUserEvents"/>), and
/// changes that append in their own script (<see cref="AppendWith(IUserEvent, LoggedChange, RedisKey[], RedisValue[], EventLog)"/>).
/// </summary>
public static class FanOutHandler
{
    static async Task Append(IUserEvent e, EventLog log) =>
        await log.Append(e.UserId, CommitChanges.TypeOf(e), e.SessionScope, CommitChanges.PayloadOf(e));

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
        log.Apply(change, events[0].UserId, keys, args, events.Select(e => (CommitChanges.TypeOf(e), e.SessionScope, CommitChanges.PayloadOf(e))).ToList(), holes);

    // The unsent mark goes in the script that appends: whichever attempt removes it appends the events, no other does.
    static readonly LoggedChange TakeUnsentMark = new("return redis.call('DEL', KEYS[1])");

    /// <summary>The return action for the events of a create under an Idempotency-Key: appended once, by the attempt that takes the mark.</summary>
    public static Task AppendOnce(OnceEvents? once, EventLog log) =>
        once is null || once.Events.Count == 0 ? Task.CompletedTask
            : AppendWith(once.Events, TakeUnsentMark, [once.UnsentMark], [], log);

    /// <summary>The return action for one returned event (null: the handler raised none, e.g. an idempotent retry).</summary>
    public static Task AppendReturned(IUserEvent? e, EventLog log) => e is null ? Task.CompletedTask : Append(e, log);

    /// <summary>The return action for several returned events, appended one after another in list order.</summary>
    public static async Task AppendReturnedAll(UserEvents? events, EventLog log)
    {
        foreach (var e in events ?? []) await Append(e, log);
    }
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
