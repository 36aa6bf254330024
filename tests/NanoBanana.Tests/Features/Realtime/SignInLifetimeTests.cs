using System.Diagnostics;
using System.Net.WebSockets;
using Alba;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>
/// A socket lives as long as its device sign-in (SPEC section 5). The sign-ins end on the Alba host and
/// the sockets live on the Kestrel host: two instances, so the ending travels between them.
/// </summary>
public sealed class SignInLifetimeTests(AppFixture app, LiveServer server) : RealtimeContext(app, server)
{
    static readonly TimeSpan Promptly = TimeSpan.FromSeconds(2);

    async Task<(Device Device, Stopwatch Clock)> Open(TestUser user, string session)
    {
        var (device, _) = await Device.Connect(Server, session, user);
        return (device, new Stopwatch());
    }

    /// <summary>Waits for the server's close; asserts its code and that it came within <see cref="Promptly"/> of the answer that ended the sign-in (<paramref name="since"/>).</summary>
    static async Task ShouldCloseWith4401(Device device, Stopwatch since)
    {
        var (code, _) = await device.ReceiveUntilClosed();
        Assert.Equal(4401, code);
        Assert.True(since.Elapsed < Promptly, $"closed after {since.Elapsed.TotalMilliseconds:0} ms");
    }

    /// <summary>The socket still carries events: a session created now reaches it.</summary>
    async Task ShouldStillDeliver(Device device, TestUser user)
    {
        await Host.Scenario(s =>
        {
            s.Post.Json(new { title = "still here" }).ToUrl("/api/sessions");
            s.As(user);
            s.StatusCodeShouldBe(201);
        });
        var frame = await device.ReceiveType("session_created");
        Assert.Equal("still here", frame["payload"]!["session"]!["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_device_that_logs_out_has_its_socket_closed_with_4401_and_other_devices_keep_theirs()
    {
        var phone = await RegisterUser();
        var laptop = await SignIn(phone);
        var session = await NewSession(phone);
        var (phoneSocket, clock) = await Open(phone, session);
        await using var _ = phoneSocket;
        var (laptopSocket, _) = await Open(laptop, session);
        await using var __ = laptopSocket;

        await Host.Scenario(s => { s.Post.Url("/api/auth/logout"); s.As(phone); s.StatusCodeShouldBe(200); });
        clock.Start();

        await ShouldCloseWith4401(phoneSocket, clock);
        await ShouldStillDeliver(laptopSocket, laptop);
        // The logged-out device's access token is refused too.
        await Host.Scenario(s => { s.Get.Url("/api/sessions"); s.As(phone); s.StatusCodeShouldBe(401); });
    }

    [Fact]
    public async Task A_device_revoked_by_refresh_token_reuse_has_its_socket_closed_with_4401()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        var (socket, clock) = await Open(user, session);
        await using var _ = socket;
        await Host.Scenario(s => { s.Post.Json(new { refreshToken = user.RefreshToken }).ToUrl("/api/auth/refresh"); s.StatusCodeShouldBe(200); });

        await Host.Scenario(s => { s.Post.Json(new { refreshToken = user.RefreshToken }).ToUrl("/api/auth/refresh"); s.StatusCodeShouldBe(401); });
        clock.Start();

        await ShouldCloseWith4401(socket, clock);
    }

    [Fact]
    public async Task A_password_change_closes_the_other_devices_sockets_and_keeps_its_own()
    {
        var phone = await RegisterUser();
        var laptop = await SignIn(phone);
        var session = await NewSession(phone);
        var (phoneSocket, clock) = await Open(phone, session);
        await using var _ = phoneSocket;
        var (laptopSocket, _) = await Open(laptop, session);
        await using var __ = laptopSocket;

        await Host.Scenario(s =>
        {
            s.Put.Json(new { currentPassword = Password, newPassword = "another good password" }).ToUrl("/api/auth/password");
            s.As(laptop);
            s.StatusCodeShouldBe(200);
        });
        clock.Start();

        await ShouldCloseWith4401(phoneSocket, clock);
        await ShouldStillDeliver(laptopSocket, laptop);
    }

    [Fact]
    public async Task A_socket_outlives_its_expired_access_token_and_auth_moves_it_to_a_fresh_one()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        // Valid for about two more seconds (the validator allows 5 s of clock skew).
        var shortLived = TestTokens.Signed(user.Id, TestTokens.DeviceOf(user.Token), DateTime.UtcNow.AddMinutes(-10), DateTime.UtcNow.AddSeconds(-3));
        var (socket, _) = await Device.Connect(Server, session, user with { Token = shortLived });
        await using var __ = socket;

        // Poll until the token is refused over HTTP: then it has expired.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var me = await Host.Scenario(s => { s.Get.Url("/api/auth/me"); s.WithToken(shortLived); s.IgnoreStatusCode(); });
            if (me.Context.Response.StatusCode == 401) break;
            Assert.True(DateTime.UtcNow < deadline, "the short-lived token never expired");
            // The expiry is wall-clock time; asking 20 times a second keeps the user under its request limit.
            await Task.Delay(50);
        }

        await ShouldStillDeliver(socket, user);
        await socket.Send(new { type = "auth", payload = new { token = user.Token } });
        var ack = await socket.ReceiveType("authenticated");
        Assert.Equal(user.Id, ack["payload"]!["userId"]!.GetValue<string>());

        await socket.Send(new { type = "auth", payload = new { token = shortLived } });
        var (code, _) = await socket.ReceiveUntilClosed();
        Assert.Equal(4401, code);
    }

    [Fact]
    public async Task Auth_with_another_users_token_closes_4401()
    {
        var user = await RegisterUser();
        var other = await RegisterUser();
        var session = await NewSession(user);
        var (socket, _) = await Device.Connect(Server, session, user);
        await using var __ = socket;

        await socket.Send(new { type = "auth", payload = new { token = other.Token } });

        var (code, _) = await socket.ReceiveUntilClosed();
        Assert.Equal(4401, code);
    }

    [Fact]
    public async Task A_deactivated_account_is_refused_everywhere_and_gets_no_new_socket()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);

        // An operator disables the account in Redis by hand: no route announces it; cached answers last a second.
        var key = NanoBanana.Infrastructure.Redis.Keys.UserRecord(user.Id);
        var record = System.Text.Json.Nodes.JsonNode.Parse((string)(await Redis.StringGetAsync(key))!)!.AsObject();
        record["isActive"] = false;
        await Redis.StringSetAsync(key, record.ToJsonString());

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var answer = await Host.Scenario(s => { s.Get.Url("/api/sessions"); s.As(user); s.IgnoreStatusCode(); });
            if (answer.Context.Response.StatusCode == 401) break;
            Assert.Equal(200, answer.Context.Response.StatusCode);
            Assert.True(DateTime.UtcNow < deadline, "the disabled account's token kept working");
        }
        await ShouldBeProblem(await Host.Scenario(s => { s.Post.Json(new { title = "x" }).ToUrl("/api/sessions"); s.As(user); s.IgnoreStatusCode(); }),
            401, "signed_out");

        await using var refused = await Device.Open(Server, Device.PathFor(session, user.Token));
        var (code, frames) = await refused.ReceiveUntilClosed();
        Assert.Equal(4401, code);
        Assert.Empty(frames);
    }
}
