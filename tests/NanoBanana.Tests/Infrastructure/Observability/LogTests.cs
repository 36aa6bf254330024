using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NanoBanana.Infrastructure.Observability;

namespace NanoBanana.Tests.Infrastructure.Observability;

public sealed class LogTests(AppFixture app) : IntegrationContext(app)
{
    [Fact]
    public async Task No_password_or_token_appears_in_the_logs()
    {
        var user = await RegisterUser("logged");
        var device = await SignIn(user, "198.51.100.60");
        var refreshed = await Json(await Host.Scenario(s =>
        {
            s.Post.Json(new { refreshToken = device.RefreshToken }).ToUrl("/api/auth/refresh");
            s.StatusCodeShouldBe(200);
        }));
        // A failed sign-in too: its password must not be logged either.
        await Host.Scenario(s =>
        {
            s.Post.Json(new { email = user.Email, password = "a wrong secret 12345" }).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(401);
        });

        // Failed password change, refused refresh-token reuse: failure paths log more than success ones.
        await Host.Scenario(s =>
        {
            s.Put.Json(new { currentPassword = "another wrong secret", newPassword = "and a new secret 678" }).ToUrl("/api/auth/password");
            s.As(device);
            s.StatusCodeShouldBe(400);
        });
        await Host.Scenario(s =>
        {
            s.Post.Json(new { refreshToken = device.RefreshToken }).ToUrl("/api/auth/refresh");
            s.StatusCodeShouldBe(401);
        });

        var secrets = new[]
        {
            Password, "a wrong secret 12345", "another wrong secret", "and a new secret 678", user.Token, user.RefreshToken, device.Token, device.RefreshToken,
            refreshed["token"]!.GetValue<string>(), refreshed["refreshToken"]!.GetValue<string>(),
        };
        // The console and combined.log are written in the background: wait for the lines queued so far.
        await Host.Services.GetRequiredService<BackgroundLogWriter>().FlushAsync();
        var files = Directory.GetFiles(App.LogDirectory, "*", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        var all = string.Join("\n", files.Select(Read));
        // The control: the log does record these requests, so an absent secret means it was kept out.
        Assert.Contains("/api/auth/refresh", all);
        foreach (var secret in secrets)
            Assert.DoesNotContain(secret, all);
        // Not even the secret part of a token (after its last dot).
        foreach (var token in secrets.Skip(2))
            Assert.DoesNotContain(token[(token.LastIndexOf('.') + 1)..], all);
    }

    [Fact]
    public async Task Each_request_has_one_line_with_method_path_status_and_time_but_never_its_query_and_health_checks_none()
    {
        var marker = Guid.NewGuid().ToString("N");
        await Host.Scenario(s => { s.Get.Url($"/api/sessions/{marker}?token=secret-{marker}"); s.StatusCodeShouldBe(401); });
        await Host.Scenario(s => { s.Get.Url($"/health?probe={marker}"); s.IgnoreStatusCode(); });

        await Host.Services.GetRequiredService<BackgroundLogWriter>().FlushAsync();
        var combined = Read(Directory.GetFiles(App.LogDirectory, "combined*.log").Single());
        var line = Assert.Single(combined.Split('\n'), l => l.Contains(marker));
        Assert.Matches(@"^20\d\d-\d\d-\d\dT[\d:.]+[+-]\d\d:\d\d \[INF\] Serilog\.AspNetCore\.RequestLoggingMiddleware: HTTP GET /api/sessions/"
            + marker + @" responded 401 in \d+\.\d ms \{""RequestId"":""[^""]+"",""ConnectionId"":(""[^""]*""|null)\} $", line);
        Assert.DoesNotContain("secret-", combined);
        Assert.DoesNotContain(combined.Split('\n'), l => l.Contains("HTTP GET /health"));
    }

    [Fact]
    public void A_cancellation_logged_after_the_client_went_away_is_not_an_error_line()
    {
        // A client that hangs up while its request runs cancels the request's token down to the handler,
        // and Wolverine logs that as a failed invocation, at Error (seen in the hostile input sweep). Nobody
        // is left to answer and nothing failed on our side: no error line. The same failure while the
        // client is still there stays an error.
        var accessor = Host.Services.GetRequiredService<IHttpContextAccessor>();
        var log = Host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Wolverine.Runtime.Handlers.Executor");
        var marker = Guid.NewGuid().ToString("N");
        try
        {
            accessor.HttpContext = new DefaultHttpContext { RequestAborted = new CancellationToken(canceled: true) };
            log.LogError(new OperationCanceledException(), "Invocation of {Message} failed!", $"gone-{marker}");
            accessor.HttpContext = new DefaultHttpContext();
            log.LogError(new OperationCanceledException(), "Invocation of {Message} failed!", $"here-{marker}");
        }
        finally
        {
            accessor.HttpContext = null;
        }
        var errors = Read(Path.Combine(App.LogDirectory, "error.log"));
        Assert.Contains($"here-{marker}", errors);
        Assert.DoesNotContain($"gone-{marker}", errors);
    }

    const string Forged = "2099-01-01T00:00:00.0000000+00:00 [WRN] Forged: ";

    [Fact]
    public async Task Control_characters_in_logged_values_are_escaped_so_no_line_can_be_forged()
    {
        // The path reaches the request line. The app logs no header, so the header, email and username
        // are logged here as values, in the template text and in an exception's message and stack.
        await Host.Scenario(s => { s.Get.Url("/api/health%0d%0a" + Uri.EscapeDataString(Forged + "path") + "%1b%5b31m"); s.IgnoreStatusCode(); });
        var logger = Host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("NanoBanana.Tests.Forgery");
        logger.LogWarning("Sign-in attempt from {UserAgent} for {Email} as {Username}",
            "agent\r\n" + Forged + "header", "a@example.com\n" + Forged + "email", "name\u001b[2J\u0085\u2028" + Forged + "username");
#pragma warning disable CA2254 // a template built from a value: the text of the template itself must be escaped too
        logger.LogWarning("template\n" + Forged + "template");
#pragma warning restore CA2254
        logger.LogError(Thrown("message\r\n" + Forged + "exception"), "Failed with {Value}", "value");

        await Host.Services.GetRequiredService<BackgroundLogWriter>().FlushAsync();
        var combined = Read(Directory.GetFiles(App.LogDirectory, "combined*.log").Single());
        var errors = Read(Path.Combine(App.LogDirectory, "error.log"));
        foreach (var where in new[] { "path", "header", "email", "username", "template", "exception" })
        {
            Assert.Contains(Forged + where, combined); // logged...
            Assert.DoesNotContain("\n" + Forged + where, combined); // ...but never at the start of a line
        }
        foreach (var control in new[] { '\r', '\u001b', '\u0085', '\u2028', '\t' })
            Assert.DoesNotContain(control, combined);
        Assert.Contains(@"agent\r\n", combined); // written as the characters \ r \ n
        Assert.Contains(@"name\u001b[2J", combined);
        // An exception's message and its stack stay on its event's line, in both files.
        Assert.Contains(Forged + "exception", errors);
        Assert.Contains(nameof(Thrown), errors);
        AssertOneEventPerLine(combined);
        AssertOneEventPerLine(errors);
    }

    [Fact]
    public async Task A_failed_sign_in_logs_its_email_and_stack_on_one_escaped_line()
    {
        // A command that fails for a reason of ours is logged with its members (Wolverine's failed
        // invocation) and the exception's stack: the sign-in's email reaches the log from the request body.
        await using var redis = await OwnRedis.Start();
        var logs = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "logs");
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?>
        {
            ["REDIS_URL"] = redis.Endpoint, ["LOG_DIR"] = logs, ["RATE_LIMIT_PER_ADDRESS"] = "100000", ["PASSWORD_RATE_PER_ADDRESS"] = "100000",
        });
        // Two sign-ins while Redis answers: the rate limits reserve permits in growing batches (1, then 2),
        // so the next request passes them without Redis and fails in the handler.
        for (var i = 0; i < 2; i++)
            await host.Scenario(s =>
            {
                s.Post.Json(new { email = "nobody@example.com", password = "some password 123" }).ToUrl("/api/auth/login");
                s.StatusCodeShouldBe(401);
            });
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Services.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>().ConnectionRestored += (_, _) => reconnected.TrySetResult();
        await redis.RestartLoading(keys: 300, perKey: TimeSpan.FromMilliseconds(100));
        await reconnected.Task.WaitAsync(TimeSpan.FromSeconds(30));

