using System.Net;
using System.Net.WebSockets;
using NanoBanana.Features;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>Opening the hub: authentication, session ownership, origin, the open frame, client frames.</summary>
public sealed class HubTests(AppFixture app, LiveServer server) : RealtimeContext(app, server)
{
    [Fact]
    public async Task Open_sends_the_seed_connected_frame_first()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        var (device, connected) = await Device.Connect(Server, session, user, userId: user.Id);
        await using var _ = device;

        Assert.Equal(session, connected["sessionId"]!.GetValue<string>());
        Assert.Equal(user.Id, connected["userId"]!.GetValue<string>());
        Assert.Equal(1, connected["lastSeq"]!.GetValue<long>()); // the session's session_created
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", connected["timestamp"]!.GetValue<string>());
    }

    async Task AssertClosedBeforeAnyData(string pathAndQuery, int code)
    {
        await using var device = await Device.Open(Server, pathAndQuery);
        var (closeCode, frames) = await device.ReceiveUntilClosed();
        Assert.Equal(code, closeCode);
        Assert.Empty(frames);
    }

    [Fact]
    public async Task Missing_or_bad_token_closes_4401_before_any_data()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        await AssertClosedBeforeAnyData(Device.PathFor(session, ""), 4401);
        await AssertClosedBeforeAnyData(Device.PathFor(session, "not-a-token"), 4401);
        await AssertClosedBeforeAnyData(Device.PathFor(session, user.Token[..^4] + "AAAA"), 4401);
    }

    [Fact]
    public async Task A_token_sent_as_the_first_frame_opens_the_socket_as_one_in_the_address_does()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        await using var device = await Device.Open(Server, Device.PathFor(session, null, userId: user.Id));
        await device.Send(new { type = "auth", payload = new { token = user.Token } });
        var connected = await device.Receive();
        Assert.Equal("connected", connected["type"]!.GetValue<string>());
        Assert.Equal(session, connected["sessionId"]!.GetValue<string>());
        Assert.Equal(user.Id, connected["userId"]!.GetValue<string>());

        // A live socket: its session's events reach it.
        await Calls(user).PostMessage(session, "hello");
        Assert.Equal("message_created", Type(await device.ReceiveEvent()));
    }

    [Fact]
    public async Task Without_a_token_in_the_address_a_first_frame_other_than_a_valid_auth_closes_4401_before_any_data()
    {
        var user = await RegisterUser();
        var other = await RegisterUser();
        var session = await NewSession(user);
        async Task FirstFrameRefused(object frame, string? userId = null)
        {
            await using var device = await Device.Open(Server, Device.PathFor(session, null, userId: userId));
            await device.Send(frame);
            var (code, frames) = await device.ReceiveUntilClosed();
            Assert.Equal(4401, code);
            Assert.Empty(frames);
        }
        await FirstFrameRefused(new { type = "ping" });
        await FirstFrameRefused(new { type = "auth", payload = new { token = "not-a-token" } });
        await FirstFrameRefused(new { type = "auth", payload = new { token = user.Token } }, userId: other.Id);
        // The same session with the token in the first frame: refused as foreign, not as unauthenticated.
        await using var intruder = await Device.Open(Server, Device.PathFor(session, null));
        await intruder.Send(new { type = "auth", payload = new { token = other.Token } });
        Assert.Equal(4404, (await intruder.ReceiveUntilClosed()).Code);
    }

    [Fact]
    public async Task Without_a_token_in_the_address_a_socket_that_sends_nothing_is_closed_4401_after_the_auth_timeout()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        using var quick = LiveServer.Start(new Dictionary<string, string?> { ["WS_AUTH_TIMEOUT_SECONDS"] = "0.5", ["WS_REFUSAL_DELAY_MS"] = "0" });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var silent = await Device.Open(quick, Device.PathFor(session, null));
        var (code, frames) = await silent.ReceiveUntilClosed();
        Assert.Equal(4401, code);
        Assert.Empty(frames);
        // The server's timer counts in whole milliseconds of its own clock, so it may fire a fraction of one early by ours.
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.49), $"closed after {clock.Elapsed}, before the timeout");
    }

    [Fact]
    public async Task Expired_token_closes_4401()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        var past = new AccessTokens(new JwtSettings { Secret = AppFixture.JwtSecret, AccessTokenMinutes = 15 },
            new FixedClock(DateTimeOffset.UtcNow.AddHours(-1)));
        var (expired, expiresAt) = past.Issue(user.Id, "device");
        Assert.True(expiresAt < DateTimeOffset.UtcNow);
        await AssertClosedBeforeAnyData(Device.PathFor(session, expired), 4401);
    }

    [Fact]
    public async Task UserId_that_does_not_match_the_token_closes_4401()
    {
        var user = await RegisterUser();
        var other = await RegisterUser();
        var session = await NewSession(user);
        await AssertClosedBeforeAnyData(Device.PathFor(session, user.Token, userId: other.Id), 4401);
    }

    [Fact]
    public async Task Another_users_deleted_or_unknown_session_closes_4404()
    {
        var owner = await RegisterUser();
        var intruder = await RegisterUser();
        var ownersSession = await NewSession(owner);
        var deleted = await NewSession(intruder, deleted: true);
        await AssertClosedBeforeAnyData(Device.PathFor(ownersSession, intruder.Token), 4404);
        await AssertClosedBeforeAnyData(Device.PathFor(deleted, intruder.Token), 4404);
        await AssertClosedBeforeAnyData(Device.PathFor(Guid.NewGuid().ToString("N"), intruder.Token), 4404);

        // The owner is let in (the 4404 above is about ownership, not about the session).
        var (device, _) = await Device.Connect(Server, ownersSession, owner);
        await device.DisposeAsync();
    }

    [Fact]
    public async Task A_foreign_origin_is_refused_and_a_configured_or_absent_one_accepted()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        var path = Device.PathFor(session, user.Token);

        var refused = await Assert.ThrowsAsync<WebSocketException>(() => Device.Open(Server, path, origin: "http://evil.example"));
        Assert.NotNull(refused);

        await using var browser = await Device.Open(Server, path, origin: "http://localhost:5173");
        Assert.Equal("connected", (await browser.Receive())["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_services_own_page_origin_is_accepted_without_being_configured()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        var path = Device.PathFor(session, user.Token);

        // The page at / connects from the origin it was served from: the host the socket itself is opened on.
        await using var page = await Device.Open(Server, path, origin: $"http://{Server.Address.Authority}");
        Assert.Equal("connected", (await page.Receive())["type"]!.GetValue<string>());
        // A look-alike on another port is someone else's origin.
        await Assert.ThrowsAsync<WebSocketException>(() => Device.Open(Server, path, origin: $"http://{Server.Address.Host}:1"));
    }

    [Fact]
    public async Task A_plain_http_request_answers_400_problem()
    {
        using var client = new HttpClient { BaseAddress = Server.Address };
        var response = await client.GetAsync("/ws/whatever");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("websocket_required", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Ping_answers_pong()
    {
        var user = await RegisterUser();
        var (device, _) = await Device.Connect(Server, await NewSession(user), user);
        await using var _d = device;
        await device.Send(new { type = "ping" });
        var pong = await device.Receive();
        Assert.Equal("pong", pong["type"]!.GetValue<string>());
        Assert.NotNull(pong["timestamp"]);
    }

    [Theory]
    [InlineData("{not json", "malformed_frame")]
    [InlineData("[1,2]", "malformed_frame")]
    [InlineData("{\"payload\":{}}", "malformed_frame")]
    [InlineData("{\"type\":\"dance\"}", "unknown_type")]
    [InlineData("{\"type\":\"join_session\"}", "invalid_payload")]
    [InlineData("{\"type\":\"join_session\",\"payload\":{\"sessionId\":5}}", "invalid_payload")]
    [InlineData("{\"type\":\"typing\",\"payload\":{\"sessionId\":\"abc\"}}", "invalid_payload")]
    [InlineData("{\"type\":\"resume\",\"payload\":{\"since\":-1}}", "invalid_payload")]
    [InlineData("{\"type\":\"resume\",\"payload\":{\"since\":\"7\"}}", "invalid_payload")]
    public async Task Malformed_or_unknown_frames_answer_an_error_frame_and_the_socket_stays_open(string frame, string code)
    {
        var user = await RegisterUser();
        var (device, _) = await Device.Connect(Server, await NewSession(user), user);
        await using var _d = device;

        await device.SendText(frame);
        var error = await device.Receive();
        Assert.Equal("error", error["type"]!.GetValue<string>());
        Assert.Equal(code, error["payload"]!["code"]!.GetValue<string>());
        Assert.False(string.IsNullOrWhiteSpace(error["payload"]!["message"]!.GetValue<string>()));

        await device.Send(new { type = "ping" });
        Assert.Equal("pong", (await device.Receive())["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Oversized_and_binary_frames_answer_error_frames_and_the_socket_stays_open()
    {
        var user = await RegisterUser();
        var (device, _) = await Device.Connect(Server, await NewSession(user), user);
        await using var _d = device;

        await device.SendText($"{{\"type\":\"ping\",\"payload\":{{\"pad\":\"{new string('x', 40_000)}\"}}}}");
        Assert.Equal("frame_too_large", (await device.Receive())["payload"]!["code"]!.GetValue<string>());
        using (var cts = new CancellationTokenSource(Device.Timeout))
            await device.Socket.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, true, cts.Token);
        Assert.Equal("unsupported_frame", (await device.Receive())["payload"]!["code"]!.GetValue<string>());

        await device.Send(new { type = "ping" });
        Assert.Equal("pong", (await device.Receive())["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Joining_another_users_session_answers_session_not_found_and_stays_open()
    {
        var user = await RegisterUser();
        var other = await RegisterUser();
        var theirs = await NewSession(other);
        var (device, _) = await Device.Connect(Server, await NewSession(user), user);
        await using var _d = device;

        await device.Send(new { type = "join_session", payload = new { sessionId = theirs } });
        var error = await device.Receive();
        Assert.Equal("session_not_found", error["payload"]!["code"]!.GetValue<string>());

        // Their message events do not reach this socket either way.
        await Calls(other).PostMessage(theirs);
        await device.Send(new { type = "ping" });
        Assert.Equal("pong", (await device.Receive())["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_flood_of_frames_is_rate_limited_and_the_socket_stays_open()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        var (device, _) = await Device.Connect(Server, session, user);
        await using var _d = device;

        const int flood = 200;
        for (var i = 0; i < flood; i++) await device.Send(new { type = "ping" });
        // Accepted pings answer pongs; the first refused one answers a rate_limited notice (then at most one a second).
        var pongs = 0;
        while (true)
        {
            var frame = await device.Receive();
            if (frame["type"]!.GetValue<string>() == "pong") { pongs++; continue; }
            Assert.Equal("error", frame["type"]!.GetValue<string>());
            Assert.Equal("rate_limited", frame["payload"]!["code"]!.GetValue<string>());
            break;
        }
        Assert.InRange(pongs, 40, flood - 1); // the burst went through, the flood did not

        // Still open: a stored event arrives.
        await Calls(user).RenameSession(session, "still here");
        var e = await device.ReceiveEvent();
        Assert.Equal("session_updated", e["type"]!.GetValue<string>());
        Assert.Equal(WebSocketState.Open, device.Socket.State);
    }

    sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
