using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Features;
using NanoBanana.Infrastructure.Redis;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>GET /api/sync: the same events the hub replays, over HTTP, and the fan-out that stores them.</summary>
public sealed class SyncTests(AppFixture app) : IntegrationContext(app)
{
    static MessageDto Message(string sessionId, string text = "hi")
    {
        var now = DateTimeOffset.UtcNow;
        return new MessageDto(Guid.CreateVersion7().ToString("N"), sessionId, "user", text, null, [], now, now, null);
    }

    static SessionDto Session(string userId, string id) =>
        new(id, userId, "New Chat", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, 0, null);

    static ImageDto Image(string userId, string sessionId) =>
        new("img1", sessionId, userId, "uploaded", "p", null, [], "image/png", 1, 1, 1, "s", "processing", 0,
            DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, "http://x/img1", null);

    Task Raise(IUserEvent e) => RaiseEvents.Commit(Host, e);

    async Task<JsonObject> Sync(TestUser user, string query)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/sync" + query);
            s.As(user);
            s.StatusCodeShouldBe(200);
        });
        return await Json(result);
    }

    [Fact]
    public async Task Every_domain_event_type_committed_is_stored_with_its_frame_type_and_rest_payload()
    {
        var user = await RegisterUser();
        const string s = "s1";
        var message = Message(s);
        var image = Image(user.Id, s);
        IUserEvent[] events =
        [
            new SessionCreated(user.Id, Session(user.Id, s)), new SessionUpdated(user.Id, Session(user.Id, s)), new SessionDeleted(user.Id, s),
            new MessageCreated(user.Id, message), new MessageUpdated(user.Id, message), new MessageDeleted(user.Id, s, message.Id),
            new ImageUploaded(user.Id, image), new ImageReady(user.Id, image), new ImageFailed(user.Id, image, "too big"),
        ];
        foreach (var e in events) await Raise(e);

        var body = await Sync(user, "?since=0&limit=100");
        var stored = body["events"]!.AsArray().Select(e => e!.AsObject()).ToList();
        Assert.Equal(["session_created", "session_updated", "session_deleted", "message_created", "message_updated",
                "message_deleted", "image_uploaded", "image_ready", "image_failed"],
            stored.Select(e => e["type"]!.GetValue<string>()));
        Assert.Equal(Enumerable.Range(1, 9).Select(i => (long)i), stored.Select(e => e["seq"]!.GetValue<long>()));
        Assert.Equal(["session"], Keys(stored[0]));
        Assert.Equal(["sessionId"], Keys(stored[2]));
        Assert.Equal(["messageData"], Keys(stored[3]));
        Assert.Equal(["messageId", "sessionId"], Keys(stored[5]));
        Assert.Equal(["image"], Keys(stored[6]));
        Assert.Equal(["image", "reason"], Keys(stored[8]));
        Assert.Equal(message.Id, stored[3]["payload"]!["messageData"]!["id"]!.GetValue<string>());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", stored[0]["timestamp"]!.GetValue<string>());
        Assert.Equal(9, body["lastSeq"]!.GetValue<long>());
        Assert.False(body["hasMore"]!.GetValue<bool>());

        static string[] Keys(JsonObject e) => e["payload"]!.AsObject().Select(p => p.Key).Order().ToArray();
    }

    [Fact]
    public async Task Events_raised_by_one_change_get_seqs_in_the_order_they_were_raised()
    {
        var user = await RegisterUser();
        var messages = Enumerable.Range(0, 30).Select(i => Message("s", $"m{i}")).ToList();
        await RaiseEvents.Commit(Host, [.. messages.Select(m => new MessageCreated(user.Id, m))]);

        var body = await Sync(user, "?since=0");
        Assert.Equal(messages.Select(m => m.Id),
            body["events"]!.AsArray().Select(e => e!["payload"]!["messageData"]!["id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Pages_follow_lastSeq_until_hasMore_is_false()
    {
        var user = await RegisterUser();
        for (var i = 1; i <= 5; i++) await Raise(new MessageCreated(user.Id, Message("s", $"m{i}")));

        var page1 = await Sync(user, "?since=0&limit=2");
        Assert.Equal([1L, 2L], page1["events"]!.AsArray().Select(e => e!["seq"]!.GetValue<long>()));
        Assert.Equal(2, page1["lastSeq"]!.GetValue<long>());
        Assert.True(page1["hasMore"]!.GetValue<bool>());

        var page2 = await Sync(user, "?since=2&limit=2");
        Assert.Equal([3L, 4L], page2["events"]!.AsArray().Select(e => e!["seq"]!.GetValue<long>()));
        Assert.True(page2["hasMore"]!.GetValue<bool>());

        var page3 = await Sync(user, "?since=4&limit=2");
        Assert.Equal("m5", page3["events"]![0]!["payload"]!["messageData"]!["text"]!.GetValue<string>());
        Assert.Equal(5, page3["lastSeq"]!.GetValue<long>());
        Assert.False(page3["hasMore"]!.GetValue<bool>());

        var empty = await Sync(user, "?since=5");
        Assert.Empty(empty["events"]!.AsArray());
        Assert.Equal(5, empty["lastSeq"]!.GetValue<long>());
        Assert.False(empty["hasMore"]!.GetValue<bool>());

        // No since: from the start; default limit 100.
        Assert.Equal(5, (await Sync(user, ""))["events"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_user_sees_only_their_own_events()
    {
        var user = await RegisterUser();
        var other = await RegisterUser();
        await Raise(new MessageCreated(other.Id, Message("theirs")));
        var body = await Sync(user, "?since=0");
        Assert.Empty(body["events"]!.AsArray());
        Assert.Equal(0, body["lastSeq"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("?since=-1", "since")]
    [InlineData("?since=abc", "since")]
    [InlineData("?since=1.5", "since")]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=1001", "limit")]
    [InlineData("?limit=ten", "limit")]
    public async Task Bad_since_or_limit_answers_400_naming_it(string query, string field)
    {
        var user = await RegisterUser();
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/sync" + query);
            s.As(user);
            s.StatusCodeShouldBe(400);
        });
        var body = await ShouldBeProblem(result, 400, "validation_failed");
        Assert.NotNull(body["errors"]![field]);
    }

    [Fact]
    public async Task A_since_older_than_the_log_answers_410_resync_required()
    {
        var user = await RegisterUser();
        for (var i = 0; i < 3; i++) await Raise(new MessageCreated(user.Id, Message("s")));
        await Redis.StreamTrimByMinIdAsync(Keys.EventLog(user.Id), "3");
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/sync?since=0");
            s.As(user);
            s.StatusCodeShouldBe(410);
        });
        await ShouldBeProblem(result, 410, "resync_required");
        Assert.Single((await Sync(user, "?since=2"))["events"]!.AsArray());
    }

    [Fact]
    public async Task A_since_from_the_future_answers_410_saying_to_start_over_not_that_events_expired()
    {
        var user = await RegisterUser();
        await Raise(new MessageCreated(user.Id, Message("s")));
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/sync?since=99");
            s.As(user);
            s.StatusCodeShouldBe(410);
        });
        var message = (await ShouldBeProblem(result, 410, "resync_required"))["message"]!.GetValue<string>();
        Assert.Contains("ahead of your last event (seq 1)", message);
        Assert.Contains("Start over", message);
        Assert.DoesNotContain("no longer kept", message);
    }

    [Fact]
    public async Task Without_a_token_answers_401()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/sync");
            s.StatusCodeShouldBe(401);
        });
        await ShouldBeProblem(result, 401, "unauthorized");
    }
}
