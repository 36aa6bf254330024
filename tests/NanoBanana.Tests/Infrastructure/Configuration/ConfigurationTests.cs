using System.Net;
using Alba;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace NanoBanana.Tests.Infrastructure.Configuration;

public sealed class ConfigurationTests(AppFixture app) : IntegrationContext(app)
{
    [Theory]
    [InlineData("")]
    [InlineData("too-short-secret")]
    public async Task A_missing_or_short_jwt_secret_outside_development_stops_start_up_with_a_clear_message(string secret)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() =>
            AppFixture.StartHost(new Dictionary<string, string?> { ["JWT_SECRET"] = secret }));
        Assert.Contains("JWT_SECRET", error.ToString());
    }

    static Task<IAlbaHost> DevelopmentHost(string secretFile) =>
        AppFixture.StartHost(new Dictionary<string, string?> { ["JWT_SECRET"] = "", ["DEV_JWT_SECRET_FILE"] = secretFile },
            environment: "Development");

    async Task<int> MeStatus(IAlbaHost host, string token) =>
        (await host.Scenario(s => { s.Get.Url("/api/auth/me"); s.WithToken(token); s.IgnoreStatusCode(); })).Context.Response.StatusCode;

    [Fact]
    public async Task Without_jwt_secret_development_makes_a_random_secret_once_kept_owner_only_and_tokens_survive_a_restart()
    {
        var folder = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"));
        var file = Path.Combine(folder, "data", "dev-jwt-secret");
        string token;
        await using (var first = await DevelopmentHost(file))
            token = (await RegisterUser(host: first)).Token;

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var secret = File.ReadAllText(file);
        Assert.True(secret.Length >= 32);

        await using (var restarted = await DevelopmentHost(file))
            Assert.Equal(200, await MeStatus(restarted, token));
        Assert.Equal(secret, File.ReadAllText(file));

        // Another data folder makes another secret: the first one's tokens mean nothing there.
        var other = Path.Combine(folder, "other", "dev-jwt-secret");
        await using (var elsewhere = await DevelopmentHost(other))
            Assert.Equal(401, await MeStatus(elsewhere, token));
        Assert.NotEqual(secret, File.ReadAllText(other));
    }

    static IEnumerable<IPAddress> BoundAddresses(LiveServer server) =>
        server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => IPAddress.Parse(new Uri(a).Host.Trim('[', ']')));

    [Fact]
    public async Task Without_urls_the_service_listens_on_loopback_unless_listen_address_says_otherwise()
    {
        await using (var server = LiveServer.Start(new Dictionary<string, string?> { ["urls"] = null, ["PORT"] = "0" }))
            Assert.All(BoundAddresses(server), a => Assert.True(IPAddress.IsLoopback(a), $"{a} is not loopback"));

        await using (var container = LiveServer.Start(new Dictionary<string, string?> { ["urls"] = null, ["PORT"] = "0", ["LISTEN_ADDRESS"] = "0.0.0.0" }))
            Assert.Equal([IPAddress.Any], BoundAddresses(container));
    }
}
