using System.Text.Json.Nodes;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace NanoBanana.Tests.Features.Auth;

public sealed class LoginTests(AppFixture app) : IntegrationContext(app)
{
    Task<IScenarioResult> Login(string email, string password, string address, IAlbaHost? host = null) =>
        (host ?? Host).Scenario(s =>
        {
            s.Post.Json(new { email, password }).ToUrl("/api/auth/login");
            s.WithRequestHeader("X-Forwarded-For", address);
            s.IgnoreStatusCode();
        });

    [Fact]
    public async Task Login_answers_200_with_user_tokens_and_expiry_and_records_the_sign_in()
    {
        var user = await RegisterUser();
        var before = (await Json(await Host.Scenario(s => { s.Get.Url("/api/auth/me"); s.As(user); })))["user"]!["lastLoginAt"]!.GetValue<DateTimeOffset>();

        var result = await Login(user.Email, Password, "198.51.100.1");
        Assert.Equal(200, result.Context.Response.StatusCode);
        var body = await Json(result);
        Assert.False(string.IsNullOrEmpty(body["message"]!.GetValue<string>()));
        Assert.Equal(user.Id, body["user"]!["id"]!.GetValue<string>());
        Assert.Equal(user.Email, body["user"]!["email"]!.GetValue<string>());
        Assert.Null(body["user"]!["passwordHash"]);
        Assert.Equal(3, body["token"]!.GetValue<string>().Split('.').Length);
        Assert.NotEqual(user.RefreshToken, body["refreshToken"]!.GetValue<string>());
        Assert.True(body["expiresAt"]!.GetValue<DateTimeOffset>() > DateTimeOffset.UtcNow);
        Assert.True(body["user"]!["lastLoginAt"]!.GetValue<DateTimeOffset>() > before);

        // The new token works, and the account now records this sign-in.
        var me = await Json(await Host.Scenario(s => { s.Get.Url("/api/auth/me"); s.WithToken(body["token"]!.GetValue<string>()); }));
        Assert.Equal(body["user"]!["lastLoginAt"]!.GetValue<string>(), me["user"]!["lastLoginAt"]!.GetValue<string>());
    }

    [Fact]
    public async Task Email_is_matched_whatever_its_case()
    {
        var user = await RegisterUser();
        var result = await Login("  " + user.Email.ToUpperInvariant(), Password, "198.51.100.2");
        Assert.Equal(200, result.Context.Response.StatusCode);
    }

    [Fact]
    public async Task Wrong_password_and_unknown_email_answer_the_same_401()
    {
        var user = await RegisterUser();
        var wrong = await ShouldBeProblem(await Login(user.Email, "not the password", "198.51.100.3"), 401, "invalid_credentials");
        var unknown = await ShouldBeProblem(await Login("nobody." + user.Email, Password, "198.51.100.3"), 401, "invalid_credentials");
        foreach (var member in new[] { "title", "detail", "code", "type", "status" })
            Assert.Equal(wrong[member]!.ToJsonString(), unknown[member]!.ToJsonString());
    }

    [Fact]
    public async Task Empty_fields_answer_400_naming_them()
    {
        var body = await ShouldBeProblem(await Login("", "", "198.51.100.4"), 400, "validation_failed");
        Assert.NotNull(body["errors"]!["email"]);
        Assert.NotNull(body["errors"]!["password"]);
    }

    [Fact]
    public async Task Repeated_failures_lock_the_account_for_the_failing_address_even_for_the_right_password()
    {
        var user = await RegisterUser();
        for (var i = 0; i < 5; i++)
            await ShouldBeProblem(await Login(user.Email, "wrong password " + i, "203.0.113.1"), 401, "invalid_credentials");

        var blocked = await Login(user.Email, Password, "203.0.113.1");
        await ShouldBeProblem(blocked, 429, "rate_limited");
        var retryAfter = int.Parse(blocked.Context.Response.Headers.RetryAfter.ToString());
        Assert.InRange(retryAfter, 1, 900);
    }

