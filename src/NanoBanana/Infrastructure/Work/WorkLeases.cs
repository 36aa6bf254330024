using System.Collections.Concurrent;
using System.Text.Json;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Infrastructure.Work;

/// <summary>
/// The lease store of background work, in Redis. Per scope (a hash tag: the user's, or one of its own such as
/// <c>gc</c>) a ZSET scores each work id by when its lease lapses, beside HASHes of its message, its holder and its
/// takeovers; every script touches one scope, so one cluster slot. <see cref="Keys.WorkScopes"/> lists the scopes
/// that may hold work, for the sweep. This instance renews the leases of the work it holds (queued or running);
/// the sweep of every instance takes over work whose lease lapsed (its holder died) or that is due again.
/// </summary>
public sealed class WorkLeases(IDatabase db, Settings settings, TimeProvider clock, ILogger<WorkLeases> log)
{
    /// <summary>Work taken over more often than this (it kills its instance, or keeps failing) is dropped, with an error logged.</summary>
    public const int MaxTakeovers = 5;
    const int SweepBatch = 100;

    readonly ConcurrentDictionary<(string Scope, string Id), ILeasedWork> _held = new();
    readonly ConcurrentDictionary<(string Scope, string Id), byte> _running = new();
    volatile bool _stopping;

    /// <summary>This process, as the holder of its leases.</summary>
    public string Owner { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
    public TimeSpan Lease => settings.WorkLease;
    /// <summary>Renewal and sweep period: a tenth of the lease, so a lapsed lease is taken over within about 1.1 leases.</summary>
    public TimeSpan SweepInterval => TimeSpan.FromMilliseconds(Math.Max(100, settings.WorkLease.TotalMilliseconds / 10));

    long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();
    long Deadline => Now + (long)Lease.TotalMilliseconds;

    /// <summary>Lists the work's scope for the sweep; done before the work is written (an entry younger than a lease is never unlisted).</summary>
    public Task Index(ILeasedWork work) => db.SortedSetAddAsync(Keys.WorkScopes, work.LeaseScope, Now, SortedSetWhen.GreaterThan);

    /// <summary>Records the work's lease, held by this instance, among the writes of the change that creates it.</summary>
    public void Enqueue(RedisWrites tx, ILeasedWork work)
    {
        tx.SortedSetAdd(Keys.WorkLeases(work.LeaseScope), work.LeaseId, Deadline);
        tx.HashSet(Keys.WorkMessages(work.LeaseScope), work.LeaseId, Serialize(work));
        tx.HashSet(Keys.WorkOwners(work.LeaseScope), work.LeaseId, Owner);
        tx.HashDelete(Keys.WorkTakeovers(work.LeaseScope), work.LeaseId);
    }

    /// <summary>After the enqueuing transaction committed: this instance holds (and renews) the work until it runs.</summary>
    public void Hold(ILeasedWork work) => _held[(work.LeaseScope, work.LeaseId)] = work;

    // Free (absent, lapsed, postponed) or already ours: ours now, with this message. Held by a live other: not ours.
    static readonly LuaScript TakeScript = LuaScript.Prepare("""
        local lapse = redis.call('ZSCORE', @leases, @id)
        if lapse and tonumber(lapse) > tonumber(@now) then
          local owner = redis.call('HGET', @owners, @id)
          if owner and owner ~= @owner then return 0 end
        end
        redis.call('ZADD', @leases, @deadline, @id)
        redis.call('HSET', @owners, @id, @owner)
        redis.call('HSET', @messages, @id, @message)
        return 1
        """);

    /// <summary>Takes the lease to run the work now: false when a live instance holds it (the work runs there).</summary>
    public async Task<bool> Take(ILeasedWork work)
    {
        if (_stopping) return false; // handed back: another instance runs it
        await Index(work);
        var taken = (int)await db.ScriptEvaluateAsync(TakeScript, new
        {
            leases = (RedisKey)Keys.WorkLeases(work.LeaseScope), owners = (RedisKey)Keys.WorkOwners(work.LeaseScope),
            messages = (RedisKey)Keys.WorkMessages(work.LeaseScope), id = work.LeaseId, owner = Owner,
            now = Now, deadline = Deadline, message = Serialize(work),
        }) == 1;
        if (taken)
        {
            Hold(work);
            _running[(work.LeaseScope, work.LeaseId)] = 0;
        }
        return taken;
    }

    static readonly LuaScript AckScript = LuaScript.Prepare("""
        redis.call('ZREM', @leases, @id)
        redis.call('HDEL', @messages, @id)
        redis.call('HDEL', @owners, @id)
        redis.call('HDEL', @takeovers, @id)
        return 1
        """);

    /// <summary>The work is done: it leaves the store.</summary>
    public Task Ack(ILeasedWork work)
    {
        Release(work); // first: a renewal under way then sees the work gone, not lost
        return db.ScriptEvaluateAsync(AckScript, ScopeKeys(work.LeaseScope, work.LeaseId));
    }

    static readonly LuaScript PostponeScript = LuaScript.Prepare("""
        redis.call('ZADD', @leases, @due, @id)
        redis.call('HSET', @messages, @id, @message)
        redis.call('HDEL', @owners, @id)
        redis.call('HDEL', @takeovers, @id)
        return 1
        """);

    /// <summary>The work goes back to the store with its new message, held by nobody, due after the delay.</summary>
    public async Task Postpone(RetryLater retry)
    {
        var work = retry.Work;
        await db.ScriptEvaluateAsync(PostponeScript, new
        {
            leases = (RedisKey)Keys.WorkLeases(work.LeaseScope), messages = (RedisKey)Keys.WorkMessages(work.LeaseScope),
            owners = (RedisKey)Keys.WorkOwners(work.LeaseScope), takeovers = (RedisKey)Keys.WorkTakeovers(work.LeaseScope),
            id = work.LeaseId, message = Serialize(work), due = Now + (long)retry.Delay.TotalMilliseconds,
        });
        Release(work);
    }

    /// <summary>No longer renewed here (its run failed): the lease lapses and the sweep hands the work out again.</summary>
    public void Release(ILeasedWork work)
    {
        _held.TryRemove((work.LeaseScope, work.LeaseId), out _);
        _running.TryRemove((work.LeaseScope, work.LeaseId), out _);
    }

    // Due now and held by nobody; the takeover the sweep will count is not a failure, so it is counted back first.
    static readonly LuaScript HandBackScript = LuaScript.Prepare("""
        if redis.call('HGET', @owners, @id) ~= @owner then return 0 end
        redis.call('ZADD', @leases, 'XX', @now, @id)
        redis.call('HDEL', @owners, @id)
        redis.call('HINCRBY', @takeovers, @id, -1)
        return 1
        """);

    /// <summary>
    /// This instance is stopping: work it holds but has not started runs nowhere here any more and is handed back,
    /// due at once, so another instance's next sweep takes it instead of waiting for the lease to lapse.
    /// Work already running here finishes (or its lease lapses) as before.
    /// </summary>
    public async Task HandBack()
    {
        _stopping = true;
        var waiting = _held.Where(h => !_running.ContainsKey(h.Key)).ToArray();
        var now = Now;
        await Task.WhenAll(waiting.Select(h => db.ScriptEvaluateAsync(HandBackScript, new
        {
            leases = (RedisKey)Keys.WorkLeases(h.Key.Scope), owners = (RedisKey)Keys.WorkOwners(h.Key.Scope),
            takeovers = (RedisKey)Keys.WorkTakeovers(h.Key.Scope), id = h.Key.Id, owner = Owner, now,
        })));
        foreach (var h in waiting) _held.TryRemove(h.Key, out _);
        if (waiting.Length > 0) log.LogInformation("Handed back {Count} pieces of work not started here (stopping)", waiting.Length);
    }

    static readonly LuaScript RenewScript = LuaScript.Prepare("""
        if redis.call('HGET', @owners, @id) ~= @owner then return 0 end
        redis.call('ZADD', @leases, 'XX', @deadline, @id)
        return 1
        """);

    /// <summary>Renews every lease this instance holds; one lost meanwhile (taken over, or done elsewhere) is no longer held.</summary>
    public async Task Renew()
    {
        var held = _held.ToArray();
        var renewed = await Task.WhenAll(held.Select(h => db.ScriptEvaluateAsync(RenewScript, new
        {
            leases = (RedisKey)Keys.WorkLeases(h.Key.Scope), owners = (RedisKey)Keys.WorkOwners(h.Key.Scope),
            id = h.Key.Id, owner = Owner, deadline = Deadline,
        })));
        for (var i = 0; i < held.Length; i++)
        {
            if ((int)renewed[i] == 1 || !_held.TryRemove(held[i].Key, out _)) continue; // renewed, or finished here meanwhile
            log.LogInformation("Lease of work {Scope}/{Id} is no longer held here (taken over or finished elsewhere)", held[i].Key.Scope, held[i].Key.Id);
        }
    }

    // Due work (lapsed, or postponed until now) becomes ours; work taken over too often, or unreadable, is dropped.
    static readonly LuaScript SweepScript = LuaScript.Prepare("""
        local due = redis.call('ZRANGEBYSCORE', @leases, '-inf', @now, 'LIMIT', 0, tonumber(@batch))
        local out = {0}
        for _, id in ipairs(due) do
          local message = redis.call('HGET', @messages, id)
          local n = redis.call('HINCRBY', @takeovers, id, 1)
          if message and n <= tonumber(@maxTakeovers) then
            redis.call('ZADD', @leases, @deadline, id)
            redis.call('HSET', @owners, id, @owner)
          else
            redis.call('ZREM', @leases, id)
            redis.call('HDEL', @messages, id)
            redis.call('HDEL', @owners, id)
            redis.call('HDEL', @takeovers, id)
            message = ''
          end
          table.insert(out, id)
          table.insert(out, message)
        end
        out[1] = redis.call('ZCARD', @leases)
        return out
        """);

    static readonly LuaScript UnlistIfUnchanged = LuaScript.Prepare("""
        local seen = redis.call('ZSCORE', @index, @scope)
        if seen and tonumber(seen) == tonumber(@score) then return redis.call('ZREM', @index, @scope) end
        return 0
        """);

    /// <summary>
    /// Takes every due work of every listed scope (this instance holds it from now on) and gives it back to be run.
    /// A scope with no work left whose listing is older than a lease is unlisted: an enqueue lists its scope before
    /// it commits (and moves the score), so a scope whose work is on its way is never unlisted.
    /// </summary>
    public async Task<List<ILeasedWork>> Sweep()
    {
        var taken = new List<ILeasedWork>();
        var scopes = await db.SortedSetRangeByRankWithScoresAsync(Keys.WorkScopes);
        foreach (var chunk in scopes.Chunk(256))
        {
            var now = Now;
            var results = await Task.WhenAll(chunk.Select(s => db.ScriptEvaluateAsync(SweepScript, new
            {
                leases = (RedisKey)Keys.WorkLeases(s.Element!), messages = (RedisKey)Keys.WorkMessages(s.Element!),
                owners = (RedisKey)Keys.WorkOwners(s.Element!), takeovers = (RedisKey)Keys.WorkTakeovers(s.Element!),
                now, deadline = Deadline, owner = Owner, batch = SweepBatch, maxTakeovers = MaxTakeovers,
            })));
            var unlist = new List<Task>();
            for (var i = 0; i < chunk.Length; i++)
            {
                var scope = chunk[i].Element.ToString();
                var found = (RedisResult[])results[i]!;
                for (var j = 1; j + 1 < found.Length; j += 2)
                {
                    var id = found[j].ToString();
                    if (Deserialize(found[j + 1].ToString()) is { } work)
                    {
                        // Already held here (queued, its renewals late): it runs once here, not twice.
                        if (_held.TryAdd((scope, id), work)) taken.Add(work);
                    }
                    else log.LogError("Work {Scope}/{Id} was dropped: taken over more than {Max} times, or its message is unreadable", scope, id, MaxTakeovers);
                }
                if ((long)found[0] == 0 && chunk[i].Score < now - Lease.TotalMilliseconds)
                    unlist.Add(db.ScriptEvaluateAsync(UnlistIfUnchanged, new { index = (RedisKey)Keys.WorkScopes, scope, score = chunk[i].Score }));
            }
            await Task.WhenAll(unlist);
        }
        if (taken.Count > 0) log.LogInformation("Took over {Count} pieces of work whose lease had lapsed or that were due again", taken.Count);
        return taken;
    }

    static object ScopeKeys(string scope, string id) => new
    {
        leases = (RedisKey)Keys.WorkLeases(scope), messages = (RedisKey)Keys.WorkMessages(scope),
        owners = (RedisKey)Keys.WorkOwners(scope), takeovers = (RedisKey)Keys.WorkTakeovers(scope), id,
    };

    static readonly Dictionary<string, Type> WorkTypes = typeof(WorkLeases).Assembly.GetTypes()
        .Where(t => t is { IsAbstract: false, IsInterface: false } && t.IsAssignableTo(typeof(ILeasedWork)))
        .ToDictionary(t => t.FullName!);

    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The stored message: its type's full name, a newline, its JSON.</summary>
    public static string Serialize(ILeasedWork work) => $"{work.GetType().FullName}\n{JsonSerializer.Serialize(work, work.GetType(), Json)}";

    public static ILeasedWork? Deserialize(string stored)
    {
        var newline = stored.IndexOf('\n');
        if (newline < 0 || !WorkTypes.TryGetValue(stored[..newline], out var type)) return null;
        try { return JsonSerializer.Deserialize(stored.AsSpan(newline + 1), type, Json) as ILeasedWork; }
        catch (JsonException) { return null; }
    }
}
