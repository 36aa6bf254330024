namespace NanoBanana.Tests.Infrastructure;

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

    static string Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }
}
