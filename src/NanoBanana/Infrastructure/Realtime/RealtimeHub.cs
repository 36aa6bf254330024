using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net.WebSockets;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;

namespace NanoBanana.Infrastructure.Realtime;

/// <summary>
/// This instance's sockets, by user. An instance subscribes to a user's channel while it holds at
/// least one of that user's sockets, so an event raised on any instance reaches every socket of the
/// user wherever it is connected, and an instance only receives the traffic of its own users.
/// </summary>
public sealed class RealtimeHub
{
    sealed class UserSockets
    {
        public readonly SemaphoreSlim Gate = new(1, 1);
        public ImmutableArray<Connection> Connections = [];
        public ChannelMessageQueue? Subscription;
        public bool Retired;
        public long LastSeen; // highest seq seen on the channel (only the channel's dispatch loop writes it)
    }

    readonly ConcurrentDictionary<string, UserSockets> _users = new(StringComparer.Ordinal);
    readonly IConnectionMultiplexer _redis;
    readonly RealtimeStats _stats;
    readonly TimeProvider _clock;
    readonly ILogger<RealtimeHub> _log;
    readonly SignIns _signIns;
    readonly SocketLeases _leases;
    readonly int _maxPerUser;

    public RealtimeHub(IConnectionMultiplexer redis, RealtimeStats stats, TimeProvider clock, ILogger<RealtimeHub> log,
        IHostApplicationLifetime lifetime, SignIns signIns, SocketLeases leases, RealtimeSettings settings)
    {
        _redis = redis;
        _stats = stats;
        _clock = clock;
        _log = log;
        _signIns = signIns;
        _leases = leases;
        _maxPerUser = settings.MaxConnectionsPerUser;
        // A socket lives as long as its device sign-in (SPEC section 5).
        signIns.Ended += CloseSignedOut;
        // Pub/sub loses what is published while the subscription connection is down; the log does not.
        // Once it is back, every socket catches up from the last seq it passed.
        redis.ConnectionRestored += (_, e) =>
        {
            if (e.ConnectionType == ConnectionType.Subscription) _ = CatchUpAfterOutage();
        };
        // Tell clients to reconnect elsewhere instead of holding the shutdown open.
        lifetime.ApplicationStopping.Register(() =>
        {
            foreach (var user in _users.Values)
            foreach (var c in user.Connections)
                c.RequestClose(WebSocketCloseStatus.EndpointUnavailable, "server shutting down");
        });
    }

    async Task CatchUpAfterOutage()
    {
        try
        {
            // The client resubscribes on the restored connection before this PING is answered there
            // (one connection answers in order), so every event published from now on is delivered
            // live, and the catch-up below covers everything before.
            await _redis.GetSubscriber().PingAsync();
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            _log.LogWarning(e, "Redis did not answer after a reconnect; catching up anyway");
        }
        foreach (var user in _users.Values)
        foreach (var connection in user.Connections)
            await Recover(connection);
    }

    async Task Recover(Connection connection)
    {
        try
        {
            await connection.CatchUp(null);
        }
        catch (Exception e)
        {
            _log.LogWarning(e, "Catch-up after lost live events failed; the socket is closed so its client resumes");
            connection.RequestClose(WebSocketCloseStatus.InternalServerError, "catch-up failed, reconnect with since");
        }
    }

    /// <summary>Closes with 4401 the sockets (of one user, or of everybody) whose device sign-in has ended.</summary>
    async Task CloseSignedOut(string? userId)
    {
        var users = userId is null ? _users.Values.ToArray() : _users.TryGetValue(userId, out var one) ? [one] : [];
        foreach (var user in users)
        foreach (var device in user.Connections.GroupBy(c => (c.UserId, c.DeviceId)))
        {
            if (await _signIns.IsSignedIn(device.Key.UserId, device.Key.DeviceId, fresh: true)) continue;
            foreach (var c in device) c.RequestClose(CloseCodes.Unauthorized, "signed out");
        }
    }

