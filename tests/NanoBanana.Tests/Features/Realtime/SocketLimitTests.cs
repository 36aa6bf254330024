using System.Diagnostics;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Infrastructure.Realtime;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>SPEC section 5: sockets per user, the client-frame budget, and refused handshakes that do not invite a reconnect storm.</summary>
public sealed class SocketLimitTests(AppFixture app, LiveServer server) : RealtimeContext(app, server)
{
    [Fact]
    public async Task One_socket_past_the_per_user_cap_is_refused_4429_before_any_data_and_the_others_stay_open()
    {
        using var small = LiveServer.Start(new Dictionary<string, string?> { ["WS_MAX_CONNECTIONS_PER_USER"] = "3", ["WS_REFUSAL_DELAY_MS"] = "0" });
        var user = await RegisterUser();
        var other = await RegisterUser();
        var session = await NewSession(user);
        var open = new List<Device>();
        for (var i = 0; i < 3; i++) open.Add((await Device.Connect(small, session, user)).Device);

        await using (var fourth = await Device.Open(small, Device.PathFor(session, user.Token)))
        {
            var (code, frames) = await fourth.ReceiveUntilClosed();
            Assert.Equal(4429, code);
            Assert.Empty(frames);
        }
        // Another user is not affected, and the three still work.
        var (otherSocket, _) = await Device.Connect(small, await NewSession(other), other);
        await otherSocket.DisposeAsync();
        foreach (var d in open)
        {
            await d.Send(new { type = "ping" });
            Assert.Equal("pong", (await d.ReceiveType("pong"))["type"]!.GetValue<string>());
            await d.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_refused_socket_ends_without_an_exception_in_the_app_when_its_client_leaves_without_answering_or_before_the_refusal()
    {
        using var watch = new RequestWatch();
        using var small = LiveServer.Start(new Dictionary<string, string?> { ["WS_MAX_CONNECTIONS_PER_USER"] = "1", ["WS_REFUSAL_DELAY_MS"] = "200" },
            services => services.AddSingleton<IStartupFilter>(watch));
        var user = await RegisterUser();
        var session = await NewSession(user);
        var (kept, _) = await Device.Connect(small, session, user);
        await using var _k = kept;

        // Refused, and gone without answering the close frame (as the abuse drill's 268 refused sockets).
        for (var i = 0; i < 3; i++)
        {
            await using var refused = await Device.Open(small, Device.PathFor(session, user.Token));
            Assert.Equal(4429, (await refused.ReceiveUntilClosed()).Code);
        }
        // Gone during the refusal delay.
        for (var i = 0; i < 3; i++)
        {
            var gone = await Device.Open(small, Device.PathFor(session, user.Token));
            gone.Socket.Abort();
            gone.Socket.Dispose();
        }
        await watch.WhenEnded(6).WaitAsync(Device.Timeout);

        // Each exception is thrown, caught and thrown again along its awaits: a burst of refusals paid for every one.
        Assert.True(watch.Thrown.Count == 0, string.Join("; ", watch.Thrown.GroupBy(e => $"{e.GetType().Name}: {e.Message}").Select(g => $"{g.Count()} × {g.Key}")));
    }

    [Fact]
    public async Task A_typing_flood_reaches_other_devices_a_few_times_a_second_and_a_socket_that_keeps_flooding_is_closed_4008()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        var (flooder, _) = await Device.Connect(Server, session, user);
        await using var _f = flooder;
        var (watcher, _) = await Device.Connect(Server, session, user);
        await using var _w = watcher;

        var sent = 0;
        var clock = Stopwatch.StartNew();
        try
        {
            while (flooder.Socket.State == WebSocketState.Open && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                await flooder.Send(new { type = "typing", payload = new { sessionId = session, isTyping = true } });
                sent++;
            }
        }
        catch (WebSocketException) { } // the server closed while we were sending
        var (code, _) = await flooder.ReceiveUntilClosed();
        Assert.Equal(4008, code);

        // The watcher got a few typing frames (the budget), not one per frame sent.
        await watcher.Send(new { type = "ping" });
        var typing = 0;
        while (true)
        {
            var frame = await watcher.Receive();
            if (frame["type"]!.GetValue<string>() == "pong") break;
            if (frame["type"]!.GetValue<string>() == "typing") typing++;
        }
        Assert.True(sent > 200, $"sent {sent}");
        Assert.InRange(typing, 1, 3 + (int)Math.Ceiling(clock.Elapsed.TotalSeconds * 3) + 1);
    }

    [Fact]
    public async Task A_refused_handshake_waits_before_its_4401_and_a_good_one_does_not()
    {
        using var slow = LiveServer.Start(new Dictionary<string, string?> { ["WS_REFUSAL_DELAY_MS"] = "1500" });
        var user = await RegisterUser();
        var session = await NewSession(user);

        var refused = Stopwatch.StartNew();
        await using (var bad = await Device.Open(slow, Device.PathFor(session, "not-a-token")))
        {
            var (code, frames) = await bad.ReceiveUntilClosed();
            Assert.Equal(4401, code);
            Assert.Empty(frames);
        }
        Assert.True(refused.Elapsed >= TimeSpan.FromMilliseconds(1400), $"refused after {refused.ElapsedMilliseconds} ms");

        var good = Stopwatch.StartNew();
        var (device, _) = await Device.Connect(slow, session, user);
        await device.DisposeAsync();
        Assert.True(good.Elapsed < TimeSpan.FromMilliseconds(1400), $"connected after {good.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task A_handshake_waits_for_a_free_slot_of_the_gate_while_requests_are_answered()
    {
        var gate = new HandshakeGate(1);
        using var gated = LiveServer.Start(services: services => services.AddSingleton(gate));
        var user = await RegisterUser();
        var session = await NewSession(user);
        using var http = new HttpClient { BaseAddress = gated.Address };

        // The test holds the only slot: the socket's handshake queues, the API does not.
        using var held = gate.NewTurn();
        Assert.True(await held.Take(CancellationToken.None));
        var opening = Device.Connect(gated, session, user);
        for (var i = 0; i < 5; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/sessions");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", user.Token);
            using var answer = await http.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.OK, answer.StatusCode);
        }
        Assert.False(opening.IsCompleted, "the handshake ran past a gate with no free slot");

        held.Leave();
        var (device, connected) = await opening.WaitAsync(Device.Timeout);
        await using var _d = device;
        Assert.Equal("connected", connected["type"]!.GetValue<string>());
        Assert.Equal(0, gate.InProgress);
    }
}
