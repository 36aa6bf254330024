using Alba;

namespace NanoBanana.Tests.Features.Auth;

public sealed class RefreshTests(AppFixture app) : IntegrationContext(app)
{
    Task<IScenarioResult> RefreshWith(string refreshToken, IAlbaHost? host = null) => (host ?? Host).Scenario(s =>
    {
        s.Post.Json(new { refreshToken }).ToUrl("/api/auth/refresh");
        s.IgnoreStatusCode();
    });

    Task<IScenarioResult> BodylessRefresh(string? accessToken, IAlbaHost? host = null) => (host ?? Host).Scenario(s =>
    {
        s.Post.Url("/api/auth/refresh");
        if (accessToken is not null) s.WithToken(accessToken);
        s.IgnoreStatusCode();
    });

    async Task MeShouldAnswer(string token, int status) =>
        await Host.Scenario(s => { s.Get.Url("/api/auth/me"); s.WithToken(token); s.StatusCodeShouldBe(status); });

    [Fact]
    public async Task A_refresh_token_is_rotated_into_a_new_pair()
    {
        var user = await RegisterUser();
        var result = await RefreshWith(user.RefreshToken);
        Assert.Equal(200, result.Context.Response.StatusCode);
        var body = await Json(result);
        Assert.Equal(["token", "refreshToken", "expiresAt"], body.Select(p => p.Key).ToArray());
        var next = body["refreshToken"]!.GetValue<string>();
        Assert.NotEqual(user.RefreshToken, next);
        Assert.True(body["expiresAt"]!.GetValue<DateTimeOffset>() > DateTimeOffset.UtcNow);
        await MeShouldAnswer(body["token"]!.GetValue<string>(), 200);
        // Same device: the access token names the same refresh family.
        Assert.Equal(TestTokens.DeviceOf(user.Token), TestTokens.DeviceOf(body["token"]!.GetValue<string>()));

        // The new one rotates again.
        Assert.Equal(200, (await RefreshWith(next)).Context.Response.StatusCode);
    }

    [Fact]
    public async Task Reusing_a_rotated_token_answers_401_and_revokes_the_whole_family()
    {
        var user = await RegisterUser();
        var other = await SignIn(user, "198.51.100.30");
        var next = (await Json(await RefreshWith(user.RefreshToken)))["refreshToken"]!.GetValue<string>();

        await ShouldBeProblem(await RefreshWith(user.RefreshToken), 401, "token_reused");
        // The thief's copy and the owner's current token are both dead now: that device signs in again.
        await ShouldBeProblem(await RefreshWith(next), 401, "invalid_token");
        await ShouldBeProblem(await BodylessRefresh(user.Token), 401, "invalid_token");
        // Another device of the same user is not affected.
        Assert.Equal(200, (await RefreshWith(other.RefreshToken)).Context.Response.StatusCode);
    }

    [Fact]
    public async Task A_forged_token_naming_a_device_is_refused_and_does_not_sign_that_device_out()
    {
        // The user id and device (family) id are not secret: the device id is the "did" claim of every
        // access token. A token made up from them, with a secret we never issued, is not a reuse.
        var user = await RegisterUser();
        var parts = user.RefreshToken.Split('.');
        var forged = $"{parts[0]}.{parts[1]}.{new string('A', parts[2].Length)}";

        await ShouldBeProblem(await RefreshWith(forged), 401, "invalid_token");

        // The device still refreshes with its real token, and its access token still extends.
        Assert.Equal(200, (await BodylessRefresh(user.Token)).Context.Response.StatusCode);
        Assert.Equal(200, (await RefreshWith(user.RefreshToken)).Context.Response.StatusCode);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("0190a1b2c3d4e5f6a7b8c9d0e1f2a3b4.0190a1b2c3d4e5f6a7b8c9d0e1f2a3b4.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task An_unknown_refresh_token_answers_401_invalid_token(string token)
    {
        await ShouldBeProblem(await RefreshWith(token), 401, "invalid_token");
    }

    [Fact]
    public async Task Without_a_body_a_valid_access_token_gets_a_new_one_for_the_same_device()
    {
        var user = await RegisterUser();
        var result = await BodylessRefresh(user.Token);
        Assert.Equal(200, result.Context.Response.StatusCode);
        var body = await Json(result);
        Assert.Equal(["token", "expiresAt"], body.Select(p => p.Key).ToArray());
        var token = body["token"]!.GetValue<string>();
        Assert.NotEqual(user.Token, token);
        Assert.Equal(TestTokens.DeviceOf(user.Token), TestTokens.DeviceOf(token));
        await MeShouldAnswer(token, 200);
        // The device's refresh token was not touched by this flow.
        Assert.Equal(200, (await RefreshWith(user.RefreshToken)).Context.Response.StatusCode);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"refreshToken\":null}")]
    [InlineData("")]
    public async Task An_empty_body_with_a_valid_access_token_is_the_same_flow(string json)
    {
        var user = await RegisterUser();
        var result = await Host.Scenario(s =>
        {
            s.Post.Text(json).ToUrl("/api/auth/refresh");
            s.WithRequestHeader("Content-Type", "application/json");
            s.As(user);
            s.IgnoreStatusCode();
        });
        Assert.Equal(200, result.Context.Response.StatusCode);
        Assert.Null((await Json(result))["refreshToken"]);
    }

    [Fact]
    public async Task Without_a_body_or_a_token_answers_401_unauthorized()
    {
        await ShouldBeProblem(await BodylessRefresh(null), 401, "unauthorized");
    }

    [Fact]
    public async Task Without_a_body_an_expired_access_token_answers_401_token_expired()
    {
        var user = await RegisterUser();
        var expired = TestTokens.Signed(user.Id, TestTokens.DeviceOf(user.Token), DateTime.UtcNow.AddHours(-2), DateTime.UtcNow.AddHours(-1));
        await ShouldBeProblem(await BodylessRefresh(expired), 401, "token_expired");
    }

    [Fact]
    public async Task Without_a_body_an_unsigned_access_token_answers_401_invalid_token()
    {
        var user = await RegisterUser();
        await ShouldBeProblem(await BodylessRefresh(TestTokens.Unsigned(user.Token)), 401, "invalid_token");
    }

    [Fact]
    public async Task Without_a_body_a_signed_out_device_answers_401()
    {
        var user = await RegisterUser();
        await Host.Scenario(s => { s.Post.Url("/api/auth/logout"); s.As(user); s.StatusCodeShouldBe(200); });
        await ShouldBeProblem(await BodylessRefresh(user.Token), 401, "invalid_token");
    }

    [Fact]
    public async Task Without_a_body_the_new_token_never_outlives_the_devices_refresh_expiry()
    {
        // Access tokens of two days, refresh families of one: the access token must be cut at the family's end.
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?>
        {
            ["JWT_ACCESS_MINUTES"] = (2 * 24 * 60).ToString(),
            ["JWT_REFRESH_DAYS"] = "1",
        });
        var user = await RegisterUser(host: host);
        var deviceEnds = DateTimeOffset.UtcNow.AddDays(1);
        var result = await BodylessRefresh(user.Token, host);
        Assert.Equal(200, result.Context.Response.StatusCode);
        var expiresAt = (await Json(result))["expiresAt"]!.GetValue<DateTimeOffset>();
        Assert.True(expiresAt <= deviceEnds, $"{expiresAt:o} is after the device's end {deviceEnds:o}");
        Assert.True(expiresAt > DateTimeOffset.UtcNow.AddHours(23));
    }
}