    /// <summary>
    /// Registers a socket. Returns once this instance is subscribed to the user's channel, so every event
    /// published afterwards reaches it; false (nothing registered) when the user already holds the most sockets
    /// allowed, counted on every instance (<see cref="SocketLeases"/>; this instance's own count is the cheap first check).
    /// </summary>
    public async Task<bool> Add(Connection connection)
    {
        while (true)
        {
            var user = _users.GetOrAdd(connection.UserId, _ => new UserSockets());
            await user.Gate.WaitAsync();
            try
            {
                if (user.Retired) continue; // removed while we waited: take the fresh entry
                if (user.Connections.Length >= _maxPerUser || !await _leases.Admit(connection, _maxPerUser)) return false;
                if (user.Subscription is null)
                {
                    try
                    {
                        var queue = await _redis.GetSubscriber().SubscribeAsync(Channel(connection.UserId));
                        // ChannelMessageQueue hands messages over one at a time, in publication (= seq) order.
                        queue.OnMessage(m => Dispatch(user, m.Message));
                        user.Subscription = queue;
                    }
                    catch
                    {
                        _leases.Forget(connection);
                        throw;
                    }
                }
                user.Connections = user.Connections.Add(connection);
                _stats.Opened();
                return true;
            }
            finally
            {
                user.Gate.Release();
            }
        }
    }

    public async Task Remove(Connection connection)
    {
        if (!_users.TryGetValue(connection.UserId, out var user)) return;
        await user.Gate.WaitAsync();
        try
        {
            var before = user.Connections;
            user.Connections = before.Remove(connection);
            if (user.Connections.Length == before.Length) return;
            _leases.Forget(connection);
            _stats.Closed();
            if (!user.Connections.IsEmpty) return;
            user.Retired = true;
            _users.TryRemove(KeyValuePair.Create(connection.UserId, user));
            if (user.Subscription is { } subscription)
            {
                try { await subscription.UnsubscribeAsync(); }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    _log.LogWarning(e, "Could not unsubscribe from a user's realtime channel; it lapses with the connection");
                }
            }
        }
        finally
        {
            user.Gate.Release();
        }
    }

    /// <summary>Renews the socket leases of every user with sockets here (<see cref="SocketLeases.Renew"/>), one user at a time under its gate.</summary>
    public async Task RenewSocketLeases()
    {
        foreach (var (userId, user) in _users)
        {
            await user.Gate.WaitAsync();
            try
            {
                if (!user.Retired) _leases.Renew(userId, user.Connections);
            }
            finally
            {
                user.Gate.Release();
            }
        }
    }

    /// <summary>Typing goes to the user's other sockets on every instance; it has no seq and is not stored.</summary>
    public Task PublishTyping(Connection from, string sessionId, bool isTyping) =>
        _redis.GetSubscriber().PublishAsync(Channel(from.UserId), $"t\n{from.Id:N}\n{(isTyping ? 1 : 0)}\n{sessionId}");

    static RedisChannel Channel(string userId) => RedisChannel.Literal(Keys.EventChannel(userId));

    // Messages: events (published by the EventLog script, read by EventLog.ParseLive)
    // and "t\n<connection id>\n<0|1>\n<session id>" (typing).
    void Dispatch(UserSockets user, RedisValue message)
    {
        var connections = user.Connections;
        if (connections.IsEmpty) return;
        try
        {
            var text = (string?)message ?? "";
            if (EventLog.ParseLive(text) is { } e)
            {
                var frame = Frames.Event(e);
                // A user's seqs are published contiguously on this channel: a jump means pub/sub lost
                // some (a reconnect). Each socket recovers them from the log; this event waits in its
                // buffer meanwhile (the catch-up starts buffering before it first awaits).
                var previous = user.LastSeen;
                user.LastSeen = Math.Max(previous, e.Seq);
                if (previous > 0 && e.Seq > previous + 1)
                {
                    _log.LogWarning("Seqs {From}-{To} of a user were lost on pub/sub; catching up from the log", previous + 1, e.Seq - 1);
                    foreach (var c in connections) _ = Recover(c);
                }
                foreach (var c in connections) c.Offer(frame);
            }
            else if (text.StartsWith("t\n", StringComparison.Ordinal))
            {
                var parts = text.Split('\n', 4);
                var (origin, isTyping, sessionId) = (Guid.ParseExact(parts[1], "N"), parts[2] == "1", parts[3]);
                var frame = Frames.Control("typing", w =>
                {
                    w.WriteString("sessionId", sessionId);
                    w.WriteString("userId", connections[0].UserId);
                    w.WriteBoolean("isTyping", isTyping);
                }, _clock.GetUtcNow());
                foreach (var c in connections)
                    if (c.Id != origin && c.HasJoined(sessionId)) c.Send(frame);
            }
        }
        catch (Exception e) when (e is FormatException or IndexOutOfRangeException)
        {
            _log.LogError(e, "Malformed realtime message on a user channel was dropped");
        }
    }
}
