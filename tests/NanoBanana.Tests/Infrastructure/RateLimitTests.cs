using Alba;

namespace NanoBanana.Tests.Infrastructure;

/// <summary>The general API limit (not the sign-in lock): per signed-in user, otherwise per address.</summary>
public sealed class RateLimitTests(AppFixture app) : IntegrationContext(app)
{
    [Fact]
    public async Task Over_the_limit_anonymous_calls_from_one_address_and_calls_of_one_user_answer_429()
    {
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?>
        {
            ["RATE_LIMIT_PER_ADDRESS"] = "3",
            ["RATE_LIMIT_PER_USER"] = "3",
        });

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
        Assert.True(int.Parse(limited.Context.Response.Headers.RetryAfter.ToString()) >= 1);
        Assert.Equal(401, (await Anonymous("198.51.100.71")).Context.Response.StatusCode);

        var user = await RegisterUser(host: host);
        Task<IScenarioResult> Me() => host.Scenario(s => { s.Get.Url("/api/auth/me"); s.As(user); s.IgnoreStatusCode(); });
        for (var i = 0; i < 3; i++)
            Assert.Equal(200, (await Me()).Context.Response.StatusCode);
        await ShouldBeProblem(await Me(), 429, "rate_limited");
        // /health is outside the API limit.
        await host.Scenario(s => { s.Get.Url("/health"); s.StatusCodeShouldBe(200); });
    }
}
