using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Auth;

/// <summary>
/// Brute-force protection: failed password checks counted in Redis (so every instance shares them), in a
/// fixed window, per account and address pair, per address, and per account. A pair or an address that
/// failed too often is refused (429); failures of an account from elsewhere only slow every sign-in to it
/// down (a delay that grows with them, at most <see cref="MaxDelay"/>), so an attacker cannot lock the
/// owner out. The window is decided by the injected clock (start stored in Redis, compared with
/// <see cref="TimeProvider.GetUtcNow"/>); the Redis TTL only cleans up.
/// </summary>
public sealed class LoginAttempts(IDatabase db, Settings settings, TimeProvider clock)
{
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(3);

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

    /// <summary>
    /// Throws 429 <c>rate_limited</c> when this address has failed too often, for this account or at all;
    /// waits a while first when the account has failed too often from anywhere.
    /// </summary>
    public async Task EnsureAllowed(string email, string? address, CancellationToken ct = default)
    {
        var account = User.NormalizeEmail(email);
        var from = address ?? "unknown";
        var waits = new List<TimeSpan>();
        if (await Blocked(Keys.LoginFailuresForAccountFrom(account, from), limits.LoginFailuresPerAccount) is { } pair) waits.Add(pair.Wait);
        if (await Blocked(Keys.LoginFailuresForAddress(from), limits.LoginFailuresPerAddress) is { } a) waits.Add(a.Wait);
        if (waits.Count > 0) throw ApiProblem.RateLimited(waits.Max());
        if (await Blocked(Keys.LoginFailuresForAccount(account), limits.LoginFailuresPerAccount) is { } elsewhere)
            await Task.Delay(Delay(elsewhere.Count - limits.LoginFailuresPerAccount), clock, ct);
    }

    /// <summary>250 ms for the first failure past the limit, doubling, at most <see cref="MaxDelay"/>.</summary>
    static TimeSpan Delay(long past) =>
        TimeSpan.FromMilliseconds(Math.Min(MaxDelay.TotalMilliseconds, 250 * Math.Pow(2, Math.Min(past, 10))));

    public async Task RecordFailure(string email, string? address)
    {
        var account = User.NormalizeEmail(email);
        var from = address ?? "unknown";
        await Count(Keys.LoginFailuresForAccountFrom(account, from));
        await Count(Keys.LoginFailuresForAccount(account));
        await Count(Keys.LoginFailuresForAddress(from));
    }

    /// <summary>A successful sign-in clears the account's counts (not the address's: one address may try many accounts).</summary>
    public Task Reset(string email, string? address)
    {
        var account = User.NormalizeEmail(email);
        return Task.WhenAll(
            db.KeyDeleteAsync(Keys.LoginFailuresForAccount(account)),
            db.KeyDeleteAsync(Keys.LoginFailuresForAccountFrom(account, address ?? "unknown")));
    }

    /// <summary>The count and the rest of the window when <paramref name="key"/> has reached <paramref name="limit"/>.</summary>
    async Task<(long Count, TimeSpan Wait)?> Blocked(string key, int limit)
    {
        var values = await db.HashGetAsync(key, ["start", "count"]);
        if (!values[0].TryParse(out long start) || !values[1].TryParse(out long count)) return null;
        var ends = DateTimeOffset.FromUnixTimeMilliseconds(start) + Window;
        var now = clock.GetUtcNow();
        return count >= limit && now < ends ? (count, ends - now) : null;
    }

    Task Count(string key) => CountFailure.EvaluateAsync(db, new
    {
        key = (RedisKey)key,
        now = clock.GetUtcNow().ToUnixTimeMilliseconds(),
        window = (long)Window.TotalMilliseconds,
    });
}
