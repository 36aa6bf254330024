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
    public static IServiceCollection AddApiRateLimits(this IServiceCollection services, LimitSettings limits)
    {
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
            o.OnRejected = async (ctx, _) =>
            {
                var retry = ctx.Lease.TryGetMetadata(MetadataName.RetryAfter, out var ra) ? ra : TimeSpan.FromSeconds(60);
                await ProblemHandling.Write(ctx.HttpContext, 429, "rate_limited",
                    "Too many requests. Slow down and try again shortly.", retryAfter: retry);
            };
        });
        return services;
    }
}

public static class ClientAddress
{
    /// <summary>The caller's address (the forwarded one when the app is configured to trust its proxy).</summary>
    public static string Of(HttpContext http) => http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
}
