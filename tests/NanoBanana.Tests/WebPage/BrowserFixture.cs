using System.Net;
using System.Net.Sockets;
using Microsoft.Playwright;

namespace NanoBanana.Tests.WebPage;

/// <summary>
/// One Chromium (Debian's, at CHROMIUM_PATH or /usr/bin/chromium: Playwright cannot download its own here) and
/// one app on a real port for the browser tests of a class. The port is chosen before the start so that the
/// local store's picture URLs (PUBLIC_BASE_URL) name the address the browser loads the page from.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public LiveServer Server { get; private set; } = null!;
    public Uri Address { get; private set; } = null!;
    IPlaywright _playwright = null!;
    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var port = FreePort();
        Address = new Uri($"http://127.0.0.1:{port}");
        Server = LiveServer.Start(new Dictionary<string, string?>
        {
            ["urls"] = Address.ToString(),
            ["PORT"] = port.ToString(),
            ["PUBLIC_BASE_URL"] = Address.ToString().TrimEnd('/'),
            ["LOCAL_STORAGE_PATH"] = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "uploads"),
        });
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Environment.GetEnvironmentVariable("CHROMIUM_PATH") ?? "/usr/bin/chromium",
            Args = ["--no-sandbox"], // the tests run as root in CI
        });
    }

    public async Task DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
        await Server.DisposeAsync();
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
