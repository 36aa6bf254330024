using Wolverine.ErrorHandling;
using Wolverine.Runtime.Handlers;

namespace NanoBanana.Infrastructure.Redis;

/// <summary>
/// Background work (fan-out, thumbnails, their recovery) that meets a Redis that is away tries again
/// instead of being dropped: at once in the same queue slot (the queue keeps its order) for about a
/// minute, then scheduled again for about twenty more. A request's own calls are not retried here:
/// they answer 503 and the client retries.
/// </summary>
public static class RedisRetries
{
    static readonly TimeSpan[] Inline =
        [TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2),
         TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(30)];

    static readonly TimeSpan[] Scheduled =
        [TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(10)];

    public static void RetryWhileRedisIsAway(this HandlerChain chain) =>
        chain.OnException(RedisFailures.IsUnavailable, "Redis is away")
            .RetryWithCooldown(Inline)
            .Then.ScheduleRetry(Scheduled);
}