    [Fact]
    public async Task Failures_from_other_addresses_slow_the_owner_down_but_never_lock_them_out()
    {
        var user = await RegisterUser();
        // An attacker spreads ten failures over addresses, two each: no address reaches its own lock.
        for (var i = 0; i < 10; i++)
            await ShouldBeProblem(await Login(user.Email, "wrong password " + i, $"203.0.113.{i / 2 + 1}"), 401, "invalid_credentials");

        var started = System.Diagnostics.Stopwatch.StartNew();
        var owner = await Login(user.Email, Password, "198.51.100.77");
        Assert.Equal(200, owner.Context.Response.StatusCode);
        // The account failed 5 times past its limit: the delay has grown to its cap.
        Assert.True(started.Elapsed >= LoginAttemptsMaxDelay - TimeSpan.FromMilliseconds(50), $"answered after {started.ElapsedMilliseconds} ms");
    }

    static readonly TimeSpan LoginAttemptsMaxDelay = NanoBanana.Features.Auth.LoginAttempts.MaxDelay;

    [Fact]
    public async Task An_email_without_an_account_is_locked_the_same_way()
    {
        // Otherwise the 6th answer would tell an attacker which emails have accounts.
        for (var i = 0; i < 5; i++)
            await ShouldBeProblem(await Login("ghost@example.com", "wrong password", "203.0.113.10"), 401, "invalid_credentials");
        await ShouldBeProblem(await Login("GHOST@example.com", "wrong password", "203.0.113.10"), 429, "rate_limited");
    }

    [Fact]
    public async Task A_successful_login_resets_the_account_counter()
    {
        var user = await RegisterUser();
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < 4; i++)
                await ShouldBeProblem(await Login(user.Email, "wrong password", "198.51.100.5"), 401, "invalid_credentials");
            Assert.Equal(200, (await Login(user.Email, Password, "198.51.100.5")).Context.Response.StatusCode);
        }
    }

    /// <summary>A host with small limits and a clock the test moves.</summary>
    static async Task<(IAlbaHost Host, FakeTimeProvider Clock)> HostWithFakeClock()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var host = await AppFixture.StartHost(
            new Dictionary<string, string?>
            {
                ["LOGIN_MAX_FAILURES"] = "2",
                ["LOGIN_MAX_FAILURES_PER_ADDRESS"] = "3",
                ["LOGIN_WINDOW_SECONDS"] = "60",
            },
            services => services.AddSingleton<TimeProvider>(clock));
        return (host, clock);
    }

    [Fact]
    public async Task A_blocked_account_signs_in_again_once_the_window_has_passed()
    {
        var (host, clock) = await HostWithFakeClock();
        await using var _ = host;
        var user = await RegisterUser();

        for (var i = 0; i < 2; i++)
            await ShouldBeProblem(await Login(user.Email, "wrong password", "198.51.100.6", host), 401, "invalid_credentials");
        var blocked = await Login(user.Email, Password, "198.51.100.6", host);
        await ShouldBeProblem(blocked, 429, "rate_limited");
        Assert.Equal("60", blocked.Context.Response.Headers.RetryAfter.ToString());

        clock.Advance(TimeSpan.FromSeconds(45));
        var stillBlocked = await Login(user.Email, Password, "198.51.100.6", host);
        await ShouldBeProblem(stillBlocked, 429, "rate_limited");
        Assert.Equal("15", stillBlocked.Context.Response.Headers.RetryAfter.ToString());

        clock.Advance(TimeSpan.FromSeconds(16));
        Assert.Equal(200, (await Login(user.Email, Password, "198.51.100.6", host)).Context.Response.StatusCode);
    }

    [Fact]
    public async Task Failures_from_one_address_across_accounts_block_that_address_only()
    {
        var (host, clock) = await HostWithFakeClock();
        await using var _ = host;
        var user = await RegisterUser();

        for (var i = 0; i < 3; i++)
            await ShouldBeProblem(await Login($"guess{i}@example.com", "wrong password", "203.0.113.50", host), 401, "invalid_credentials");

        // This address is blocked, even for an account it never failed on...
        await ShouldBeProblem(await Login(user.Email, Password, "203.0.113.50", host), 429, "rate_limited");
        // ...while another address is not.
        Assert.Equal(200, (await Login(user.Email, Password, "203.0.113.51", host)).Context.Response.StatusCode);

        clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(200, (await Login(user.Email, Password, "203.0.113.50", host)).Context.Response.StatusCode);
    }
}
