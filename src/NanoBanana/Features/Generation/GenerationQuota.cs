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
    static readonly LuaScript ClaimScript = LuaScript.Prepare("""
        local now = tonumber(@now)
        redis.call('ZREMRANGEBYSCORE', @running, '-inf', now)
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
        var g = settings.Generation;
        var now = clock.GetUtcNow();
        // The longest a call can hold its place: every attempt at its timeout, the waits between them, and a margin.
        var longest = TimeSpan.FromSeconds(g.TimeoutSeconds * g.MaxAttempts + 60) + TimeSpan.FromMilliseconds((double)g.RetryDelayMs * (1 << Math.Min(g.MaxAttempts, 10)));
        var call = Guid.CreateVersion7().ToString("N");
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
        return result switch
        {
            -1 => throw new ApiProblem(429, "rate_limited",
                $"You already have {g.MaxConcurrentPerUser} generations under way. Try again when one has finished.") { RetryAfter = TimeSpan.FromSeconds(5) },
            -2 => throw new ApiProblem(429, "rate_limited",
                $"You have used today's {g.DailyLimit} generations. The count starts again at midnight UTC.") { RetryAfter = now.UtcDateTime.Date.AddDays(1) - now.UtcDateTime },
            _ => new Claim(db, Keys.GenerationsRunning(userId), call),
        };
    }

    /// <summary>A place among the user's calls under way, given back when disposed.</summary>
    public sealed class Claim(IDatabase db, string running, string call) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await db.SortedSetRemoveAsync(running, call);
    }
}
