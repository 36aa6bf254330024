using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>
/// A device that goes away without a close frame (the leak drill's case, deterministic here): the
/// server drops it (at the heartbeat when it vanished silently, at once on a reset) and the hub lets
/// go of it completely: /health counts no socket, and this instance unsubscribes from the user's
/// channel. The wait is for that UNSUBSCRIBE to reach Redis (read with MONITOR), not a sleep.
/// </summary>
public sealed class VanishedClientTests(AppFixture app, LiveServer server) : RealtimeContext(app, server)
{
    [Theory]
    [InlineData("vanished")] // silent with the TCP connection left open: only the heartbeat can tell
    [InlineData("reset")]    // RST: the app was killed, the phone switched networks
    [InlineData("closed")]   // FIN without a close frame
    public async Task A_socket_gone_without_a_close_frame_is_dropped_and_the_hub_lets_go_of_it(string how)
    {
        await using var fast = LiveServer.Start(new Dictionary<string, string?>
        {
            ["REALTIME_KEEPALIVE_SECONDS"] = "0.5",
            ["REALTIME_KEEPALIVE_TIMEOUT_SECONDS"] = "0.5",
        });
        var user = await RegisterUser();
        var session = await NewSession(user);
        var stats = fast.Services.GetRequiredService<RealtimeStats>();
        await using var monitor = await RedisMonitor.Start(AppFixture.RedisEndpoint);
        var unsubscribed = monitor.WaitFor(line => line.Contains("UNSUBSCRIBE", StringComparison.OrdinalIgnoreCase)
                                                   && line.Contains(Keys.EventChannel(user.Id), StringComparison.Ordinal));

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(fast.Address.Host, fast.Address.Port);
        var stream = tcp.GetStream();
        var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET {Device.PathFor(session, user.Token)} HTTP/1.1\r\nHost: {fast.Address.Authority}\r\n" +
            $"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        var received = new StringBuilder();
        var buffer = new byte[4096];
        using (var cts = new CancellationTokenSource(Device.Timeout))
            while (!received.ToString().Contains("\"connected\"", StringComparison.Ordinal))
                received.Append(Encoding.ASCII.GetString(buffer, 0, await stream.ReadAsync(buffer, cts.Token)));
        // The control: the hub holds it, and this instance listens on the user's channel.
        Assert.Equal(1, stats.ActiveConnections);
        Assert.Equal(1, await Subscribers(user.Id));

        switch (how)
        {
            case "reset":
                tcp.Client.LingerState = new LingerOption(true, 0);
                tcp.Close();
                break;
            case "closed":
                tcp.Close();
                break;
            // vanished: nothing more is read or sent; pings go unanswered.
        }
        // The hub's last step when it lets go of a user's last socket: unsubscribing from the user's channel.
        await unsubscribed.WaitAsync(Device.Timeout);

        Assert.Equal(0, stats.ActiveConnections);
        Assert.Equal(0, await Subscribers(user.Id));
        using var http = new HttpClient { BaseAddress = fast.Address };
        var health = JsonNode.Parse(await http.GetStringAsync("/health"))!;
        Assert.Equal(0, health["websockets"]!["active"]!.GetValue<int>());
    }

    async Task<long> Subscribers(string userId)
    {
        var server = App.Admin.GetServer(App.Admin.GetEndPoints()[0]);
        var reply = (RedisResult[])(await server.ExecuteAsync("PUBSUB", "NUMSUB", Keys.EventChannel(userId)))!;
        return (long)reply[1];
    }
}
