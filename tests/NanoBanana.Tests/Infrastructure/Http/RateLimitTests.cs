using Alba;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace NanoBanana.Tests.Infrastructure.Http;

/// <summary>The general API limit (not the sign-in lock): per signed-in user, otherwise per address, per minute.</summary>
public sealed class RateLimitTests(AppFixture app) : IntegrationContext(app)
{
    /// <summary>
    /// A clock stopped at the start of the current minute: every call of a test falls in one window (a real
    /// clock could turn the minute half-way), and tokens it issues are valid by the real clock too.
    /// </summary>
    static FakeTimeProvider StoppedClock()
    {
        var now = DateTimeOffset.UtcNow;
        return new FakeTimeProvider(new DateTimeOffset(now.Ticks - now.Ticks % TimeSpan.TicksPerMinute, TimeSpan.Zero));
    }

    static Task<IAlbaHost> HostWith(FakeTimeProvider clock, int perUser, int perAddress) => AppFixture.StartHost(
        new Dictionary<string, string?>
        {
            ["RATE_LIMIT_PER_ADDRESS"] = perAddress.ToString(),
            ["RATE_LIMIT_PER_USER"] = perUser.ToString(),
        },
        services => services.AddSingleton<TimeProvider>(clock));

    static async Task<int> Me(IAlbaHost host, TestUser user) =>
        (await host.Scenario(s => { s.Get.Url("/api/auth/me"); s.As(user); s.IgnoreStatusCode(); })).Context.Response.StatusCode;

    [Fact]
    public async Task Over_the_limit_anonymous_calls_from_one_address_and_calls_of_one_user_answer_429()
    {
        var clock = StoppedClock();
        await using var host = await HostWith(clock, perUser: 3, perAddress: 3);

        Task<IScenarioResult> Anonymous(string address) => host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithRequestHeader("X-Forwarded-For", address);
            s.IgnoreStatusCode();
        });
        for (var i = 0; i < 3; i++)
            Assert.Equal(401, (await Anonymous("198.51.100.70")).Context.Response.StatusCode);
        var limited = await Anonymous("198.51.100.70");
        await ShouldBeProblem(limited, 429, "rate_limited");
        // The window is the clock's minute, so the wait is the rest of it: here the whole minute.
        Assert.Equal(60, int.Parse(limited.Context.Response.Headers.RetryAfter.ToString()));
        Assert.Equal(401, (await Anonymous("198.51.100.71")).Context.Response.StatusCode);

        var user = await RegisterUser(host: host);
        for (var i = 0; i < 3; i++)
            Assert.Equal(200, await Me(host, user));
        Assert.Equal(429, await Me(host, user));
        // /health is outside the API limit.
        await host.Scenario(s => { s.Get.Url("/health"); s.StatusCodeShouldBe(200); });

        // The next minute is a new window, for the address and the user alike.
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(401, (await Anonymous("198.51.100.70")).Context.Response.StatusCode);
        Assert.Equal(200, await Me(host, user));
    }

    [Theory]
    // Up to 39 a minute an instance reserves one permit at a time: the limit is exact across instances.
    [InlineData(10, 10)]
    // From 40 it reserves in batches (at most a twentieth of the limit): the permits one instance holds
    // and does not use are lost to the other, never added.
    [InlineData(100, 95)]
    public async Task Calls_of_one_user_spread_over_two_instances_never_pass_the_limit_together(int limit, int atLeast)
    {
        var clock = StoppedClock();
        await using var a = await HostWith(clock, perUser: limit, perAddress: 100_000);
        await using var b = await HostWith(clock, perUser: limit, perAddress: 100_000);
        var user = await RegisterUser(host: a);

        var accepted = 0;
        for (var i = 0; i < limit + 20; i++)
        {
            var status = await Me(i % 2 == 0 ? a : b, user);
            Assert.True(status is 200 or 429, $"call {i}: {status}");
            if (status == 200) accepted++;
        }
        Assert.InRange(accepted, atLeast, limit);
        // Spent on both instances.
        Assert.Equal(429, await Me(a, user));
        Assert.Equal(429, await Me(b, user));
    }
}
