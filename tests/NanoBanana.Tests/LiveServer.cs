using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace NanoBanana.Tests;

/// <summary>
/// The app on a real Kestrel listener (127.0.0.1, a free port), for tests that need real sockets
/// (ClientWebSocket): Alba's TestServer has none. Same Redis and JWT secret as <see cref="AppFixture"/>,
/// so users registered through the Alba host can connect here.
/// </summary>
public class LiveServer : WebApplicationFactory<Program>
{
    readonly Dictionary<string, string?> _settings = new()
    {
        ["REDIS_URL"] = AppFixture.RedisEndpoint,
        ["JWT_SECRET"] = AppFixture.JwtSecret,
        ["PASSWORD_RATE_PER_ADDRESS"] = "1000000", // every test registers from one address; RateLimitTests lower it
        ["RATE_LIMIT_REFUSAL_DELAY_MS"] = "0", // refusals answer at once (stopped clocks in the limit tests); TarpitTests hold them
        ["LOG_DIR"] = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "logs"),
        ["urls"] = "http://127.0.0.1:0",
    };

    readonly Action<IServiceCollection>? _services;

    public LiveServer() : this(null) { }

    /// <summary>
    /// A further host with the test defaults overridden by <paramref name="settings"/>, and services replaced
    /// by <paramref name="services"/> (a fake clock).
    /// </summary>
    public static LiveServer Start(IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null) =>
        new(settings, services);

    LiveServer(IDictionary<string, string?>? settings, Action<IServiceCollection>? services = null)
    {
        _services = services;
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) _settings[k] = v;
        UseKestrel();
        StartServer();
    }

    public IHost AppHost { get; private set; } = null!;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        foreach (var (k, v) in _settings) builder.UseSetting(k, v);
        builder.ConfigureServices(DocumentedAnswers.AddTo);
        if (_services is not null) builder.ConfigureTestServices(_services);
    }

    protected override IHost CreateHost(IHostBuilder builder)
    {
        AppHost = base.CreateHost(builder);
        return AppHost;
    }

    /// <summary>http://127.0.0.1:port</summary>
    public Uri Address => new(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public Uri WebSocketUri(string pathAndQuery) =>
        new($"ws://{Address.Authority}{pathAndQuery}");
}
