using System.Net.Sockets;
using System.Text;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>Several instances on one Redis, and a client that stops reading.</summary>
public sealed class ScaleOutTests(AppFixture app, LiveServer server) : RealtimeContext(app, server)
{
    [Fact]
    public async Task An_event_raised_on_host_A_reaches_the_users_sockets_on_host_B_and_A()
    {
        await using var hostB = LiveServer.Start();
        var user = await RegisterUser();
        var session = await NewSession(user);   // seq 1
        var (onA, _) = await Device.Connect(Server, session, user);
        var (onB, _) = await Device.Connect(hostB, session, user);
        await using var _a = onA; await using var _b = onB;

        // Posted to host A (its commit publishes); B learns it through Redis only.
        await Calls(user, on: Server).PostMessage(session, "from A");

        foreach (var device in new[] { onB, onA })
        {
            var frames = await EventsUntil(device, 3);   // message_created, then the session's session_updated
            Assert.Equal("from A", frames[0]["payload"]!["messageData"]!["text"]!.GetValue<string>());
            Assert.Equal([2L, 3L], frames.Select(Seq));
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
        var session = await NewSession(user);   // seq 1

        // The stuck device reads its open frame, then nothing; a tiny kernel buffer fills first.
        await using var stuck = await Device.Open(small, Device.PathFor(session, user.Token), receiveBufferBytes: 4096);
        Assert.Equal("connected", (await stuck.Receive())["type"]!.GetValue<string>());
        var (reader, _) = await Device.Connect(small, session, user);
        await using var _r = reader;

        // 300 posts of 32,000 characters (each a ~32 KB message_created and its session_updated): far more than the
        // socket buffers and the 8-frame queue hold. The healthy device reads each batch before the next is posted,
        // so only the stuck one falls behind.
        const int posts = 300, last = 1 + 2 * posts;
        var text = new string('x', 32_000);
        var calls = Calls(user, on: small);
        for (var post = 0; post < posts; post += 10)
        {
            for (var i = 0; i < 10; i++) await calls.PostMessage(session, text);
            var read = await EventsUntil(reader, 1 + 2 * (post + 10));
            Assert.Equal(Enumerable.Range(2 + 2 * post, 20).Select(i => (long)i), read.Select(Seq));
        }

        var (code, frames) = await stuck.ReceiveUntilClosed();
        Assert.Equal(4008, code);
        var got = frames.Where(f => f["seq"] is not null).Select(Seq).ToList();
        Assert.True(got.Count < last - 1, $"the stuck socket got all {got.Count}");
        Assert.Equal(Enumerable.Range(2, got.Count).Select(i => (long)i), got);

        // It resumes where it stopped and gets the rest.
        var stoppedAt = 1 + got.Count;
        var (resumed, _) = await Device.Connect(small, session, user, since: stoppedAt);
        await using var _s = resumed;
        Assert.Equal(Enumerable.Range(stoppedAt + 1, last - stoppedAt).Select(i => (long)i), (await EventsUntil(resumed, last)).Select(Seq));
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
        var session = await NewSession(user);

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
