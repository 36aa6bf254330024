using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Infrastructure.Redis;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>GET /api/sync: the same events the hub replays, over HTTP, as the routes that raised them stored them.</summary>
public sealed class SyncTests(AppFixture app) : IntegrationContext(app)
{
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
        var calls = UserCalls.On(Host, user);
        var session = await calls.CreateSession();
        await calls.RenameSession(session, "renamed");
        var message = (await calls.PostMessage(session))["id"]!.GetValue<string>();
        await calls.EditMessage(message, "edited");
        await calls.DeleteMessage(message);
        var image = (await UserCalls.WithItsWork(Host, () => calls.UploadBatch(session, [Images.TestImages.Gif()]))).Single();
        await UserCalls.FailThumbnails(Host, user, image);
        await calls.DeleteSession(session);

        var body = await Sync(user, "?since=0&limit=100");
        var stored = body["events"]!.AsArray().Select(e => e!.AsObject()).ToList();
        Assert.Equal(["session_created", "session_updated", "message_created", "session_updated", "message_updated", "session_updated",
                "message_deleted", "session_updated", "image_uploaded", "image_ready", "image_failed", "session_deleted"],
            stored.Select(e => e["type"]!.GetValue<string>()));
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), stored.Select(e => e["seq"]!.GetValue<long>()));
        Assert.Equal(["session"], Keys(stored[0]));
        Assert.Equal(["messageData"], Keys(stored[2]));
        Assert.Equal(["messageId", "sessionId"], Keys(stored[6]));
        Assert.Equal(["image"], Keys(stored[8]));
        Assert.Equal(["image", "reason"], Keys(stored[10]));
        Assert.Equal(["sessionId"], Keys(stored[11]));
        Assert.Equal(message, stored[2]["payload"]!["messageData"]!["id"]!.GetValue<string>());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", stored[0]["timestamp"]!.GetValue<string>());
        Assert.Equal(12, body["lastSeq"]!.GetValue<long>());
        Assert.False(body["hasMore"]!.GetValue<bool>());

        static string[] Keys(JsonObject e) => e["payload"]!.AsObject().Select(p => p.Key).Order().ToArray();
    }

    [Fact]
    public async Task Events_raised_by_one_change_get_seqs_in_the_order_they_were_raised()
    {
        var user = await RegisterUser();
        var calls = UserCalls.On(Host, user);
        var session = await calls.CreateSession();   // 1
        // One batch: ten image_uploaded in one change (2-11), in the answer's order.
        var images = await UserCalls.WithItsWork(Host,
            () => calls.UploadBatch(session, [.. Enumerable.Range(0, 10).Select(i => Images.TestImages.Gif(100 + i, 100))]));

        var body = await Sync(user, "?since=1&limit=10");
        Assert.All(body["events"]!.AsArray(), e => Assert.Equal("image_uploaded", e!["type"]!.GetValue<string>()));
        Assert.Equal(images.Select(i => i["id"]!.GetValue<string>()),
            body["events"]!.AsArray().Select(e => e!["payload"]!["image"]!["id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Pages_follow_lastSeq_until_hasMore_is_false()
    {
        var user = await RegisterUser();
        var calls = UserCalls.On(Host, user);
        var session = await calls.CreateSession("t1");
        for (var i = 2; i <= 5; i++) await calls.RenameSession(session, $"t{i}");

        var page1 = await Sync(user, "?since=0&limit=2");
        Assert.Equal([1L, 2L], page1["events"]!.AsArray().Select(e => e!["seq"]!.GetValue<long>()));
        Assert.Equal(2, page1["lastSeq"]!.GetValue<long>());
        Assert.True(page1["hasMore"]!.GetValue<bool>());

        var page2 = await Sync(user, "?since=2&limit=2");
        Assert.Equal([3L, 4L], page2["events"]!.AsArray().Select(e => e!["seq"]!.GetValue<long>()));
        Assert.True(page2["hasMore"]!.GetValue<bool>());

        var page3 = await Sync(user, "?since=4&limit=2");
        Assert.Equal("t5", page3["events"]![0]!["payload"]!["session"]!["title"]!.GetValue<string>());
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
        await UserCalls.On(Host, other).CreateSession();
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
        var calls = UserCalls.On(Host, user);
        var session = await calls.CreateSession();
        for (var i = 0; i < 2; i++) await calls.RenameSession(session, $"t{i}");
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
        await UserCalls.On(Host, user).CreateSession();
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
