using System.Threading.RateLimiting;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;

namespace NanoBanana.Infrastructure.Http;

/// <summary>
/// A general, generous limit on the whole API, per signed-in user and otherwise per address, per
/// minute, counted in Redis so that every instance shares it (<see cref="SharedWindowLimiter"/>).
/// </summary>
public static class RateLimiting
{
    /// <summary>
    /// The policy of the routes that hash a password: per client address, whatever token the request
    /// carries (a token of one's own must not lift the limit), on top of the general limit.
    /// </summary>
    public const string PasswordRoutes = "password-routes";

    public static IServiceCollection AddApiRateLimits(this IServiceCollection services, LimitSettings limits)
    {
        services.AddSingleton<RefusalLog>();
        services.AddSingleton(sp => new RefusalTarpit(limits.RefusalDelay, limits.RefusalsHeld, sp.GetRequiredService<TimeProvider>()));
        services.AddRateLimiter(o =>
        {
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                if (!http.Request.Path.StartsWithSegments("/api"))
                    return RateLimitPartition.GetNoLimiter("");
                var (key, limit) = http.User.Identity?.IsAuthenticated == true
                    ? ($"{Keys.RateLimitPrefix}{{user:{http.User.UserId()}}}", limits.RequestsPerMinutePerUser)
                    : ($"{Keys.RateLimitPrefix}{{addr:{ClientAddress.Of(http)}}}", limits.RequestsPerMinutePerAddress);
                return RateLimitPartition.Get(key, k => new SharedWindowLimiter(k, limit,
                    http.RequestServices.GetRequiredService<IConnectionMultiplexer>(), http.RequestServices.GetRequiredService<TimeProvider>()));
            });
            o.AddPolicy(PasswordRoutes, http => RateLimitPartition.Get($"{Keys.RateLimitPrefix}{{pw:{ClientAddress.Of(http)}}}",
                k => new SharedWindowLimiter(k, limits.PasswordRoutesPerMinutePerAddress,
                    http.RequestServices.GetRequiredService<IConnectionMultiplexer>(), http.RequestServices.GetRequiredService<TimeProvider>())));
            o.OnRejected = async (ctx, _) =>
            {
                var retry = ctx.Lease.TryGetMetadata(MetadataName.RetryAfter, out var ra) ? ra : TimeSpan.FromSeconds(60);
                ctx.HttpContext.RequestServices.GetRequiredService<RefusalLog>().Note(ctx.HttpContext);
                if (!await ctx.HttpContext.RequestServices.GetRequiredService<RefusalTarpit>().Hold(ctx.HttpContext.RequestAborted)) return;
                await ProblemHandling.Write(ctx.HttpContext, 429, "rate_limited",
                    "Too many requests. Slow down and try again shortly.", retryAfter: retry);
            };
        });
        return services;
    }
}

/// <summary>
/// Holds a refused request's 429 for <c>delay</c> before it is written (a timer, no thread): a flood client that
/// waits for its answers then sends one request per connection per delay instead of as fast as the app can refuse,
/// which left other callers queued behind the refusals. At most <c>capacity</c> answers are held at once; past
/// that a refusal is answered at once, so the held requests' memory stays bounded.
/// </summary>
public sealed class RefusalTarpit(TimeSpan delay, int capacity, TimeProvider clock)
{
    int _held;

    /// <summary>Refusals being held right now.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Waits out the delay (or not, when full); false when the caller went away meanwhile.</summary>
    public async Task<bool> Hold(CancellationToken aborted)
    {
        if (delay <= TimeSpan.Zero) return true;
        if (Interlocked.Increment(ref _held) > capacity)
        {
            Interlocked.Decrement(ref _held);
            return true;
        }
        try
        {
            await Task.Delay(delay, clock, aborted);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            Interlocked.Decrement(ref _held);
        }
    }
}

/// <summary>
/// A flood of refused requests must not become a flood of log lines (CPU and disk the attacker would spend):
/// a refused request's own line is logged at Debug, and each caller's first refusal of a minute once, as a warning.
/// </summary>
public sealed class RefusalLog(TimeProvider clock, ILogger<RefusalLog> log)
{
    public const string Item = "nb.rate-limited";

    readonly Lock _gate = new();
    readonly HashSet<string> _notedThisMinute = [];
    long _minute;

    public void Note(HttpContext http)
    {
        http.Items[Item] = true;
        var caller = http.User.Identity?.IsAuthenticated == true ? $"user {http.User.UserId()}" : $"address {ClientAddress.Of(http)}";
        var minute = clock.GetUtcNow().ToUnixTimeSeconds() / 60;
        lock (_gate)
        {
            if (minute != _minute) { _minute = minute; _notedThisMinute.Clear(); }
            if (!_notedThisMinute.Add(caller)) return;
        }
        log.LogWarning("Requests over the rate limit refused for {Caller} on {Path}; further refusals this minute are not logged",
            caller, http.Request.Path.Value);
    }
}

public static class ClientAddress
{
    /// <summary>The caller's address (the forwarded one when the request came through a known proxy).</summary>
    public static string Of(HttpContext http) => http.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    /// <summary>
    /// Honours X-Forwarded-For/-Proto only from <paramref name="knownProxies"/> (addresses or CIDR networks):
    /// a client that reaches the app directly cannot choose its address. Only the proxy's own entry (the
    /// rightmost) is taken.
    /// </summary>
    public static Microsoft.AspNetCore.Builder.ForwardedHeadersOptions ForwardedFrom(IEnumerable<string> knownProxies)
    {
        var options = new Microsoft.AspNetCore.Builder.ForwardedHeadersOptions
        {
            ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor | Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedProto,
        };
        options.KnownIPNetworks.Clear();
        options.KnownProxies.Clear();
        foreach (var entry in knownProxies)
        {
            if (System.Net.IPAddress.TryParse(entry, out var address)) options.KnownProxies.Add(address);
            else if (System.Net.IPNetwork.TryParse(entry, out var network)) options.KnownIPNetworks.Add(network);
            else throw new InvalidOperationException($"KNOWN_PROXIES: '{entry}' is neither an IP address nor a CIDR network.");
        }
        return options;
    }
}
