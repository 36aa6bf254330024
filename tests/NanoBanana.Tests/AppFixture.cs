using Alba;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace NanoBanana.Tests;

/// <summary>
/// One app host for the whole test run, against the real Redis that scripts/test.sh starts
/// (NB_TEST_REDIS, default 127.0.0.1:6391). Extra hosts with other settings (a dead Redis, a
/// fake clock) are made with <see cref="StartHost"/>.
/// </summary>
public sealed class AppFixture : IAsyncLifetime
{
    public static string RedisEndpoint => Environment.GetEnvironmentVariable("NB_TEST_REDIS") ?? "127.0.0.1:6391";
    public const string JwtSecret = "test-secret-that-is-long-enough-for-hs256-0123456789";

    public IAlbaHost Host { get; private set; } = null!;
    public string LogDirectory { get; } = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "logs");
    public IDatabase Redis => Host.Services.GetRequiredService<IDatabase>();

    /// <summary>A connection of the tests' own, allowed to flush.</summary>
    public IConnectionMultiplexer Admin { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Admin = await ConnectionMultiplexer.ConnectAsync($"{RedisEndpoint},allowAdmin=true,abortConnect=false,connectTimeout=15000,syncTimeout=15000,asyncTimeout=15000");
        Host = await StartHost(new Dictionary<string, string?> { ["LOG_DIR"] = LogDirectory });
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Admin.DisposeAsync();
    }

    public async Task FlushRedis()
    {
        foreach (var server in Admin.GetServers().Where(s => !s.IsReplica))
            await server.FlushAllDatabasesAsync();
    }

    /// <summary>Starts a host with the test defaults, overridden by <paramref name="settings"/>.</summary>
    public static Task<IAlbaHost> StartHost(IDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? services = null, string environment = "Testing")
    {
        var all = new Dictionary<string, string?>
        {
            ["REDIS_URL"] = RedisEndpoint,
            ["JWT_SECRET"] = JwtSecret,
            ["KNOWN_PROXIES"] = "127.0.0.1", // the in-process host has no peer address: its X-Forwarded-For is taken
            ["PASSWORD_RATE_PER_ADDRESS"] = "1000000", // every test registers from one address; RateLimitTests lower it
            ["RATE_LIMIT_REFUSAL_DELAY_MS"] = "0", // refusals answer at once (stopped clocks in the limit tests); TarpitTests hold them
            ["LOG_DIR"] = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "logs"),
            ["LOCAL_STORAGE_PATH"] = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "uploads"),
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) all[k] = v;
        return AlbaHost.For<Program>(b =>
        {
            b.UseEnvironment(environment);
            foreach (var (k, v) in all) b.UseSetting(k, v);
            b.ConfigureServices(DocumentedAnswers.AddTo);
            if (services is not null) b.ConfigureServices(services);
        });
    }
}

[CollectionDefinition(Name)]
public sealed class AppCollection : ICollectionFixture<AppFixture>
{
    public const string Name = "app";
}
