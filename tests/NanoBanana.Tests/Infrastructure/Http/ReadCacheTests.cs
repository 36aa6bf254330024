using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Features.Messages;
using NanoBanana.Infrastructure.Redis;

namespace NanoBanana.Tests.Infrastructure.Http;

/// <summary>
/// Hot reads answered from memory while the caller's data is unchanged (docs/decisions.md, "Read cache"):
/// never an answer older than an acknowledged write, on any instance, and never another user's answer.
/// </summary>
public sealed class ReadCacheTests(AppFixture app) : IntegrationContext(app)
{
    async Task<JsonObject> Call(IAlbaHost host, TestUser user, HttpMethod method, string url, object? body = null, int status = 200)
    {
        var result = await host.Scenario(s =>
        {
            s.As(user);
            if (method == HttpMethod.Get) s.Get.Url(url);
            else if (method == HttpMethod.Delete) s.Delete.Url(url);
            else if (method == HttpMethod.Put) s.Put.Json(body!).ToUrl(url);
            else s.Post.Json(body ?? new { }).ToUrl(url);
            s.StatusCodeShouldBe(status);
        });
        return await Json(result);
    }

    /// <summary>Rewrites a message's record behind the API's back: no version moves, no event is logged.</summary>
    async Task ChangeTextWithoutAnEvent(TestUser user, string messageId, string text)
    {
        var stored = (await MessageRecord.Read(Redis, user.Id, messageId))!;
        var changed = stored.Message with { Text = text };
        await Redis.HashSetAsync(Keys.Message(user.Id, messageId), "text", text);
        await Redis.HashSetAsync(Keys.SessionMessagesJson(user.Id, changed.SessionId), messageId, MessageRecord.JsonBytes(changed));
    }

    static string[] Texts(JsonObject page) => page["messages"]!.AsArray().Select(m => m!["text"]!.GetValue<string>()).ToArray();
    static string[] Titles(JsonObject list) => list["sessions"]!.AsArray().Select(s => s!["title"]!.GetValue<string>()).ToArray();

    [Fact]
    public async Task A_read_is_answered_from_memory_until_the_users_data_changes()
    {
        var user = await RegisterUser();
        var session = (await Call(Host, user, HttpMethod.Post, "/api/sessions", new { title = "Cached" }, 201))["session"]!["id"]!.GetValue<string>();
        var message = (await Call(Host, user, HttpMethod.Post, $"/api/sessions/{session}/messages", new { role = "user", text = "first words" }, 201))["messageData"]!["id"]!.GetValue<string>();
        var url = $"/api/sessions/{session}/messages";
        Assert.Equal(["first words"], Texts(await Call(Host, user, HttpMethod.Get, url)));

        // Changed behind the API's back (no event). A first read is not kept: the second one reads afresh.
        await ChangeTextWithoutAnEvent(user, message, "changed without an event");
        Assert.Equal(["changed without an event"], Texts(await Call(Host, user, HttpMethod.Get, url)));

        // The second read at this version was kept: a later change without an event is not seen, which
        // shows the answer came from memory.
        await ChangeTextWithoutAnEvent(user, message, "changed again without an event");
        Assert.Equal(["changed without an event"], Texts(await Call(Host, user, HttpMethod.Get, url)));
        Assert.Equal(["changed without an event"], Texts(await Call(Host, user, HttpMethod.Get, url)));
        // Another query is another answer, read afresh.
        Assert.Equal(["changed again without an event"], Texts(await Call(Host, user, HttpMethod.Get, url + "?limit=10")));

        // Any acknowledged change of this user's data (here in another session) makes the next read fresh.
        await Call(Host, user, HttpMethod.Post, "/api/sessions", new { title = "Another" }, 201);
        Assert.Equal(["changed again without an event"], Texts(await Call(Host, user, HttpMethod.Get, url)));
    }

