using Alba;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace NanoBanana.Tests.Features.Auth;

/// <summary>SPEC section 1, abuse limits: the routes that hash a password, per address and under a concurrency bound.</summary>
public sealed class AbuseLimitTests(AppFixture app) : IntegrationContext(app)
{
    static string Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }

    static Task<IScenarioResult> Post(IAlbaHost host, string url, object body, string address, string? token = null) =>
        host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl(url);
            s.WithRequestHeader("X-Forwarded-For", address);
            if (token is not null) s.WithToken(token);
            s.IgnoreStatusCode();
        });

    [Fact]
    public async Task The_password_routes_are_limited_per_address_whatever_token_the_request_carries()
    {
        // A clock that stands still: the limit's one-minute window cannot turn during the test.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?> { ["PASSWORD_RATE_PER_ADDRESS"] = "3" },
            services => services.AddSingleton<TimeProvider>(clock));
        var user = await RegisterUser(host: host); // from the test's own address ("unknown"), not the one below
        const string flooder = "203.0.113.80";
        for (var i = 0; i < 3; i++)
            Assert.Equal(200, (await Post(host, "/api/auth/login", new { email = user.Email, password = Password }, flooder)).Context.Response.StatusCode);
        // Over the limit: a token of one's own does not lift it, on login nor on register.
        var login = await Post(host, "/api/auth/login", new { email = user.Email, password = Password }, flooder, user.Token);
        await ShouldBeProblem(login, 429, "rate_limited");
        Assert.False(string.IsNullOrEmpty(login.Context.Response.Headers.RetryAfter.ToString()));
        var (email, username) = NewIdentity();
        await ShouldBeProblem(await Post(host, "/api/auth/register", new { email, username, password = Password }, flooder, user.Token), 429, "rate_limited");

        // Another address is not limited.
        Assert.Equal(201, (await Post(host, "/api/auth/register", new { email, username, password = Password }, "198.51.100.80")).Context.Response.StatusCode);
    }

    [Fact]
    public async Task Refused_requests_are_logged_once_a_minute_per_caller_not_once_each()
    {
        var logs = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "logs");
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?> { ["PASSWORD_RATE_PER_ADDRESS"] = "1", ["LOG_DIR"] = logs },
            services => services.AddSingleton<TimeProvider>(clock));
        const string flooder = "203.0.113.90";
        for (var i = 0; i < 21; i++)
            await Post(host, "/api/auth/login", new { email = "nobody@example.com", password = Password }, flooder);

        await host.Services.GetRequiredService<NanoBanana.Infrastructure.Observability.BackgroundLogWriter>().FlushAsync();
        var log = Read(Directory.GetFiles(logs, "combined*.log").Single());
        Assert.DoesNotContain("responded 429", log);
        Assert.Single(log.Split('\n'), l => l.Contains("Requests over the rate limit refused for address 203.0.113.90 on /api/auth/login"));
    }

    [Fact]
    public async Task A_flood_of_correct_logins_answers_200_or_503_with_retry_after_and_never_500()
    {
        var logs = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "logs");
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?> { ["PASSWORD_HASH_CONCURRENCY"] = "1", ["LOG_DIR"] = logs });
        var user = await RegisterUser(host: host);

        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            Post(host, "/api/auth/login", new { email = user.Email, password = Password }, $"198.51.100.{i + 1}")));

        var statuses = answers.Select(a => a.Context.Response.StatusCode).ToList();
        Assert.All(statuses, s => Assert.True(s is 200 or 503, $"answered {s}"));
        Assert.Contains(200, statuses);
        // One hash at a time, at most 8 in line: most of 40 at once are turned away, with a time to come back.
        var busy = answers.Where(a => a.Context.Response.StatusCode == 503).ToList();
        Assert.NotEmpty(busy);
        foreach (var b in busy)
        {
            await ShouldBeProblem(b, 503, "busy");
            Assert.Equal("1", b.Context.Response.Headers.RetryAfter.ToString());
        }
        // Turning work away is an answer, not a fault: a flood must not fill the error log (written at once, no flush needed).
        var errors = Path.Combine(logs, "error.log");
        Assert.Equal("", File.Exists(errors) ? Read(errors) : "");
        await host.Services.GetRequiredService<NanoBanana.Infrastructure.Observability.BackgroundLogWriter>().FlushAsync();
        Assert.Contains("[WRN] Serilog.AspNetCore.RequestLoggingMiddleware: HTTP POST /api/auth/login responded 503",
            Read(Directory.GetFiles(logs, "combined*.log").Single()));
    }

    [Fact]
    public async Task Concurrent_correct_logins_to_one_account_never_answer_500()
    {
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?> { ["PASSWORD_HASH_CONCURRENCY"] = "40" });
        var user = await RegisterUser(host: host);

        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            Post(host, "/api/auth/login", new { email = user.Email, password = Password }, $"198.51.100.{i + 1}")));

        // A loaded machine may still turn some away (503 busy); the lastLoginAt race must never fail one.
        var statuses = answers.Select(a => a.Context.Response.StatusCode).ToList();
        Assert.All(statuses, s => Assert.True(s is 200 or 503, $"answered {s}"));
        Assert.True(statuses.Count(s => s == 200) >= 20, string.Join(",", statuses));
    }
}
