using System.Collections.Immutable;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Infrastructure.Realtime;

/// <summary>
/// The socket cap per user across every instance (SPEC section 5): each open socket is a member of the user's
/// <see cref="Keys.UserSockets"/> set, scored by when its lease lapses. Its instance renews the leases of its live
/// sockets every <see cref="RenewEvery"/>; a dead instance's sockets stop counting once their leases lapse
/// (<c>WORK_LEASE_SECONDS</c>, as the work leases).
/// </summary>
public sealed class SocketLeases(IDatabase db, Settings settings, TimeProvider clock, ILogger<SocketLeases> log)
{
    TimeSpan Lease => settings.WorkLease;
    /// <summary>A third of the lease: a lease survives two missed renewals.</summary>
    public TimeSpan RenewEvery => TimeSpan.FromMilliseconds(Math.Max(100, Lease.TotalMilliseconds / 3));

    long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    // One script, so two instances admitting at once cannot both take the last place.
    static readonly LuaScript AdmitScript = LuaScript.Prepare("""
        redis.call('ZREMRANGEBYSCORE', @sockets, '-inf', @now)
        if redis.call('ZCARD', @sockets) >= tonumber(@max) then return 0 end
        redis.call('ZADD', @sockets, @lapse, @socket)
        redis.call('PEXPIRE', @sockets, @lease)
        return 1
        """);

    /// <summary>Counts the socket in if the user holds fewer than <paramref name="max"/> live sockets on all instances.</summary>
    public async Task<bool> Admit(Connection connection, int max)
    {
        var now = Now;
        var lease = (long)Lease.TotalMilliseconds;
        return (int)await db.ScriptEvaluateAsync(AdmitScript, new
        {
            sockets = (RedisKey)Keys.UserSockets(connection.UserId), socket = Member(connection),
            now, lapse = now + lease, lease, max,
        }) == 1;
    }

    /// <summary>
    /// The socket closed. Sent without waiting, in order behind any renewal already sent (the hub issues both under
    /// the user's gate), so a renewal never brings a closed socket back.
    /// </summary>
    public void Forget(Connection connection)
    {
        try { db.SortedSetRemove(Keys.UserSockets(connection.UserId), Member(connection), CommandFlags.FireAndForget); }
        catch (Exception e) when (e is RedisException or ObjectDisposedException)
        {
            log.LogDebug(e, "A closed socket was not taken out of its user's count: its lease lapses instead");
        }
    }

    /// <summary>
    /// Renews the leases of one user's sockets here: two commands, sent without waiting. A socket whose lease lapsed
    /// while Redis was away counts again.
    /// </summary>
    public void Renew(string userId, ImmutableArray<Connection> connections)
    {
        if (connections.IsEmpty) return;
        var lapse = Now + (long)Lease.TotalMilliseconds;
        var entries = new SortedSetEntry[connections.Length];
        for (var i = 0; i < entries.Length; i++) entries[i] = new SortedSetEntry(Member(connections[i]), lapse);
        var key = Keys.UserSockets(userId);
        db.SortedSetAdd(key, entries, CommandFlags.FireAndForget);
        db.KeyExpire(key, Lease, CommandFlags.FireAndForget);
    }

    static RedisValue Member(Connection connection) => connection.Id.ToString("N");
}

/// <summary>Renews this instance's socket leases every <see cref="SocketLeases.RenewEvery"/>: one loop for every socket, none per socket.</summary>
public sealed class SocketLeaseRenewal(RealtimeHub hub, SocketLeases leases, TimeProvider clock, ILogger<SocketLeaseRenewal> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(leases.RenewEvery, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                try { await hub.RenewSocketLeases(); }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    log.LogDebug(e, "Socket leases not renewed: Redis is away (a lapsed lease is renewed once it is back)");
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    // The loop outlives one failed round: a lapsed lease only lets the user open more sockets.
                    log.LogError(e, "Socket lease renewal failed");
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
    }
}
