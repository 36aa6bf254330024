using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Tests.Features.Images;
using NanoBanana.Tests.Features.Realtime;

namespace NanoBanana.Tests.Cluster;

/// <summary>
/// Two app instances on a 3-master Redis Cluster (started by scripts/test.sh, NB_TEST_CLUSTER):
/// instance A is an Alba host, instance B a Kestrel host reached over real HTTP and WebSockets.
/// Any cross-slot error in the key layout fails these flows.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public static string Endpoints => Environment.GetEnvironmentVariable("NB_TEST_CLUSTER") ?? "127.0.0.1:7111,127.0.0.1:7112,127.0.0.1:7113";

    public IAlbaHost A { get; private set; } = null!;
    public LiveServer B { get; private set; } = null!;
    public HttpClient BHttp { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var storage = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "uploads");
        var settings = new Dictionary<string, string?> { ["REDIS_URL"] = Endpoints, ["LOCAL_STORAGE_PATH"] = storage };
        A = await AppFixture.StartHost(settings);
        B = LiveServer.Start(settings);
        BHttp = new HttpClient { BaseAddress = B.Address };
    }

    public async Task DisposeAsync()
    {
        BHttp.Dispose();
        await B.DisposeAsync();
        await A.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}

[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class ClusterTests(ClusterFixture cluster)
{
    const string Password = "correct horse battery";
    IAlbaHost A => cluster.A;

    async Task<JsonObject> OnB(HttpMethod method, string url, string? token, object? body = null, HttpStatusCode expect = HttpStatusCode.OK,
        string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        if (body is HttpContent content) request.Content = content;
        else if (body is not null) request.Content = JsonContent.Create(body);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await cluster.BHttp.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expect, $"{method} {url}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    async Task<JsonObject> OnA(Action<Scenario> configure)
    {
        var result = await A.Scenario(configure);
        return (await result.ReadAsJsonAsync<JsonObject>())!;
    }

    async Task<TestUser> RegisterOnA()
    {
        var tag = Guid.NewGuid().ToString("N")[..10];
        var (email, username) = ($"cl{tag}@example.com", $"cl_{tag}");
        var body = await OnA(s =>
        {
            s.Post.Json(new { email, username, password = Password }).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(201);
        });
        return new TestUser(body["user"]!["id"]!.GetValue<string>(), email, username,
            body["token"]!.GetValue<string>(), body["refreshToken"]!.GetValue<string>());
    }

    static string Str(JsonNode? n) => n!.GetValue<string>();

    [Fact]
    public async Task Accounts_work_across_instances_sign_in_refresh_rotation_and_shared_brute_force_counters()
    {
        var user = await RegisterOnA();

        var login = await OnB(HttpMethod.Post, "/api/auth/login", null, new { email = user.Email, password = Password });
        Assert.Equal(user.Id, Str(login["user"]!["id"]));

        // The refresh token from A rotates on B; presenting the old one again on A is reuse.
        var rotated = await OnB(HttpMethod.Post, "/api/auth/refresh", null, new { refreshToken = user.RefreshToken });
        Assert.NotEqual(user.RefreshToken, Str(rotated["refreshToken"]));
        await OnA(s =>
        {
            s.Post.Json(new { refreshToken = user.RefreshToken }).ToUrl("/api/auth/refresh");
            s.StatusCodeShouldBe(401);
        });

        // Failures counted on A lock the account on B too, for the address that failed (B sees 127.0.0.1).
        for (var i = 0; i < 5; i++)
            await OnA(s =>
            {
                s.Post.Json(new { email = user.Email, password = "wrong password!" }).ToUrl("/api/auth/login");
                s.WithRequestHeader("X-Forwarded-For", "127.0.0.1");
                s.StatusCodeShouldBe(401);
            });
        var locked = await OnB(HttpMethod.Post, "/api/auth/login", null, new { email = user.Email, password = Password },
            HttpStatusCode.TooManyRequests);
        Assert.Equal("rate_limited", Str(locked["code"]));
    }

    [Fact]
    public async Task A_message_posted_on_A_is_read_searched_and_delivered_live_on_B()
    {
        var user = await RegisterOnA();
        var session = Str((await OnA(s =>
        {
            s.Post.Json(new { title = "Cluster chat" }).ToUrl("/api/sessions");
            s.WithRequestHeader("Authorization", $"Bearer {user.Token}");
            s.StatusCodeShouldBe(201);
        }))["session"]!["id"]);
        var (socket, _) = await Device.Connect(cluster.B, session, user);
        await using var _s = socket;

        var posted = await OnA(s =>
        {
            s.Post.Json(new { role = "user", text = "把背景换成 sunset over the harbour", imageIds = Array.Empty<string>() })
                .ToUrl($"/api/sessions/{session}/messages");
            s.WithRequestHeader("Authorization", $"Bearer {user.Token}");
            s.StatusCodeShouldBe(201);
        });
        var messageId = Str(posted["messageData"]!["id"]);

        var live = await socket.ReceiveType("message_created");
        Assert.Equal(messageId, Str(live["payload"]!["messageData"]!["id"]));

        var page = await OnB(HttpMethod.Get, $"/api/sessions/{session}/messages", user.Token);
        Assert.Equal(messageId, Str(page["messages"]![0]!["id"]));
        Assert.Equal(1, page["pagination"]!["total"]!.GetValue<int>());

        foreach (var q in new[] { "harb", "背景" })
        {
            var found = await OnB(HttpMethod.Get, $"/api/search?q={Uri.EscapeDataString(q)}", user.Token);
            Assert.Equal(messageId, Str(found["results"]![0]!["messageId"]));
        }

        var sessions = await OnB(HttpMethod.Get, "/api/sessions", user.Token);
        Assert.Equal(1, sessions["sessions"]![0]!["messageCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task Renames_edits_and_deletes_log_their_events_in_their_own_scripts_on_the_cluster()
    {
        var user = await RegisterOnA();
        var session = Str((await OnB(HttpMethod.Post, "/api/sessions", user.Token, new { title = "Before" }, HttpStatusCode.Created))["session"]!["id"]);
        var (socket, _) = await Device.Connect(cluster.B, session, user);
        await using var _s = socket;
        var kept = Str((await OnB(HttpMethod.Post, $"/api/sessions/{session}/messages", user.Token, new { role = "user", text = "kept" },
            HttpStatusCode.Created))["messageData"]!["id"]);
        var gone = Str((await OnB(HttpMethod.Post, $"/api/sessions/{session}/messages", user.Token, new { role = "user", text = "gone" },
            HttpStatusCode.Created))["messageData"]!["id"]);
        // The posts' frames: message_created, session_updated, twice.
        await socket.ReceiveType("message_created");
        await socket.ReceiveType("message_created");
        await socket.ReceiveType("session_updated");

        await OnB(HttpMethod.Put, $"/api/sessions/{session}", user.Token, new { title = "After" });
        Assert.Equal("After", Str((await socket.ReceiveType("session_updated"))["payload"]!["session"]!["title"]));
        var edited = await OnB(HttpMethod.Put, $"/api/messages/{kept}", user.Token, new { text = "kept, edited" });
        Assert.True(JsonNode.DeepEquals(edited, (await socket.ReceiveType("message_updated"))["payload"]));
        await OnB(HttpMethod.Delete, $"/api/messages/{gone}", user.Token);
        Assert.Equal(gone, Str((await socket.ReceiveType("message_deleted"))["payload"]!["messageId"]));
        var updated = await socket.ReceiveType("session_updated");
        Assert.Equal(1, updated["payload"]!["session"]!["messageCount"]!.GetValue<int>());
        await OnB(HttpMethod.Delete, $"/api/sessions/{session}", user.Token);
        Assert.Equal(session, Str((await socket.ReceiveType("session_deleted"))["payload"]!["sessionId"]));
    }

    [Fact]
    public async Task An_upload_on_B_gets_its_thumbnails_and_A_serves_the_ready_image()
    {
        var user = await RegisterOnA();
        var session = Str((await OnB(HttpMethod.Post, "/api/sessions", user.Token, new { title = "Photos" }, HttpStatusCode.Created))["session"]!["id"]);
        var (socket, _) = await Device.Connect(cluster.B, session, user);
        await using var _s = socket;

        var form = ImageTestContext.Form(session, "uploaded", "image", ("photo.jpg", TestImages.NoisyJpeg(640, 480), "image/jpeg"));
        var uploaded = await OnB(HttpMethod.Post, "/api/images/upload", user.Token, form, HttpStatusCode.Created);
        var imageId = Str(uploaded["image"]!["id"]);

        var ready = await socket.ReceiveType("image_ready");
        Assert.Equal(imageId, Str(ready["payload"]!["image"]!["id"]));

        var onA = await OnA(s =>
        {
            s.Get.Url($"/api/images/{imageId}");
            s.WithRequestHeader("Authorization", $"Bearer {user.Token}");
            s.StatusCodeShouldBe(200);
        });
        Assert.Equal("ready", Str(onA["image"]!["status"]));
        Assert.Equal(2, onA["image"]!["thumbnails"]!.AsArray().Count);
    }

    [Fact]
    public async Task An_upload_retried_on_the_other_instance_with_its_Idempotency_Key_gives_back_the_first_images()
    {
        var user = await RegisterOnA();
        var session = Str((await OnB(HttpMethod.Post, "/api/sessions", user.Token, new { title = "Retries" }, HttpStatusCode.Created))["session"]!["id"]);
        var gif = TestImages.Gif();
        var gifs = new[] { ("a.gif", TestImages.Gif(100, 80), "image/gif"), ("b.gif", TestImages.Gif(110, 80), "image/gif") };

        var single = await OnB(HttpMethod.Post, "/api/images/upload", user.Token,
            ImageTestContext.Form(session, "uploaded", "image", ("photo.gif", gif, "image/gif")), HttpStatusCode.Created, "cluster-1");
        var retried = await OnA(s =>
        {
            s.Post.MultipartFormData(ImageTestContext.Form(session, "uploaded", "image", ("photo.gif", gif, "image/gif"))).ToUrl("/api/images/upload");
            s.WithRequestHeader("Authorization", $"Bearer {user.Token}");
            s.WithRequestHeader("Idempotency-Key", "cluster-1");
            s.StatusCodeShouldBe(201);
        });
        Assert.Equal(Str(single["image"]!["id"]), Str(retried["image"]!["id"]));

        var batch = await OnA(s =>
        {
            s.Post.MultipartFormData(ImageTestContext.Form(session, "uploaded", "images", gifs)).ToUrl("/api/images/upload/batch");
            s.WithRequestHeader("Authorization", $"Bearer {user.Token}");
            s.WithRequestHeader("Idempotency-Key", "cluster-2");
            s.StatusCodeShouldBe(201);
        });
        var batchAgain = await OnB(HttpMethod.Post, "/api/images/upload/batch", user.Token,
            ImageTestContext.Form(session, "uploaded", "images", gifs), HttpStatusCode.Created, "cluster-2");
        static IEnumerable<string> Ids(JsonObject answer) => answer["results"]!["successful"]!.AsArray().Select(i => Str(i!["id"]));
        Assert.Equal(Ids(batch), Ids(batchAgain));

        var all = await OnB(HttpMethod.Get, "/api/images/user/all", user.Token);
        Assert.Equal(3, all["pagination"]!["total"]!.GetValue<int>());
    }
}
