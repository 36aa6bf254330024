using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Tests.Features.Realtime;

namespace NanoBanana.Tests.Cluster;

/// <summary>
/// A socket lives as long as its device sign-in on every instance (SPEC section 5): sign-ins end on one
/// instance, the sockets live on two others (B and a third Kestrel host C), all on the Redis Cluster.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class SignInClusterTests(ClusterFixture cluster)
{
    const string Password = "correct horse battery";
    static readonly TimeSpan Promptly = TimeSpan.FromSeconds(2);

    async Task<JsonObject> OnA(Action<Scenario> configure) => (await (await cluster.A.Scenario(configure)).ReadAsJsonAsync<JsonObject>())!;

    async Task<TestUser> SignInOnA(string email, string username, string userId) =>
        Device(await OnA(s =>
        {
            s.Post.Json(new { email, password = Password }).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(200);
        }), email, username, userId);

    static TestUser Device(JsonObject body, string email, string username, string userId) =>
        new(userId, email, username, body["token"]!.GetValue<string>(), body["refreshToken"]!.GetValue<string>());

    static async Task ClosedWith4401(Device socket, Stopwatch since)
    {
        var (code, _) = await socket.ReceiveUntilClosed();
        Assert.Equal(4401, code);
        Assert.True(since.Elapsed < Promptly, $"closed after {since.ElapsedMilliseconds} ms");
    }

    static async Task StillOpen(Device socket)
    {
        await socket.Send(new { type = "ping" });
        Assert.Equal("pong", (await socket.ReceiveType("pong"))["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Logout_password_change_and_account_deletion_close_the_devices_sockets_on_every_instance_within_2_seconds()
    {
        await using var c = LiveServer.Start(new Dictionary<string, string?> { ["REDIS_URL"] = ClusterFixture.Endpoints });
        var tag = Guid.NewGuid().ToString("N")[..10];
        var (email, username) = ($"si{tag}@example.com", $"si_{tag}");
        var registered = await OnA(s => { s.Post.Json(new { email, username, password = Password }).ToUrl("/api/auth/register"); s.StatusCodeShouldBe(201); });
        var userId = registered["user"]!["id"]!.GetValue<string>();
        var phone = Device(registered, email, username, userId);
        var laptop = await SignInOnA(email, username, userId);
        var tablet = await SignInOnA(email, username, userId);
        var session = (await OnA(s => { s.Post.Json(new { title = "x" }).ToUrl("/api/sessions"); s.As(phone); s.StatusCodeShouldBe(201); }))["session"]!["id"]!.GetValue<string>();

        var phoneOnB = (await Features.Realtime.Device.Connect(cluster.B, session, phone)).Device;
        var phoneOnC = (await Features.Realtime.Device.Connect(c, session, phone)).Device;
        var laptopOnB = (await Features.Realtime.Device.Connect(cluster.B, session, laptop)).Device;
        var laptopOnC = (await Features.Realtime.Device.Connect(c, session, laptop)).Device;
        var tabletOnC = (await Features.Realtime.Device.Connect(c, session, tablet)).Device;
        try
        {
            // The phone logs out on A: its sockets on B and C close, the others stay.
            await OnA(s => { s.Post.Url("/api/auth/logout"); s.As(phone); s.StatusCodeShouldBe(200); });
            var clock = Stopwatch.StartNew();
            await ClosedWith4401(phoneOnB, clock);
            await ClosedWith4401(phoneOnC, clock);
            await StillOpen(laptopOnB);
            await StillOpen(tabletOnC);

            // The tablet changes the password on A: the laptop's sockets close, the tablet's stays.
            await OnA(s =>
            {
                s.Put.Json(new { currentPassword = Password, newPassword = "a new good password" }).ToUrl("/api/auth/password");
                s.As(tablet);
                s.StatusCodeShouldBe(200);
            });
            clock.Restart();
            await ClosedWith4401(laptopOnB, clock);
            await ClosedWith4401(laptopOnC, clock);
            await StillOpen(tabletOnC);

            // The account is deleted on A: the last socket, on C, closes.
            await OnA(s => { s.Delete.Json(new { password = "a new good password" }).ToUrl("/api/auth/me"); s.As(tablet); s.StatusCodeShouldBe(200); });
            clock.Restart();
            await ClosedWith4401(tabletOnC, clock);
            using var http = new HttpClient { BaseAddress = c.Address };
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/sessions");
            request.Headers.Authorization = new("Bearer", tablet.Token);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(request)).StatusCode);
        }
        finally
        {
            foreach (var d in new[] { phoneOnB, phoneOnC, laptopOnB, laptopOnC, tabletOnC }) await d.DisposeAsync();
        }
    }
}
