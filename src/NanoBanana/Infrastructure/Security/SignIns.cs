using System.Collections.Concurrent;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Infrastructure.Security;

/// <summary>
/// Whether a device sign-in (a token's user and <c>did</c>) still holds: the device's refresh family
/// exists and the account exists and is active. Every authenticated request and every socket asks.
/// An answer is kept on this instance for <see cref="CacheFor"/>; whoever ends a sign-in calls
/// <see cref="Changed"/>, which tells every instance on a global channel, so each drops what it kept
/// for that user and its hub re-checks the user's sockets. A periodic re-check (and one after the
/// channel's connection comes back) covers a lost message and an account disabled in Redis by hand.
/// </summary>
public sealed class SignIns : IHostedService
{
    public static TimeSpan CacheFor { get; } = TimeSpan.FromSeconds(1);

    // Both keys carry the user's hash tag: one slot.
    static readonly LuaScript Check = LuaScript.Prepare("""
        if redis.call('EXISTS', @family) == 0 then return 0 end
        local record = redis.call('GET', @user)
        if not record then return 0 end
        local ok, user = pcall(cjson.decode, record)
        if ok and type(user) == 'table' and user.isActive == false then return 0 end
        return 1
        """);

    sealed record Answer(bool SignedIn, long Until);

    readonly ConcurrentDictionary<string, ConcurrentDictionary<string, Answer>> _byUser = new(StringComparer.Ordinal);
    // About how many users _byUser holds: its Count takes every lock of the dictionary, which cost 3 % of the app's
    // CPU under the realtime bench (a sign-in check per post there: a kept answer lasts a second, a user posts every two).
    int _users;
    readonly IConnectionMultiplexer _redis;
    readonly TimeProvider _clock;
    readonly ILogger<SignIns> _log;
    readonly TimeSpan _recheckEvery;
    readonly CancellationTokenSource _stop = new();
    readonly RedisChannel _channel = RedisChannel.Literal(Keys.SignInsChannel);

    /// <summary>Raised with a user id when that user's sign-ins may have ended, or with null for every user.</summary>
    public event Func<string?, Task>? Ended;

    public SignIns(IConnectionMultiplexer redis, TimeProvider clock, ILogger<SignIns> log, IConfiguration configuration)
    {
        _redis = redis;
        _clock = clock;
        _log = log;
        _recheckEvery = TimeSpan.FromSeconds(int.TryParse(configuration["SIGNIN_RECHECK_SECONDS"], out var s) && s > 0 ? s : 60);
    }

    public Task StartAsync(CancellationToken ct)
    {
        // Fire and forget: the client keeps the subscription and renews it on every reconnect.
        _redis.GetSubscriber().Subscribe(_channel, (channel, userId) => { _ = Forget(userId.IsNullOrEmpty ? null : userId.ToString()); },
            CommandFlags.FireAndForget);
        _redis.ConnectionRestored += (_, e) =>
        {
            if (e.ConnectionType == ConnectionType.Subscription) _ = Forget(null);
        };
        _ = RecheckPeriodically();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken ct)
    {
        _stop.Cancel();
        return Task.CompletedTask;
    }

    /// <summary>True while the device's sign-in holds. <paramref name="fresh"/> asks Redis, not this instance's memory.</summary>
    public async Task<bool> IsSignedIn(string userId, string deviceId, bool fresh = false)
    {
        if (userId.Length == 0 || deviceId.Length == 0) return false;
        var now = _clock.GetUtcNow().UtcTicks;
        var devices = _byUser.GetOrAdd(userId, static (_, self) =>
        {
            Interlocked.Increment(ref self._users);
            return new(StringComparer.Ordinal);
        }, this);
        devices.TryGetValue(deviceId, out var kept);
        if (!fresh && kept is not null && kept.Until > now) return kept.SignedIn;
        try
        {
            var signedIn = (int)await Check.EvaluateAsync(_redis.GetDatabase(), new
            {
                family = (RedisKey)Keys.RefreshFamily(userId, deviceId),
                user = (RedisKey)Keys.UserRecord(userId),
            }) == 1;
            if (Volatile.Read(ref _users) > 100_000) ForgetAll(); // bounded; it refills from Redis
            devices[deviceId] = new Answer(signedIn, now + CacheFor.Ticks);
            return signedIn;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Redis is away: the routes answer 503 themselves; a 401 here would sign the person out.
            return kept?.SignedIn ?? true;
        }
    }

    /// <summary>Tells every instance that the user's sign-ins changed (a device ended, the account went).</summary>
    public async Task Changed(string userId)
    {
        await Forget(userId);
        try
        {
            await _redis.GetSubscriber().PublishAsync(_channel, userId);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            _log.LogWarning(e, "Could not announce an ended sign-in; other instances see it at their next re-check");
        }
    }

    async Task Forget(string? userId)
    {
        if (userId is null) ForgetAll();
        else if (_byUser.TryRemove(userId, out _)) Interlocked.Decrement(ref _users);
        if (Ended is not { } ended) return;
        try
        {
            await ended(userId);
        }
        catch (Exception e)
        {
            _log.LogWarning(e, "Re-checking sockets after an ended sign-in failed");
        }
    }

    void ForgetAll()
    {
        _byUser.Clear();
        Volatile.Write(ref _users, 0);
    }

    async Task RecheckPeriodically()
    {
        using var timer = new PeriodicTimer(_recheckEvery, _clock);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token)) await Forget(null);
        }
        catch (OperationCanceledException) { }
    }
}