        await host.Scenario(s =>
        {
            s.Post.Json(new { email = "a@example.com\r\n" + Forged + "email\u001b[2J", password = "some password 123" }).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(503);
        });
        Assert.False(redis.Loaded.IsCompleted, "the sign-in was meant to reach a Redis that is still loading");

        await host.Services.GetRequiredService<BackgroundLogWriter>().FlushAsync();
        var errors = Read(Path.Combine(logs, "error.log"));
        var combined = Read(Directory.GetFiles(logs, "combined*.log").Single());
        Assert.Contains(Forged + "email", errors); // the failed command was logged with its email...
        Assert.Contains("   at ", errors); // ...and a stack
        foreach (var text in new[] { errors, combined })
        {
            Assert.DoesNotContain("\n" + Forged, text);
            Assert.DoesNotContain('\u001b', text);
            AssertOneEventPerLine(text);
        }
    }

    /// <summary>Every line of a log file starts with its event's timestamp: no event spans lines, none is forged.</summary>
    static void AssertOneEventPerLine(string log)
    {
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        foreach (var line in lines)
            Assert.Matches(@"^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d \[[A-Z]{3}\] ", line);
        Assert.DoesNotContain(lines, l => l.StartsWith("2099-"));
    }

    static Exception Thrown(string message)
    {
        try { throw new InvalidOperationException(message, new FormatException("inner\n" + Forged + "inner")); }
        catch (InvalidOperationException e) { return e; }
    }

    static string Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }
}
