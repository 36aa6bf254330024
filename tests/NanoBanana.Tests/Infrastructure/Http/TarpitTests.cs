using Alba;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using NanoBanana.Infrastructure.Http;

namespace NanoBanana.Tests.Infrastructure.Http;

/// <summary>A rate-limited request gets its 429 only after the refusal delay, with a bound on how many wait at once.</summary>
public sealed class TarpitTests(AppFixture app) : IntegrationContext(app)
{
    static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Stopped at the start of a minute (the limit's window cannot turn while the test advances it by the delay), and
    /// signalling each timer of the refusal delay: a refusal starts its timer once it is counted as held.
    /// </summary>
    sealed class StoppedClock() : FakeTimeProvider(StartOfMinute())
    {
        public SemaphoreSlim RefusalsHeld { get; } = new(0);

        static DateTimeOffset StartOfMinute()
        {
            var now = DateTimeOffset.UtcNow;
            return new DateTimeOffset(now.Ticks - now.Ticks % TimeSpan.TicksPerMinute, TimeSpan.Zero);
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            if (dueTime == Delay) RefusalsHeld.Release();
            return timer;
        }
    }

    static Task<IScenarioResult> Anonymous(IAlbaHost host) => host.Scenario(s =>
    {
        s.Get.Url("/api/auth/me");
        s.WithRequestHeader("X-Forwarded-For", "198.51.100.90");
        s.IgnoreStatusCode();
    });

    static async Task HeldReaches(StoppedClock clock, RefusalTarpit tarpit, int count)
    {
        for (var i = 0; i < count; i++) Assert.True(await clock.RefusalsHeld.WaitAsync(TimeSpan.FromSeconds(10)), "no refusal held");
        Assert.Equal(count, tarpit.Held);
    }

    [Fact]
    public async Task A_refused_request_is_answered_429_with_retry_after_only_once_the_refusal_delay_has_passed()
    {
        var clock = new StoppedClock();
        await using var host = await AppFixture.StartHost(
            new Dictionary<string, string?> { ["RATE_LIMIT_PER_ADDRESS"] = "1", ["RATE_LIMIT_REFUSAL_DELAY_MS"] = "1000" },
            services => services.AddSingleton<TimeProvider>(clock));
        var tarpit = host.Services.GetRequiredService<RefusalTarpit>();
        Assert.Equal(401, (await Anonymous(host)).Context.Response.StatusCode);

        var refused = Anonymous(host);
        await HeldReaches(clock, tarpit, 1);
        clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(refused.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        var answer = await refused.WaitAsync(TimeSpan.FromSeconds(10));
        await ShouldBeProblem(answer, 429, "rate_limited");
        Assert.Equal("60", answer.Context.Response.Headers.RetryAfter.ToString());
        Assert.Equal(0, tarpit.Held);
    }

    [Fact]
    public async Task Past_the_bound_of_held_refusals_a_refusal_is_answered_at_once()
    {
        var clock = new StoppedClock();
        await using var host = await AppFixture.StartHost(
            new Dictionary<string, string?>
            {
                ["RATE_LIMIT_PER_ADDRESS"] = "1", ["RATE_LIMIT_REFUSAL_DELAY_MS"] = "1000", ["RATE_LIMIT_REFUSALS_HELD"] = "1",
            },
            services => services.AddSingleton<TimeProvider>(clock));
        var tarpit = host.Services.GetRequiredService<RefusalTarpit>();
        Assert.Equal(401, (await Anonymous(host)).Context.Response.StatusCode);

        var held = Anonymous(host);
        await HeldReaches(clock, tarpit, 1);
        // The clock stands still: only a refusal that is not held can be answered.
        await ShouldBeProblem(await Anonymous(host).WaitAsync(TimeSpan.FromSeconds(10)), 429, "rate_limited");
        Assert.False(held.IsCompleted);

        clock.Advance(TimeSpan.FromSeconds(1));
        await ShouldBeProblem(await held.WaitAsync(TimeSpan.FromSeconds(10)), 429, "rate_limited");
    }
}
