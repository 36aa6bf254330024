using System.Net.Sockets;
using System.Text;
using NanoBanana.Features;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>Several instances on one Redis, and a client that stops reading.</summary>
public sealed class ScaleOutTests(AppFixture app, LiveServer server) : RealtimeContext(app, server)
{
    [Fact]
    public async Task An_event_raised_on_host_A_reaches_the_users_sockets_on_host_B_and_A()
    {
        await using var hostB = LiveServer.Start();
        var user = await RegisterUser();
        var session = await SeedSession(user.Id);
        var (onA, _) = await Device.Connect(Server, session, user);
        var (onB, _) = await Device.Connect(hostB, session, user);
        await using var _a = onA; await using var _b = onB;

        // Raised by host A's Wolverine (the fan-out runs there); B learns it through Redis only.
        await Raise(new MessageCreated(user.Id, Message(session, "from A")), on: Server.AppHost);

        foreach (var device in new[] { onB, onA })
        {
            var frame = await device.ReceiveEvent();
            Assert.Equal("from A", frame["payload"]!["messageData"]!["text"]!.GetValue<string>());
            Assert.Equal(1, frame["seq"]!.GetValue<long>());
        }

        // Typing crosses instances too.
        await onB.Send(new { type = "typing", payload = new { sessionId = session, isTyping = false } });
        var typing = await onA.Receive();
        Assert.Equal("typing", typing["type"]!.GetValue<string>());
        Assert.False(typing["payload"]!["isTyping"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_socket_that_never_reads_is_closed_4008_when_its_queue_fills_while_another_keeps_receiving()
    {
        await using var small = LiveServer.Start(new Dictionary<string, string?>
        {
            ["REALTIME_SEND_QUEUE"] = "8",
            ["REALTIME_SEND_TIMEOUT_SECONDS"] = "60",
        });
        var user = await RegisterUser();
        var session = await SeedSession(user.Id);

        // The stuck device reads its open frame, then nothing; a tiny kernel buffer fills first.
        await using var stuck = await Device.Open(small, Device.PathFor(session, user.Token), receiveBufferBytes: 4096);
        Assert.Equal("connected", (await stuck.Receive())["type"]!.GetValue<string>());
        var (reader, _) = await Device.Connect(small, session, user);
        await using var _r = reader;

        // 300 frames of ~32 KB: far more than the socket buffers and the 8-frame queue hold. The healthy
        // device reads each batch before the next is raised, so only the stuck one falls behind.
        const int count = 300;
        var text = new string('x', 32_000);
        for (var seq = 1; seq <= count; seq += 10)
        {
            for (var i = seq; i < seq + 10; i++)
                await Invoke(small.AppHost, new MessageCreated(user.Id, Message(session, text, id: $"m{i}")));
            for (var i = seq; i < seq + 10; i++)
                Assert.Equal(i, (await reader.ReceiveEvent())["seq"]!.GetValue<long>());
        }

        var (code, frames) = await stuck.ReceiveUntilClosed();
        Assert.Equal(4008, code);
        var got = frames.Where(f => f["seq"] is not null).Select(f => f["seq"]!.GetValue<long>()).ToList();
        Assert.True(got.Count < count, $"the stuck socket got all {got.Count}");
        Assert.Equal(Enumerable.Range(1, got.Count).Select(i => (long)i), got);

        // It resumes where it stopped and gets the rest.
        var (resumed, _) = await Device.Connect(small, session, user, since: got.Count);
        await using var _s = resumed;
        for (var seq = got.Count + 1; seq <= count; seq++)
            Assert.Equal(seq, (await resumed.ReceiveEvent())["seq"]!.GetValue<long>());
    }
    [Fact]
    public async Task A_peer_that_stops_answering_pings_is_dropped_by_the_server()
    {
        await using var fast = LiveServer.Start(new Dictionary<string, string?>
        {
            ["REALTIME_KEEPALIVE_SECONDS"] = "0.5",
            ["REALTIME_KEEPALIVE_TIMEOUT_SECONDS"] = "0.5",
        });
        var user = await RegisterUser();
        var session = await SeedSession(user.Id);

        // A raw TCP client: it completes the upgrade, then reads bytes without ever answering a ping,
        // like a phone that vanished without closing.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(fast.Address.Host, fast.Address.Port);
        var stream = tcp.GetStream();
        var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
        var request = $"GET {Device.PathFor(session, user.Token)} HTTP/1.1\r\nHost: {fast.Address.Authority}\r\n" +
                      $"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));

        using var cts = new CancellationTokenSource(Device.Timeout);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var n = await stream.ReadAsync(buffer, cts.Token);
                if (n == 0) break; // the server closed the connection
                received.Write(buffer, 0, n);
            }
        }
        catch (IOException)
        {
            // reset by the server: dropped too
        }
        var text = Encoding.ASCII.GetString(received.ToArray());
        Assert.StartsWith("HTTP/1.1 101", text);
        Assert.Contains("\"type\":\"connected\"", text);
    }
}
