using System.Text.Json;
using JasperFx;
using JasperFx.CodeGeneration;
using JasperFx.CodeGeneration.Frames;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Work;
using StackExchange.Redis;
using Wolverine;
using Wolverine.Configuration;
using Wolverine.ErrorHandling;
using Wolverine.Runtime.Handlers;

namespace NanoBanana.Features.Realtime;

/// <summary>
/// The one place where a user's data changes: the <see cref="UserChange"/> a handler returns is committed
/// here, with its events, before the handler's caller is answered. One Redis script (every key in the
/// user's slot) runs the change's writes, moves the user's version and appends the events with the next
/// seqs, on condition that the version and the last seq are still those the change was decided on. So:
/// <list type="bullet">
/// <item>a change and its events are stored together or not at all: an acknowledged change is always in the log;</item>
/// <item>seq order is commit order, and so follows the order of the answers, whichever instances served them;</item>
/// <item>a change decided on data that moved meanwhile is not written: <see cref="UserDataMoved"/> makes
/// Wolverine run the handler again on fresh data (<see cref="RetryOnMovedData"/>), the codebase's one retry loop;</item>
/// <item>if Redis fails during the commit the caller gets 503: the outcome is unknown, never silently lost.</item>
/// </list>
/// </summary>
public static class CommitChanges
{
    /// <summary>Commits a change that enqueues no work (tests and benches that commit by hand).</summary>
    public static Task Commit(UserChange? change, IDatabase db, EventLog log, TimeProvider clock) =>
        Commit(change, db, log, clock, null, null, turn: null);

    /// <summary>
    /// Commits the change; the work it enqueues is written (held by this instance) in the same transaction, and
    /// handed to the local queues once committed (<paramref name="messages"/> sends it when the handler is done).
    /// </summary>
    public static Task Commit(UserChange? change, IDatabase db, EventLog log, TimeProvider clock, WorkLeases? leases, IMessageContext? messages) =>
        Commit(change, db, log, clock, leases, messages, turn: null);

    /// <summary>
    /// As <see cref="Commit(UserChange?, IDatabase, EventLog, TimeProvider, WorkLeases?, IMessageContext?)"/> for a command
    /// decided in its user's turn (<see cref="OneChangeAtATime"/>): the turn ends as soon as the commit is sent, not
    /// when its reply comes. One connection carries every command in order, so the next change's reads run after this
    /// commit and see it; were they to run before it, the conditions would still refuse the stale decision. What the
    /// change carries (<see cref="UserChange.Carry"/>) goes to the next turn with the basis this commit leaves; if the
    /// commit fails, it is dropped, and a decision made on it meanwhile is refused by its condition (the version is
    /// this commit's id).
    /// </summary>
    public static Task CommitInTurn(UserChange? change, IDatabase db, EventLog log, TimeProvider clock, WorkLeases? leases,
        IMessageContext? messages, UserTurn turn) =>
        Commit(change, db, log, clock, leases, messages, turn);

    static async Task Commit(UserChange? change, IDatabase db, EventLog log, TimeProvider clock, WorkLeases? leases,
        IMessageContext? messages, UserTurn? turn)
    {
        if (change is null) return;
        if (change.Work.Count > 0 && (leases is null || messages is null))
            throw new InvalidOperationException("A change that enqueues work is committed by a handler (with the work leases and its message context).");
        var (userId, version, lastSeq) = change.Basis;
        // Listed before the work exists, so the sweep of every instance finds it should this one die.
        if (change.Work.Count > 0) await leases!.Index(change.Work[0]);
        var writes = new RedisWrites();
        var id = Ids.New();
        writes.StringSet(Keys.UserVersion(userId), id);
        foreach (var write in change.Writes) write(writes);
        var at = clock.GetUtcNow();
        log.Append(writes, userId, lastSeq, at, change.Events.Select(e => (TypeOf(e), e.SessionScope, PayloadOf(e))));
        var seq = lastSeq + change.Events.Count;
        foreach (var work in change.Work) leases!.Enqueue(writes, work);

        var committed = db.ScriptEvaluateAsync(CommitScript,
            [Keys.UserVersion(userId), Keys.EventSeq(userId), .. writes.KeyList], [version, lastSeq, .. writes.Arguments]);
        turn?.End(change.Carries is { } state ? new CarriedChange(new UserBasis(userId, id, seq), state) : null);
        bool applied;
        try { applied = (long)await committed == 1; }
        catch
        {
            turn?.Forget();
            throw;
        }
        if (!applied)
        {
            turn?.Forget();
            throw new UserDataMoved(userId);
        }
        foreach (var work in change.Work)
        {
            leases!.Hold(work);
            await messages!.PublishAsync(work);
        }
        if (seq / 64 != lastSeq / 64) await TrimQuietly(log, userId, at);
    }

