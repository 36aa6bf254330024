using Alba;

namespace NanoBanana.Tests.Features.Auth;

public sealed class ChangePasswordTests(AppFixture app) : IntegrationContext(app)
{
    const string NewPassword = "a brand new passphrase";

    Task<IScenarioResult> Change(TestUser user, string current, string next) => Host.Scenario(s =>
    {
        s.Put.Json(new { currentPassword = current, newPassword = next }).ToUrl("/api/auth/password");
        s.As(user);
        s.IgnoreStatusCode();
    });

    Task<IScenarioResult> Login(TestUser user, string password) => Host.Scenario(s =>
    {
        s.Post.Json(new { email = user.Email, password }).ToUrl("/api/auth/login");
        s.WithRequestHeader("X-Forwarded-For", "198.51.100.20");
        s.IgnoreStatusCode();
    });

    Task<IScenarioResult> RefreshWith(string refreshToken) => Host.Scenario(s =>
    {
        s.Post.Json(new { refreshToken }).ToUrl("/api/auth/refresh");
        s.IgnoreStatusCode();
    });

    Task<IScenarioResult> BodylessRefresh(string accessToken) => Host.Scenario(s =>
    {
        s.Post.Url("/api/auth/refresh");
        s.WithToken(accessToken);
        s.IgnoreStatusCode();
    });

    [Fact]
    public async Task Changes_the_password_and_answers_a_message()
    {
        var user = await RegisterUser();
        var result = await Change(user, Password, NewPassword);
        Assert.Equal(200, result.Context.Response.StatusCode);
        var body = await Json(result);
        Assert.Equal(["message"], body.Select(p => p.Key).ToArray());

        await ShouldBeProblem(await Login(user, Password), 401, "invalid_credentials");
        Assert.Equal(200, (await Login(user, NewPassword)).Context.Response.StatusCode);
    }

    [Fact]
    public async Task A_wrong_current_password_answers_400_invalid_credentials_not_401()
    {
        var user = await RegisterUser();
        var body = await ShouldBeProblem(await Change(user, "not the password", NewPassword), 400, "invalid_credentials");
        Assert.NotNull(body["errors"]!["currentPassword"]);
        Assert.Equal(200, (await Login(user, Password)).Context.Response.StatusCode);
    }

    [Theory]
    [InlineData("short")]
    [InlineData(Password)]
    public async Task An_unacceptable_new_password_answers_400_naming_it(string next)
    {
        var user = await RegisterUser();
        var body = await ShouldBeProblem(await Change(user, Password, next), 400, "validation_failed");
        Assert.NotNull(body["errors"]!["newPassword"]);
    }

    [Fact]
    public async Task Every_other_device_is_signed_out_and_this_one_stays()
    {
        var laptop = await RegisterUser();
        var phone = await SignIn(laptop, "198.51.100.21");
        var tablet = await SignIn(laptop, "198.51.100.22");
        var stranger = await RegisterUser("stranger");

        Assert.Equal(200, (await Change(laptop, Password, NewPassword)).Context.Response.StatusCode);

        await ShouldBeProblem(await RefreshWith(phone.RefreshToken), 401, "invalid_token");
        await ShouldBeProblem(await BodylessRefresh(tablet.Token), 401, "invalid_token");
        Assert.Equal(200, (await RefreshWith(laptop.RefreshToken)).Context.Response.StatusCode);
        Assert.Equal(200, (await BodylessRefresh(laptop.Token)).Context.Response.StatusCode);
        // Another user's devices are untouched.
        Assert.Equal(200, (await RefreshWith(stranger.RefreshToken)).Context.Response.StatusCode);
    }
}
