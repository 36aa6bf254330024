using System.Net.Sockets;
using System.Text;

namespace NanoBanana.Tests.Infrastructure.Http;

/// <summary>
/// Requests that Kestrel itself would refuse with an empty answer: where the app can be let to answer, it does,
/// with problem details (docs/decisions.md lists the ones Kestrel still answers itself). Real sockets: the test
/// server has no Kestrel in front of the app.
/// </summary>
public sealed class ServerEdgesTests(AppFixture app) : IntegrationContext(app), IAsyncLifetime
{
    LiveServer _server = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _server = LiveServer.Start();
    }

    public override async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>Sends raw bytes as one HTTP/1.1 request and reads the whole answer (the connection closes).</summary>
    async Task<string> Raw(params byte[][] parts)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(_server.Address.Host, _server.Address.Port);
        var stream = tcp.GetStream();
        foreach (var part in parts) await stream.WriteAsync(part);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        using var reader = new StreamReader(stream, Encoding.Latin1);
        return await reader.ReadToEndAsync(cts.Token);
    }

    byte[] Head(string requestLine, string headers = "") =>
        Encoding.ASCII.GetBytes($"{requestLine}\r\nHost: {_server.Address.Authority}\r\n{headers}Connection: close\r\n");

    static readonly byte[] End = "\r\n"u8.ToArray();

    [Fact]
    public async Task An_authorization_header_with_bytes_that_are_not_utf8_answers_401_problem_not_an_empty_400()
    {
        var answer = await Raw(Head("GET /api/auth/me HTTP/1.1"), "Authorization: Bearer abc"u8.ToArray(), [0xC3, 0x28, 0xFF], "\r\n"u8.ToArray(), End);

        Assert.StartsWith("HTTP/1.1 401", answer);
        Assert.Contains("Content-Type: application/problem+json", answer);
        Assert.Contains("\"code\":\"invalid_token\"", answer);
    }

    [Fact]
    public async Task A_request_target_longer_than_8_KiB_answers_414_problem()
    {
        var answer = await Raw(Head($"GET /api/search?q={new string('a', 9000)} HTTP/1.1"), End);

        Assert.StartsWith("HTTP/1.1 414", answer);
        Assert.Contains("Content-Type: application/problem+json", answer);
        Assert.Contains("\"code\":\"uri_too_long\"", answer);
    }

    [Fact]
    public async Task A_nul_in_the_path_is_refused_by_kestrel_itself_before_the_app_with_an_empty_400()
    {
        // Kestrel rejects the request line before any app code runs (docs/decisions.md): no problem details possible.
        var answer = await Raw(Head("GET /api/sessions/a%00b HTTP/1.1"), End);
        Assert.StartsWith("HTTP/1.1 400", answer);
        Assert.Contains("Content-Length: 0", answer);
    }
}
