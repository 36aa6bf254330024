using NanoBanana.Infrastructure.OpenApi;
using System.Diagnostics;
using System.Reflection;
using Carter;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Realtime;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Health;

public sealed record CheckHealth;

public sealed record HealthReport(
    string Status, RedisHealth Redis, long UptimeSeconds, string Version, RequestCounts Requests, WebSocketCounts Websockets)
{
    [System.Text.Json.Serialization.JsonIgnore] public bool Healthy => Redis.Status == "up";
}

public sealed record RedisHealth(string Status, double? LatencyMs);
public sealed record RequestCounts(long Total, long ServerErrors, double ErrorRate);
public sealed record WebSocketCounts(int Active);

public static class CheckHealthHandler
{
    static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(1);

    static readonly string Version =
        typeof(CheckHealthHandler).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(CheckHealthHandler).Assembly.GetName().Version?.ToString() ?? "unknown";

    public static async Task<HealthReport> Handle(
        CheckHealth _, IConnectionMultiplexer redis, RequestMetrics metrics, RealtimeStats realtime, TimeProvider clock) =>
        Build(await PingRedis(redis), metrics, realtime, clock);

    public static HealthReport Build(RedisHealth redisHealth, RequestMetrics metrics, RealtimeStats realtime, TimeProvider clock)
    {
        var total = metrics.Requests;
        var errors = metrics.ServerErrors;
        return new HealthReport(
            redisHealth.Status == "up" ? "ok" : "unavailable",
            redisHealth,
            (long)Math.Max(0, (clock.GetUtcNow() - metrics.StartedAt).TotalSeconds),
            Version,
            new RequestCounts(total, errors, total == 0 ? 0 : Math.Round((double)errors / total, 4)),
            new WebSocketCounts(realtime.ActiveConnections));
    }

    // Never throws: any failure (no connection, timeout, a multiplexer that could not be built) is "down".
    static async Task<RedisHealth> PingRedis(IConnectionMultiplexer mux)
    {
        try
        {
            var started = Stopwatch.GetTimestamp();
            await mux.GetDatabase().PingAsync().WaitAsync(PingTimeout);
            return new RedisHealth("up", Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 2));
        }
        catch (Exception)
        {
            return new RedisHealth("down", null);
        }
    }
}

public sealed class HealthEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGet("/health", async (IMessageBus bus, RequestMetrics metrics, RealtimeStats realtime, TimeProvider clock, CancellationToken ct) =>
            {
                HealthReport report;
                try
                {
                    report = await bus.InvokeAsync<HealthReport>(new CheckHealth(), ct);
                }
                catch (Exception) when (!ct.IsCancellationRequested)
                {
                    // Never throws: whatever broke (even building the Redis client) means "not ready".
                    report = CheckHealthHandler.Build(new RedisHealth("down", null), metrics, realtime, clock);
                }
                return TypedResults.Json(report, statusCode: report.Healthy ? 200 : 503);
            })
            .WithName("Health")
            .Example(null, new HealthReport("ok", new RedisHealth("up", 0.4), 3600, "0.1.0", new RequestCounts(1200, 0, 0), new WebSocketCounts(3))).WithTags("Operations").AllowAnonymous()
            .WithSummary("Liveness and readiness: Redis status and latency, uptime, request counts")
            .Produces<HealthReport>()
            .Produces<HealthReport>(503);
}
