using System.Globalization;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Generation;

/// <summary>
/// The per-user generation limits, shared by every instance through Redis: at most
/// GENERATION_MAX_CONCURRENT_PER_USER provider calls under way and GENERATION_DAILY_LIMIT started per
/// UTC day. A claim lapses on its own after the longest a call can take, so a crashed instance frees it.
/// </summary>
public sealed class GenerationQuota(IDatabase db, Settings settings, TimeProvider clock)
{
    // Drops lapsed claims, then either refuses (-1: too many under way, -2: the day's count is used) or counts and claims.
    // A call that holds its place already (a decision run again on moved data) keeps it and is not counted twice.
    static readonly LuaScript ClaimScript = LuaScript.Prepare("""
        local now = tonumber(@now)
        redis.call('ZREMRANGEBYSCORE', @running, '-inf', now)
        if redis.call('ZSCORE', @running, @call) then return 1 end
        if redis.call('ZCARD', @running) >= tonumber(@maxRunning) then return -1 end
        local limit = tonumber(@dailyLimit)
        if limit > 0 and tonumber(redis.call('GET', @today) or '0') >= limit then return -2 end
        redis.call('INCR', @today)
        redis.call('PEXPIRE', @today, 172800000)
        redis.call('ZADD', @running, @lapses, @call)
        redis.call('PEXPIRE', @running, tonumber(@lapses) - now + 60000)
        return 1
        """);

    /// <summary>Claims one place for a provider call, or throws 429 <c>rate_limited</c> with Retry-After.</summary>
    public async Task<Claim> Acquire(string userId)
    {
        var call = Guid.CreateVersion7().ToString("N");
        await Acquire(userId, call);
        return new Claim(db, userId, call);
    }

    /// <summary>
    /// Claims one place for the call named <paramref name="call"/> (a session generation: its id), or throws 429
    /// <c>rate_limited</c> with Retry-After. Claiming it again is a no-op; <see cref="Release"/> gives it back.
    /// </summary>
    public async Task Acquire(string userId, string call)
    {
        var g = settings.Generation;
        var now = clock.GetUtcNow();
        // The longest a call can hold its place: every attempt at its timeout, the waits between them, and a margin.
        var longest = TimeSpan.FromSeconds(g.TimeoutSeconds * g.MaxAttempts + 60) + TimeSpan.FromMilliseconds((double)g.RetryDelayMs * (1 << Math.Min(g.MaxAttempts, 10)));
        var result = (int)await ClaimScript.EvaluateAsync(db, new
        {
            running = (RedisKey)Keys.GenerationsRunning(userId),
            today = (RedisKey)Keys.GenerationsOnDay(userId, now.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture)),
            now = now.ToUnixTimeMilliseconds(),
            lapses = (now + longest).ToUnixTimeMilliseconds(),
            maxRunning = g.MaxConcurrentPerUser,
            dailyLimit = g.DailyLimit,
            call,
        });
        if (result == -1)
            throw new ApiProblem(429, "rate_limited",
                $"You already have {g.MaxConcurrentPerUser} generations under way. Try again when one has finished.") { RetryAfter = TimeSpan.FromSeconds(5) };
        if (result == -2)
            throw new ApiProblem(429, "rate_limited",
                $"You have used today's {g.DailyLimit} generations. The count starts again at midnight UTC.") { RetryAfter = now.UtcDateTime.Date.AddDays(1) - now.UtcDateTime };
    }

    /// <summary>
    /// Gives a generation's place back in the commit that ends it: a device that sees it end can start another at once.
    /// </summary>
    public static void Release(RedisWrites tx, string userId, string call) => tx.SortedSetRemove(Keys.GenerationsRunning(userId), call);

    /// <summary>A place among the user's calls under way, given back when disposed.</summary>
    public sealed class Claim(IDatabase db, string userId, string call) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await db.SortedSetRemoveAsync(Keys.GenerationsRunning(userId), call);
    }
}
