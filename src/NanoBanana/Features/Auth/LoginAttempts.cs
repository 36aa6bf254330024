using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Auth;

/// <summary>
/// Brute-force protection: failed password checks counted in Redis (so every instance shares them),
/// per account (normalized email) and per client address, in a fixed window. The window is decided
/// by the injected clock (start stored in Redis, compared with <see cref="TimeProvider.GetUtcNow"/>);
/// the Redis TTL only cleans up.
/// </summary>
public sealed class LoginAttempts(IDatabase db, Settings settings, TimeProvider clock)
{
    LimitSettings limits => settings.Limits;

    // Opens a new window when there is none or the stored one has ended, otherwise counts one more failure.
    static readonly LuaScript CountFailure = LuaScript.Prepare("""
        local start = tonumber(redis.call('HGET', @key, 'start'))
        local now = tonumber(@now)
        local window = tonumber(@window)
        if (not start) or now >= start + window then
          redis.call('HSET', @key, 'start', now, 'count', 1)
          redis.call('PEXPIRE', @key, window + 60000)
          return 1
        end
        return redis.call('HINCRBY', @key, 'count', 1)
        """);

    TimeSpan Window => TimeSpan.FromSeconds(limits.LoginWindowSeconds);

    /// <summary>Throws 429 <c>rate_limited</c> when the account or the address has failed too often in its window.</summary>
    public async Task EnsureAllowed(string email, string? address)
    {
        var waits = new List<TimeSpan>();
        if (await Blocked(Keys.LoginFailuresForAccount(User.NormalizeEmail(email)), limits.LoginFailuresPerAccount) is { } a) waits.Add(a);
        if (address is not null && await Blocked(Keys.LoginFailuresForAddress(address), limits.LoginFailuresPerAddress) is { } b) waits.Add(b);
        if (waits.Count > 0) throw ApiProblem.RateLimited(waits.Max());
    }

    public async Task RecordFailure(string email, string? address)
    {
        await Count(Keys.LoginFailuresForAccount(User.NormalizeEmail(email)));
        if (address is not null) await Count(Keys.LoginFailuresForAddress(address));
    }

    /// <summary>A successful sign-in clears the account's count (not the address's: one address may try many accounts).</summary>
    public Task Reset(string email) => db.KeyDeleteAsync(Keys.LoginFailuresForAccount(User.NormalizeEmail(email)));

    async Task<TimeSpan?> Blocked(string key, int limit)
    {
        var values = await db.HashGetAsync(key, ["start", "count"]);
        if (!values[0].TryParse(out long start) || !values[1].TryParse(out long count)) return null;
        var ends = DateTimeOffset.FromUnixTimeMilliseconds(start) + Window;
        var now = clock.GetUtcNow();
        return count >= limit && now < ends ? ends - now : null;
    }

    Task Count(string key) => CountFailure.EvaluateAsync(db, new
    {
        key = (RedisKey)key,
        now = clock.GetUtcNow().ToUnixTimeMilliseconds(),
        window = (long)Window.TotalMilliseconds,
    });
}
