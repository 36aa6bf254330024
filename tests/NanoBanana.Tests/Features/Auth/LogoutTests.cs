using Alba;

namespace NanoBanana.Tests.Features.Auth;

public sealed class LogoutTests(AppFixture app) : IntegrationContext(app)
{
    Task<IScenarioResult> RefreshWith(string refreshToken) => Host.Scenario(s =>
    {
        s.Post.Json(new { refreshToken }).ToUrl("/api/auth/refresh");
        s.IgnoreStatusCode();
    });

    Task<IScenarioResult> Logout(TestUser caller, string? refreshToken) => Host.Scenario(s =>
    {
        if (refreshToken is null) s.Post.Url("/api/auth/logout");
        else s.Post.Json(new { refreshToken }).ToUrl("/api/auth/logout");
        s.As(caller);
        s.IgnoreStatusCode();
    });

    [Fact]
    public async Task Logout_with_a_refresh_token_ends_that_device_only()
    {
        var laptop = await RegisterUser();
        var phone = await SignIn(laptop, "198.51.100.40");
        var result = await Logout(laptop, laptop.RefreshToken);
        Assert.Equal(200, result.Context.Response.StatusCode);
        Assert.Equal(["message"], (await Json(result)).Select(p => p.Key).ToArray());

        await ShouldBeProblem(await RefreshWith(laptop.RefreshToken), 401, "invalid_token");
        Assert.Equal(200, (await RefreshWith(phone.RefreshToken)).Context.Response.StatusCode);
    }

    [Fact]
    public async Task Logout_without_a_body_ends_the_access_tokens_device()
    {
        var laptop = await RegisterUser();
        var phone = await SignIn(laptop, "198.51.100.41");
        Assert.Equal(200, (await Logout(phone, null)).Context.Response.StatusCode);

        await ShouldBeProblem(await RefreshWith(phone.RefreshToken), 401, "invalid_token");
        Assert.Equal(200, (await RefreshWith(laptop.RefreshToken)).Context.Response.StatusCode);
    }

    [Fact]
    public async Task Someone_elses_refresh_token_ends_the_callers_device_not_theirs()
    {
        var victim = await RegisterUser("victim");
        var caller = await RegisterUser();
        Assert.Equal(200, (await Logout(caller, victim.RefreshToken)).Context.Response.StatusCode);

        Assert.Equal(200, (await RefreshWith(victim.RefreshToken)).Context.Response.StatusCode);
        await ShouldBeProblem(await RefreshWith(caller.RefreshToken), 401, "invalid_token");
    }

    [Fact]
    public async Task Logout_without_a_token_answers_401()
    {
        var result = await Host.Scenario(s => { s.Post.Url("/api/auth/logout"); s.IgnoreStatusCode(); });
        await ShouldBeProblem(result, 401, "unauthorized");
    }
}
