using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alba;
using StackExchange.Redis;

namespace NanoBanana.Tests;

/// <summary>
/// Base of every test class in the app collection: Redis is flushed before each test, so tests
/// never see each other's data (they run one after another in the collection).
/// </summary>
[Collection(AppCollection.Name)]
public abstract class IntegrationContext(AppFixture app) : IAsyncLifetime
{
    protected AppFixture App { get; } = app;
    protected IAlbaHost Host => App.Host;
    protected IDatabase Redis => App.Redis;

    public virtual Task InitializeAsync() => App.FlushRedis();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    static int _counter;

    /// <summary>A fresh, valid account name pair, unique within the run.</summary>
    protected static (string Email, string Username) NewIdentity(string prefix = "user")
    {
        var n = Interlocked.Increment(ref _counter);
        var tag = Guid.NewGuid().ToString("N")[..8];
        return ($"{prefix}{n}.{tag}@example.com", $"{prefix}{n}_{tag}");
    }

    protected const string Password = "correct horse battery";

    /// <summary>Registers a new user and returns its session (token, refresh token, id).</summary>
    protected async Task<TestUser> RegisterUser(string prefix = "user", IAlbaHost? host = null)
    {
        var (email, username) = NewIdentity(prefix);
        var result = await (host ?? Host).Scenario(s =>
        {
            s.Post.Json(new { email, username, password = Password }).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(201);
        });
        var body = await result.ReadAsJsonAsync<JsonObject>();
        return new TestUser(body!["user"]!["id"]!.GetValue<string>(), email, username,
            body["token"]!.GetValue<string>(), body["refreshToken"]!.GetValue<string>());
    }

    /// <summary>Signs an existing user in as a new device (from <paramref name="address"/>) and returns that device's session.</summary>
    protected async Task<TestUser> SignIn(TestUser user, string address = "192.0.2.1", IAlbaHost? host = null)
    {
        var result = await (host ?? Host).Scenario(s =>
        {
            s.Post.Json(new { email = user.Email, password = Password }).ToUrl("/api/auth/login");
            s.WithRequestHeader("X-Forwarded-For", address);
            s.StatusCodeShouldBe(200);
        });
        var body = await Json(result);
        return user with { Token = body["token"]!.GetValue<string>(), RefreshToken = body["refreshToken"]!.GetValue<string>() };
    }

    protected static async Task<JsonObject> Json(IScenarioResult result) =>
        (await result.ReadAsJsonAsync<JsonObject>())!;

    /// <summary>Asserts the SPEC's problem-details shape and returns the body.</summary>
    protected static async Task<JsonObject> ShouldBeProblem(IScenarioResult result, int status, string code)
    {
        Assert.Equal(status, result.Context.Response.StatusCode);
        Assert.StartsWith("application/problem+json", result.Context.Response.ContentType);
        var body = await Json(result);
        Assert.Equal(status, body["status"]!.GetValue<int>());
        Assert.Equal(code, body["code"]!.GetValue<string>());
        Assert.False(string.IsNullOrWhiteSpace(body["message"]?.GetValue<string>()));
        Assert.False(string.IsNullOrWhiteSpace(body["error"]?.GetValue<string>()));
        Assert.Equal(body["detail"]!.GetValue<string>(), body["message"]!.GetValue<string>());
        Assert.Equal(body["title"]!.GetValue<string>(), body["error"]!.GetValue<string>());
        return body;
    }
}

public sealed record TestUser(string Id, string Email, string Username, string Token, string RefreshToken);

public static class ScenarioExtensions
{
    public static void WithToken(this Scenario s, string token) => s.WithRequestHeader("Authorization", $"Bearer {token}");
    public static void As(this Scenario s, TestUser user) => s.WithToken(user.Token);
}