    // The change is committed: a trim that fails (Redis hiccup) must not turn its answer into an error;
    // the next one trims instead.
    static async Task TrimQuietly(EventLog log, string userId, DateTimeOffset at)
    {
        try { await log.Trim(userId, at); }
        catch (Exception e) when (RedisFailures.IsUnavailable(e)) { }
    }

    // The version (the id of the commit that set it; '': none) and the last seq (KEYS 1 and 2) still those the change was
    // decided on (ARGV 1 and 2):
    // then the recorded writes (RedisWrites) run, each as its name, key count, argument count and arguments. Checked
    // in the script rather than by WATCH: one round trip, and the connection is never held while conditions are read.
    // Its parameters are lists, not names: LuaScript's @names take one value each. A command of one key or none (all
    // but a multi-key UNLINK) is called straight from KEYS and ARGV, without building a table: a post's commit takes
    // 22 % fewer Redis instructions so (docs/decisions.md, "Commit as one script").
    const string CommitScript = """
        if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1]
          or (tonumber(redis.call('GET', KEYS[2])) or 0) ~= tonumber(ARGV[2]) then return 0 end
        local k, a, n = 3, 3, #ARGV
        while a <= n do
          local keys, first, last = tonumber(ARGV[a + 1]), a + 3, a + 2 + tonumber(ARGV[a + 2])
          if keys == 1 then redis.call(ARGV[a], KEYS[k], unpack(ARGV, first, last))
          elseif keys == 0 then redis.call(ARGV[a], unpack(ARGV, first, last))
          else
            local call = {ARGV[a]}
            for i = k, k + keys - 1 do call[#call + 1] = KEYS[i] end
            for i = first, last do call[#call + 1] = ARGV[i] end
            redis.call(unpack(call))
          end
          k, a = k + keys, last + 1
        end
        return 1
        """;

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
        GenerationQueued => "generation_queued",
        GenerationStarted => "generation_started",
        GenerationSucceeded => "generation_succeeded",
        GenerationFailed => "generation_failed",
        GenerationCancelled => "generation_cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name, "No realtime frame for this event."),
    };

    /// <summary>Payloads use the REST keys (SPEC section 5), written by the API's serializer.</summary>
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
        GenerationQueued x => Serialize(new { generation = x.Generation }),
        GenerationStarted x => Serialize(new { generation = x.Generation }),
        GenerationSucceeded x => Serialize(new { generation = x.Generation }),
        GenerationFailed x => Serialize(new { generation = x.Generation }),
        GenerationCancelled x => Serialize(new { generation = x.Generation }),
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

    // Contention is per person (one user's devices and background work): each round one of them commits, and
    // the growing waits spread the others out. 24 tries (Wolverine allows 25 attempts), about 4 s in all.
    static readonly TimeSpan[] Backoff =
        [.. new[] { 0, 0, 1, 1, 2, 2, 4, 4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128, 256, 256, 512, 512, 1000, 1000 }.Select(ms => TimeSpan.FromMilliseconds(ms))];

    /// <summary>Commits every <see cref="UserChange"/> a handler returns, and runs a handler whose change met moved data again.</summary>
    public static void CommitReturnedChanges(this WolverineOptions opts)
    {
        opts.Policies.Add<CommitReturnedChangesPolicy>();
        opts.Policies.OnException<UserDataMoved>().RetryWithCooldown(Backoff);
        // Without it, n concurrent changes of one user cost about n²/2 decisions (each round one commits).
        opts.Policies.AddMiddleware(typeof(OneChangeAtATime), chain => chain.MessageType.IsAssignableTo(typeof(IChangesUserData)));
        opts.Services.AddSingleton<UserGates>();
    }

    sealed class CommitReturnedChangesPolicy : IHandlerPolicy
    {
        public void Apply(IReadOnlyList<HandlerChain> chains, GenerationRules rules, IServiceContainer container)
        {
            var commit = typeof(CommitChanges).GetMethod(nameof(Commit),
                [typeof(UserChange), typeof(IDatabase), typeof(EventLog), typeof(TimeProvider), typeof(WorkLeases), typeof(IMessageContext)])!;
            var commitInTurn = typeof(CommitChanges).GetMethod(nameof(CommitInTurn))!;
            foreach (var chain in chains)
            foreach (var returned in chain.ReturnVariablesOfType<UserChange>())
                returned.UseReturnAction(v =>
                {
                    // The turn is the variable OneChangeAtATime's BeforeAsync returned on these chains.
                    var call = new MethodCall(typeof(CommitChanges), chain.MessageType.IsAssignableTo(typeof(IChangesUserData)) ? commitInTurn : commit);
                    call.Arguments[0] = v;
                    return call;
                }, "Committed with its events before the caller is answered");
        }
    }
}