    [Fact]
    public async Task A_kept_answer_is_sent_with_the_same_bytes_and_headers_as_a_fresh_one()
    {
        var user = await RegisterUser();
        var session = (await Call(Host, user, HttpMethod.Post, "/api/sessions", new { title = "Headers" }, 201))["session"]!["id"]!.GetValue<string>();
        var message = (await Call(Host, user, HttpMethod.Post, $"/api/sessions/{session}/messages", new { role = "user", text = "héllo, 世界" }, 201))["messageData"]!["id"]!.GetValue<string>();
        var url = $"/api/sessions/{session}/messages";

        async Task<(string Body, Dictionary<string, string> Headers, long? Length)> Read()
        {
            var result = await Host.Scenario(s => { s.As(user); s.Get.Url(url); s.StatusCodeShouldBe(200); });
            // Framing aside: an answer read afresh and not kept is sent as the route writes it (chunked).
            var headers = result.Context.Response.Headers
                .Where(h => h.Key is not ("Date" or "Content-Length" or "Transfer-Encoding"))
                .ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            return (await result.ReadAsTextAsync(), headers, result.Context.Response.ContentLength);
        }

        var fresh = await Read();   // first read: not kept
        var stored = await Read();  // second read: read afresh and kept
        // Changed behind the API's back (no event): the next answer still holds the old text, so it came from memory.
        await ChangeTextWithoutAnEvent(user, message, "changed without an event");
        var kept = await Read();
        Assert.Contains("héllo, 世界", kept.Body);
        Assert.Equal(fresh.Body, stored.Body);
        Assert.Equal(fresh.Body, kept.Body);
        Assert.Equal(fresh.Headers.OrderBy(h => h.Key), stored.Headers.OrderBy(h => h.Key));
        Assert.Equal(fresh.Headers.OrderBy(h => h.Key), kept.Headers.OrderBy(h => h.Key));
        Assert.StartsWith("application/json", kept.Headers["Content-Type"]);
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(kept.Body), kept.Length);
    }

    [Fact]
    public async Task With_the_cache_off_every_read_is_read_afresh()
    {
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?> { ["READ_CACHE_MB"] = "0" });
        var user = await RegisterUser(host: host);
        var session = (await Call(host, user, HttpMethod.Post, "/api/sessions", new { title = "Not cached" }, 201))["session"]!["id"]!.GetValue<string>();
        Assert.Equal("Not cached", (await Call(host, user, HttpMethod.Get, $"/api/sessions/{session}"))["session"]!["title"]!.GetValue<string>());
        // A change without a new seq, which no route makes: only a read afresh can see it.
        await Redis.HashSetAsync(Keys.Session(user.Id, session), "title", "changed without an event");
        Assert.Equal("changed without an event", (await Call(host, user, HttpMethod.Get, $"/api/sessions/{session}"))["session"]!["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task Every_acknowledged_write_on_one_instance_is_seen_by_the_next_read_on_both()
    {
        var a = Host;
        await using var b = await AppFixture.StartHost();
        var user = await RegisterUser();
        var session = (await Call(a, user, HttpMethod.Post, "/api/sessions", new { title = "Shared" }, 201))["session"]!["id"]!.GetValue<string>();
        var page = $"/api/sessions/{session}/messages";
        var one = $"/api/sessions/{session}";

        async Task ReadAll() // twice on each instance: an answer is kept from its second read
        {
            foreach (var host in new[] { a, b, a, b })
            {
                await Call(host, user, HttpMethod.Get, page);
                await Call(host, user, HttpMethod.Get, one);
                await Call(host, user, HttpMethod.Get, "/api/sessions");
            }
        }

        // Each write goes through one instance after both have cached every read; both must see it next.
        await ReadAll();
        var posted = (await Call(b, user, HttpMethod.Post, page, new { role = "user", text = "hello" }, 201))["messageData"]!["id"]!.GetValue<string>();
        foreach (var host in new[] { a, b })
        {
            Assert.Equal(["hello"], Texts(await Call(host, user, HttpMethod.Get, page)));
            Assert.Equal(1, (await Call(host, user, HttpMethod.Get, one))["session"]!["messageCount"]!.GetValue<int>());
        }

        await ReadAll();
        await Call(a, user, HttpMethod.Put, $"/api/messages/{posted}", new { text = "hello, edited" });
        foreach (var host in new[] { a, b })
            Assert.Equal(["hello, edited"], Texts(await Call(host, user, HttpMethod.Get, page)));

        await ReadAll();
        await Call(b, user, HttpMethod.Put, one, new { title = "Renamed" });
        foreach (var host in new[] { a, b })
        {
            Assert.Equal("Renamed", (await Call(host, user, HttpMethod.Get, one))["session"]!["title"]!.GetValue<string>());
            Assert.Equal(["Renamed"], Titles(await Call(host, user, HttpMethod.Get, "/api/sessions")));
        }

        await ReadAll();
        await Call(a, user, HttpMethod.Delete, $"/api/messages/{posted}");
        foreach (var host in new[] { a, b })
        {
            Assert.Empty(Texts(await Call(host, user, HttpMethod.Get, page)));
            Assert.Equal(0, (await Call(host, user, HttpMethod.Get, one))["session"]!["messageCount"]!.GetValue<int>());
        }

        await ReadAll();
        await Call(b, user, HttpMethod.Post, "/api/sessions", new { title = "Second" }, 201);
        foreach (var host in new[] { a, b })
            Assert.Equal(["Second", "Renamed"], Titles(await Call(host, user, HttpMethod.Get, "/api/sessions")));

        await ReadAll();
        await Call(a, user, HttpMethod.Delete, one);
        foreach (var host in new[] { a, b })
        {
            Assert.Equal(["Second"], Titles(await Call(host, user, HttpMethod.Get, "/api/sessions")));
            await Call(host, user, HttpMethod.Get, one, status: 404);
            await Call(host, user, HttpMethod.Get, page, status: 404);
        }
    }

    [Fact]
    public async Task Two_users_reading_the_same_address_each_get_their_own_answer()
    {
        var alice = await RegisterUser("alice");
        var bob = await RegisterUser("bob");
        await Call(Host, alice, HttpMethod.Post, "/api/sessions", new { title = "Alice's" }, 201);
        await Call(Host, bob, HttpMethod.Post, "/api/sessions", new { title = "Bob's" }, 201);
        // Same seq for both users (each has had the same number of events), same URL; Alice's answer is kept.
        Assert.Equal(["Alice's"], Titles(await Call(Host, alice, HttpMethod.Get, "/api/sessions")));
        Assert.Equal(["Alice's"], Titles(await Call(Host, alice, HttpMethod.Get, "/api/sessions")));
        Assert.Equal(["Bob's"], Titles(await Call(Host, bob, HttpMethod.Get, "/api/sessions")));
        Assert.Equal(["Alice's"], Titles(await Call(Host, alice, HttpMethod.Get, "/api/sessions")));
    }
}
