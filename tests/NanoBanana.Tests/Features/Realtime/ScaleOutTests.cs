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

        // 300 frames of ~32 KB: far more than the socket buffers and the 8-frame queue hold.
        const int count = 300;
        var text = new string('x', 32_000);
        async Task<List<long>> ReadAll()
        {
            var seqs = new List<long>();
            while (seqs.Count < count) seqs.Add((await reader.ReceiveEvent())["seq"]!.GetValue<long>());
            return seqs;
        }
        var reading = ReadAll(); // the healthy device reads while the events are raised
        for (var i = 0; i < count; i++)
            await Invoke(small.AppHost, new MessageCreated(user.Id, Message(session, text, id: $"m{i}")));

        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), await reading);

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
}
