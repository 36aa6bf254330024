using Alba;

namespace NanoBanana.Tests.Features.Auth;

public sealed class MeTests(AppFixture app) : IntegrationContext(app)
{
    Task<IScenarioResult> Me(string? token) => Host.Scenario(s =>
    {
        s.Get.Url("/api/auth/me");
        if (token is not null) s.WithToken(token);
        s.IgnoreStatusCode();
    });

    [Fact]
    public async Task Me_answers_the_callers_account_in_a_user_envelope()
    {
        var user = await RegisterUser();
        var result = await Me(user.Token);
        Assert.Equal(200, result.Context.Response.StatusCode);
        var body = await Json(result);
        Assert.Equal(["user"], body.Select(p => p.Key).ToArray());
        var u = body["user"]!.AsObject();
        Assert.Equal(user.Id, u["id"]!.GetValue<string>());
        Assert.Equal(user.Email, u["email"]!.GetValue<string>());
        Assert.Equal(user.Username, u["username"]!.GetValue<string>());
        Assert.True(u.ContainsKey("avatar"));
        Assert.True(u["isActive"]!.GetValue<bool>());
        foreach (var stamp in new[] { "createdAt", "updatedAt", "lastLoginAt" })
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", u[stamp]!.GetValue<string>());
        Assert.Null(u["passwordHash"]);
    }

    [Fact]
    public async Task No_token_answers_401_unauthorized_problem()
    {
        await ShouldBeProblem(await Me(null), 401, "unauthorized");
    }

    [Fact]
    public async Task Expired_token_answers_401_token_expired()
    {
        var user = await RegisterUser();
        var expired = TestTokens.Signed(user.Id, TestTokens.DeviceOf(user.Token), DateTime.UtcNow.AddHours(-2), DateTime.UtcNow.AddHours(-1));
        await ShouldBeProblem(await Me(expired), 401, "token_expired");
    }

    [Fact]
    public async Task Tampered_token_answers_401_invalid_token()
    {
        var victim = await RegisterUser("victim");
        var user = await RegisterUser();
        await ShouldBeProblem(await Me(TestTokens.Tampered(user.Token, victim.Id)), 401, "invalid_token");
    }

    [Fact]
    public async Task Alg_none_token_answers_401_invalid_token()
    {
        var user = await RegisterUser();
        await ShouldBeProblem(await Me(TestTokens.Unsigned(user.Token)), 401, "invalid_token");
    }

    [Fact]
    public async Task Token_signed_with_another_secret_answers_401_invalid_token()
    {
        var user = await RegisterUser();
        var forged = TestTokens.Signed(user.Id, TestTokens.DeviceOf(user.Token), DateTime.UtcNow, DateTime.UtcNow.AddMinutes(5),
            secret: "another-secret-that-is-long-enough-for-hs256-000000");
        await ShouldBeProblem(await Me(forged), 401, "invalid_token");
    }

    [Fact]
    public async Task The_same_claims_properly_signed_are_accepted()
    {
        // The control for the refusals above: only the signature, algorithm or expiry made them fail.
        var user = await RegisterUser();
        var fine = TestTokens.Signed(user.Id, TestTokens.DeviceOf(user.Token), DateTime.UtcNow, DateTime.UtcNow.AddMinutes(5));
        Assert.Equal(200, (await Me(fine)).Context.Response.StatusCode);
    }
}
