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

    [Fact]
    public async Task Control_characters_in_logged_values_are_escaped_so_no_line_can_be_forged()
    {
        const string forged = "2099-01-01T00:00:00.0000000+00:00 [WRN] Forged: ";
        // The path reaches the request line; a header, an email and a username are logged as values by whatever logs them.
        await Host.Scenario(s => { s.Get.Url("/api/health%0d%0a" + Uri.EscapeDataString(forged + "path") + "%1b%5b31m"); s.IgnoreStatusCode(); });
        var logger = Host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("NanoBanana.Tests.Forgery");
        logger.LogWarning("Sign-in attempt from {UserAgent} for {Email} as {Username}",
            "agent\r\n" + forged + "header", "a@example.com\n" + forged + "email", "name\u001b[2J\u0085\u2028" + forged + "username");

        await Host.Services.GetRequiredService<BackgroundLogWriter>().FlushAsync();
        var combined = Read(Directory.GetFiles(App.LogDirectory, "combined*.log").Single());
        foreach (var where in new[] { "path", "header", "email", "username" })
        {
            Assert.Contains(forged + where, combined); // logged...
            Assert.DoesNotContain("\n" + forged + where, combined); // ...but never at the start of a line
        }
        foreach (var control in new[] { '\r', '\u001b', '\u0085', '\u2028' })
            Assert.DoesNotContain(control, combined);
        Assert.Contains(@"agent\r\n", combined); // written as the characters \ r \ n
        Assert.Contains(@"name\u001b[2J", combined);
    }

    static string Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }
}
