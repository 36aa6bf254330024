using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Features;
using NanoBanana.Features.Messages;
using NanoBanana.Features.Messages.DeleteMessage;
using NanoBanana.Features.Messages.EditMessage;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Redis;

namespace NanoBanana.Tests.Features.Messages;

using NanoBanana.Tests.Features.Sessions;

public sealed class ListMessagesTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Lists_oldest_first_with_paging_and_a_true_total()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var ids = new List<string>();
        for (int i = 0; i < 5; i++) ids.Add(await NewMessageId(user, id, $"m{i}"));

        var first = await Get(user, $"/api/sessions/{id}/messages?limit=2");
        Assert.Equal(ids[..2], first["messages"]!.AsArray().Select(m => Str(m!["id"])));
        Assert.Equal(5, first["pagination"]!["total"]!.GetValue<int>());
        Assert.True(first["pagination"]!["hasMore"]!.GetValue<bool>());

        var last = await Get(user, $"/api/sessions/{id}/messages?limit=2&offset=4");
        Assert.Equal([ids[4]], last["messages"]!.AsArray().Select(m => Str(m!["id"])));
        Assert.False(last["pagination"]!["hasMore"]!.GetValue<bool>());

        var beyond = await Get(user, $"/api/sessions/{id}/messages?offset=10");
        Assert.Empty(beyond["messages"]!.AsArray());
        Assert.Equal(50, beyond["pagination"]!["limit"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_page_shows_each_message_as_the_single_message_route_does()
    {
        // The page reads only the fields a message shows (not its search terms): the same JSON either way.
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var image = await SeedImage(user, id);
        var plain = await NewMessageId(user, id, "a plain prompt");
        await PostMessage(user, id, "夕焼けの空 with params and an image", "assistant", [image],
            new JsonObject { ["model"] = "nano-banana", ["n"] = 2, ["nested"] = new JsonObject { ["a"] = new JsonArray(1, "b") } });
        await Send(user, HttpMethod.Post, $"/api/sessions/{id}/messages", new { role = "user", text = "a second try", editedOf = plain });

        var page = (await Get(user, $"/api/sessions/{id}/messages"))["messages"]!.AsArray();
        Assert.Equal(3, page.Count);
        foreach (var m in page)
        {
            var single = (await Get(user, $"/api/messages/{Str(m!["id"])}"))["messageData"]!;
            Assert.Equal(single.ToJsonString(), m.ToJsonString());
        }
        Assert.Equal(plain, Str(page[2]!["editedOf"]));
        Assert.Equal([image], page[1]!["imageIds"]!.AsArray().Select(i => Str(i)));
        Assert.Equal("nano-banana", Str(page[1]!["params"]!["model"]));
    }

    [Fact]
    public async Task A_page_is_each_message_byte_for_byte_as_posted_also_for_messages_stored_before_the_session_json()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        async Task<string> Posted(object body)
        {
            var raw = await (await Send(user, HttpMethod.Post, $"/api/sessions/{id}/messages", body)).ReadAsTextAsync();
            var start = raw.IndexOf("\"messageData\":", StringComparison.Ordinal) + "\"messageData\":".Length;
            return raw[start..^1];
        }
        var first = await Posted(new { role = "user", text = "naïve \"quoted\" <b> & 😀 日本語 \u2028 line" });
        var second = await Posted(new
        {
            role = "assistant", text = "ünïcödé \\ back\tslash",
            @params = new { prompt = "日本語 & <tag> \"q\"", seed = 1.5, list = new object?[] { 1, "two", null } },
        });
        var expected = $$$"""{"messages":[{{{first}}},{{{second}}}],"pagination":{"limit":50,"offset":0,"total":2,"hasMore":false}}""";
        Assert.Equal(expected, await Raw(user, $"/api/sessions/{id}/messages"));

        // The page reads the stored JSON of the session's messages (one HMGET), kept as the API writes each message.
        var ids = (await Get(user, $"/api/sessions/{id}/messages?offset=0"))["messages"]!.AsArray().Select(m => Str(m!["id"])).ToArray();
        Assert.Equal([first, second], (await Redis.HashGetAsync(Keys.SessionMessagesJson(user.Id, id), [ids[0], ids[1]])).Select(v => (string?)v));

        // Messages written before that hash existed (the key layout of older data): the first kept its copy in its
        // record, the second only its fields. The page writes the same bytes from both.
        await Redis.HashSetAsync(Keys.Message(user.Id, ids[0]), "json", first);
        Assert.Equal(2, await Redis.HashDeleteAsync(Keys.SessionMessagesJson(user.Id, id), [ids[0], ids[1]]));
        Assert.Equal(expected, await Raw(user, $"/api/sessions/{id}/messages?limit=50"));
    }

    [Theory]
    [InlineData("limit=101", "limit")]
    [InlineData("limit=-5", "limit")]
    [InlineData("limit=ten", "limit")]
    [InlineData("offset=-1", "offset")]
    [InlineData("offset=99999999999999", "offset")]
    public async Task Bad_paging_answers_400_naming_the_parameter(string query, string parameter)
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var body = await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/sessions/{id}/messages?{query}"), 400, "validation_failed");
        Assert.NotNull(body["errors"]![parameter]);
    }

    [Fact]
    public async Task Unknown_session_answers_404_and_a_malformed_id_400()
    {
        var user = await RegisterUser();
        await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/sessions/{Guid.CreateVersion7():N}/messages"), 404, "not_found");
        Assert.NotNull((await ShouldBeProblem(await Send(user, HttpMethod.Get, "/api/sessions/123/messages"), 400, "validation_failed"))["errors"]!["sessionId"]);
    }
}

public sealed class GetMessageTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Get_answers_messageData()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var posted = await PostMessage(user, id, "hello there", parameters: new JsonObject { ["seed"] = 7 });
        var body = await Get(user, $"/api/messages/{Str(posted["id"])}");
        Assert.Equal(posted.ToJsonString(), body["messageData"]!.ToJsonString());
    }

    [Fact]
    public async Task Unknown_message_answers_404_and_a_malformed_id_400()
    {
        var user = await RegisterUser();
        await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/messages/{Guid.CreateVersion7():N}"), 404, "not_found");
        Assert.NotNull((await ShouldBeProblem(await Send(user, HttpMethod.Get, "/api/messages/ABC"), 400, "validation_failed"))["errors"]!["messageId"]);
    }
}

public sealed class EditMessageTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task An_edit_decided_but_never_committed_changes_nothing_and_its_retry_edits_once()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user, "Edits");
        var messageId = await NewMessageId(user, id, "first text");
        var since = await LoggedEvents.Mark(Host, user.Id);

        // The handler decides and returns the change; only the edge commits it (here: never, as when Redis went away).
        var (_, uncommitted) = await EditMessageHandler.Handle(new EditMessage("second text", null, null) { UserId = user.Id, MessageId = messageId },
            Redis, TimeProvider.System);
        Assert.NotNull(uncommitted);
        Assert.Empty(await Logged(user, since));
        Assert.Equal("first text", Str((await Get(user, $"/api/messages/{messageId}"))["messageData"]!["text"]));

        // The retry makes it; a second retry with the same body finds it made and changes nothing.
        for (var attempt = 0; attempt < 2; attempt++)
            Assert.Equal(200, (await Send(user, HttpMethod.Put, $"/api/messages/{messageId}", new { text = "second text" })).Context.Response.StatusCode);

        var logged = await Logged(user, since);
        Assert.Equal(["message_updated", "session_updated"], logged.Select(e => e.Type));
        Assert.Equal(await MessageUpdatedPayload(user, messageId), logged[0].Payload);
        Assert.Equal(await SessionUpdatedPayload(user, id), logged[1].Payload);
        SameJson(await Raw(user, $"/api/messages/{messageId}"), logged[0].Payload);
        SameJson(await Raw(user, $"/api/sessions/{id}"), logged[1].Payload);
        Assert.Equal(["first text", "second text"],
            (await Get(user, $"/api/messages/{messageId}/revisions"))["revisions"]!.AsArray().Select(r => Str(r!["text"])));
    }

    [Fact]
    public async Task Edited_messages_reach_the_log_byte_for_byte_as_the_api_answers_them()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user, "Fête <nocturne> \"été\" 🌙");
        var image = await SeedImage(user, id);
        var messageId = Str((await PostMessage(user, id, "naïve \"quoted\" <b> & 😀 日本語", parameters: new JsonObject
        {
            ["prompt"] = "日本語 & <tag> \"q\"", ["seed"] = 1.50, ["list"] = new JsonArray(1, "two", null),
        }))["id"]);
        // Text only (params copied), params only (text copied), images only, everything.
        object[] edits =
        [
            new { text = "ünïcödé \\ back\tslash \u2028 line 🐍" },
            new { @params = new { model = "nano-banana", note = "“curly” <ok> &" } },
            new { imageIds = new[] { image } },
            new { text = "all of it", @params = new { }, imageIds = Array.Empty<string>() },
        ];
        foreach (var edit in edits)
        {
            var since = await LoggedEvents.Mark(Host, user.Id);
            var result = await Send(user, HttpMethod.Put, $"/api/messages/{messageId}", edit);
            Assert.Equal(200, result.Context.Response.StatusCode);

            var logged = await Logged(user, since);
            Assert.Equal(["message_updated", "session_updated"], logged.Select(e => e.Type));
            Assert.Equal(await MessageUpdatedPayload(user, messageId), logged[0].Payload);
            Assert.Equal(await SessionUpdatedPayload(user, id), logged[1].Payload);
            SameJson(await result.ReadAsTextAsync(), logged[0].Payload);
            SameJson(await Raw(user, $"/api/sessions/{id}"), logged[1].Payload);
        }
    }

    [Fact]
    public async Task Concurrent_text_edits_params_edits_renames_and_a_delete_each_decide_on_what_the_others_committed()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user, "Busy");
        var messageId = await NewMessageId(user, id, "t0");
        var other = await NewMessageId(user, id, "soon gone");
        var since = await LoggedEvents.Mark(Host, user.Id);

        var calls = Enumerable.Range(1, 8).SelectMany(i => new[]
        {
            Send(user, HttpMethod.Put, $"/api/messages/{messageId}", new { text = $"t{i}" }),
            Send(user, HttpMethod.Put, $"/api/messages/{messageId}", new { @params = new { n = i } }),
            Send(user, HttpMethod.Patch, $"/api/sessions/{id}", new { title = $"r{i}" }),
        }).Append(Send(user, HttpMethod.Delete, $"/api/messages/{other}")).ToList();
        Assert.All(await Task.WhenAll(calls), r => Assert.Equal(200, r.Context.Response.StatusCode));

        // Each message_updated changes the text or the params of the one before it, never puts back an older value
        // of the other: no edit was decided on a message that another edit had changed meanwhile.
        var logged = await Logged(user, since);
        var updates = logged.Where(e => e.Type == "message_updated").Select(e => JsonNode.Parse(e.Payload)!["messageData"]!).ToList();
        Assert.Equal(16, updates.Count);
        var (text, parameters) = ("t0", "null");
        foreach (var u in updates)
        {
            var (t, p) = (Str(u["text"]), u["params"]?.ToJsonString() ?? "null");
            Assert.True((t != text) ^ (p != parameters), $"{text} {parameters} -> {t} {p}");
            (text, parameters) = (t, p);
        }
        // The session_updated of an edit or of the delete keeps the title of the session_updated before it, and
        // counts the delete from the moment it is logged.
        SessionDto? last = null;
        for (var i = 0; i < logged.Count; i++)
        {
            if (logged[i].Type != "session_updated") continue;
            var session = ((SessionUpdated)LoggedEvents.ToDomain(user.Id, logged[i])).Session;
            if (last is not null && logged[i - 1].Type is "message_updated" or "message_deleted")
                Assert.Equal(last.Title, session.Title);
            Assert.Equal(logged.Take(i).Any(e => e.Type == "message_deleted") ? 1 : 2, session.MessageCount);
            last = session;
        }
        SameJson(await Raw(user, $"/api/messages/{messageId}"), logged.Last(e => e.Type == "message_updated").Payload);
        SameJson(await Raw(user, $"/api/sessions/{id}"), logged.Last(e => e.Type == "session_updated").Payload);
        Assert.Equal(9, (await Get(user, $"/api/messages/{messageId}/revisions"))["revisions"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_new_text_moves_updatedAt_and_keeps_every_version_as_revisions()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var posted = await PostMessage(user, id, "version one");
        var messageId = Str(posted["id"]);

        var (result, events) = await WithEvents(user, () => Send(user, HttpMethod.Put, $"/api/messages/{messageId}", new { text = "version two" }));
        Assert.Equal(200, result.Context.Response.StatusCode);
        var edited = (await Json(result))["messageData"]!;
        Assert.Equal("version two", Str(edited["text"]));
        Assert.Equal(Str(posted["createdAt"]), Str(edited["createdAt"]));
        Assert.True(DateTimeOffset.Parse(Str(edited["updatedAt"])) >= DateTimeOffset.Parse(Str(posted["updatedAt"])));
        Assert.Equal("version two", Assert.Single(events.OfType<MessageUpdated>()).Message.Text);
        await Send(user, HttpMethod.Put, $"/api/messages/{messageId}", new { text = "version three" });

        var revisions = (await Get(user, $"/api/messages/{messageId}/revisions"))["revisions"]!.AsArray();
        Assert.Equal(["version one", "version two", "version three"], revisions.Select(r => Str(r!["text"])));
        Assert.Equal(Str(posted["createdAt"]), Str(revisions[0]!["editedAt"]));
        var times = revisions.Select(r => DateTimeOffset.Parse(Str(r!["editedAt"]))).ToList();
        Assert.Equal(times.Order(), times);

        // The search index follows the text.
        Assert.Equal(0, (await Get(user, "/api/search?q=one"))["pagination"]!["total"]!.GetValue<int>());
        Assert.Equal(1, (await Get(user, "/api/search?q=three"))["pagination"]!["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_message_never_edited_has_one_revision_and_params_alone_add_none()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var messageId = await NewMessageId(user, id, "only text");
        var result = await Send(user, HttpMethod.Put, $"/api/messages/{messageId}", new { @params = new { strength = 0.5 } });
        Assert.Equal(0.5, (await Json(result))["messageData"]!["params"]!["strength"]!.GetValue<double>());
        var revisions = (await Get(user, $"/api/messages/{messageId}/revisions"))["revisions"]!.AsArray();
        Assert.Equal("only text", Str(Assert.Single(revisions)!["text"]));
    }

    [Fact]
    public async Task Replacing_imageIds_moves_refCounts_both_ways()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var a = await SeedImage(user, id);
        var b = await SeedImage(user, id);
        var messageId = Str((await PostMessage(user, id, "x", imageIds: [a]))["id"]);
        var result = await Send(user, HttpMethod.Put, $"/api/messages/{messageId}", new { imageIds = new[] { b } });
        Assert.Equal([b], (await Json(result))["messageData"]!["imageIds"]!.AsArray().Select(Str));
        Assert.Equal(0, await RefCount(user, a));
        Assert.Equal(1, await RefCount(user, b));
    }

    [Fact]
    public async Task Invalid_edits_answer_400_and_change_nothing()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var a = await SeedImage(user, id);
        var failed = await SeedImage(user, id, status: "failed");
        var posted = await PostMessage(user, id, "keep me", imageIds: [a]);
        var messageId = Str(posted["id"]);
        foreach (var (body, field) in new (object, string)[]
                 {
                     (new { text = new string('x', 32_001) }, "text"),
                     (new { text = " " }, "text"),
                     (new { @params = 3 }, "params"),
                     (new { imageIds = new[] { failed } }, "imageIds"),
                     (new { }, "body"),
                 })
        {
            var problem = await ShouldBeProblem(await Send(user, HttpMethod.Put, $"/api/messages/{messageId}", body), 400, "validation_failed");
            Assert.NotNull(problem["errors"]![field]);
        }
        Assert.Equal(posted.ToJsonString(), (await Get(user, $"/api/messages/{messageId}"))["messageData"]!.ToJsonString());
        Assert.Equal(1, await RefCount(user, a));
        Assert.Equal(0, await RefCount(user, failed));
        Assert.Single((await Get(user, $"/api/messages/{messageId}/revisions"))["revisions"]!.AsArray());
    }

    [Fact]
    public async Task Editing_an_unknown_message_answers_404()
    {
        var user = await RegisterUser();
        await ShouldBeProblem(await Send(user, HttpMethod.Put, $"/api/messages/{Guid.CreateVersion7():N}", new { text = "x" }), 404, "not_found");
        await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/messages/{Guid.CreateVersion7():N}/revisions"), 404, "not_found");
    }
}

public sealed class MessageImagesTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Attach_and_detach_log_the_image_list_as_the_api_answers_it()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var (a, b) = (await SeedImage(user, id), await SeedImage(user, id));
        var messageId = await NewMessageId(user, id, "pictures");
        foreach (var (method, url, body) in new (HttpMethod, string, object?)[]
        {
            (HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = a }),
            (HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = b }),
            (HttpMethod.Delete, $"/api/messages/{messageId}/images/{a}", null),
            (HttpMethod.Delete, $"/api/messages/{messageId}/images/{b}", null),
        })
        {
            var since = await LoggedEvents.Mark(Host, user.Id);
            var result = await Send(user, method, url, body);
            Assert.Equal(200, result.Context.Response.StatusCode);
            var logged = await Logged(user, since);
            Assert.Equal(["message_updated", "session_updated"], logged.Select(e => e.Type));
            Assert.Equal(await MessageUpdatedPayload(user, messageId), logged[0].Payload);
            Assert.Equal(await SessionUpdatedPayload(user, id), logged[1].Payload);
            SameJson(await result.ReadAsTextAsync(), logged[0].Payload);
        }
    }

    [Fact]
    public async Task Attach_list_and_detach_keep_refCount_exact()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var a = await SeedImage(user, id);
        var b = await SeedImage(user, id, status: "processing", type: "generated");
        var messageId = Str((await PostMessage(user, id, "pictures", imageIds: [a]))["id"]);

        var (attach, events) = await WithEvents(user, () => Send(user, HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = b }));
        Assert.Equal(200, attach.Context.Response.StatusCode);
        Assert.Equal([a, b], (await Json(attach))["messageData"]!["imageIds"]!.AsArray().Select(Str));
        Assert.Single(events.OfType<MessageUpdated>());
        Assert.Equal(1, await RefCount(user, b));

        // Attaching it again changes nothing.
        await Send(user, HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = b });
        Assert.Equal(1, await RefCount(user, b));

        var images = (await Get(user, $"/api/messages/{messageId}/images"))["images"]!.AsArray();
        Assert.Equal([a, b], images.Select(i => Str(i!["id"])));
        Assert.Equal("generated", Str(images[1]!["type"]));
        Assert.Equal(1, images[0]!["refCount"]!.GetValue<int>());

        var detach = await Send(user, HttpMethod.Delete, $"/api/messages/{messageId}/images/{a}");
        Assert.Equal(200, detach.Context.Response.StatusCode);
        Assert.Equal([b], (await Json(detach))["messageData"]!["imageIds"]!.AsArray().Select(Str));
        Assert.Equal(0, await RefCount(user, a));
        await ShouldBeProblem(await Send(user, HttpMethod.Delete, $"/api/messages/{messageId}/images/{a}"), 404, "not_found");
        Assert.Equal(0, await RefCount(user, a));
    }

    [Fact]
    public async Task Concurrent_attaches_and_deletes_keep_every_refCount_exact()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var images = new List<string>();
        for (int i = 0; i < 15; i++) images.Add(await SeedImage(user, id));
        var messageId = await NewMessageId(user, id, "target");
        var attaches = images.Select(img => Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Json(new { imageId = img }).ToUrl($"/api/messages/{messageId}/images");
            s.StatusCodeShouldBe(200);
        }));
        // Meanwhile other messages reference the same images and are deleted again.
        var churn = images.Take(5).Select(async img =>
        {
            var other = Str((await PostMessage(user, id, "churn", imageIds: [img]))["id"]);
            await Host.Scenario(s => { s.As(user); s.Delete.Url($"/api/messages/{other}"); s.StatusCodeShouldBe(200); });
        });
        await Task.WhenAll(attaches.Cast<Task>().Concat(churn));

        var attached = (await Get(user, $"/api/messages/{messageId}"))["messageData"]!["imageIds"]!.AsArray().Select(Str).ToList();
        Assert.Equal(images.Order(), attached.Order());
        foreach (var img in images) Assert.Equal(1, await RefCount(user, img));
        Assert.Equal(1, (await Get(user, $"/api/sessions/{id}"))["session"]!["messageCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task Attaching_an_unusable_image_answers_400_naming_it()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var failed = await SeedImage(user, id, status: "failed");
        var messageId = await NewMessageId(user, id);
        var missing = Guid.CreateVersion7().ToString("N");
        foreach (var bad in new[] { failed, missing })
        {
            var body = await ShouldBeProblem(await Send(user, HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = bad }), 400, "validation_failed");
            Assert.Contains(bad, Str(body["message"]));
        }
        Assert.Empty((await Get(user, $"/api/messages/{messageId}"))["messageData"]!["imageIds"]!.AsArray());
        var malformed = await ShouldBeProblem(await Send(user, HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = "no spaces allowed" }), 400, "validation_failed");
        Assert.NotNull(malformed["errors"]!["imageId"]);
    }

    [Fact]
    public async Task More_than_20_images_on_a_message_answers_400()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var images = new List<string>();
        for (int i = 0; i < 21; i++) images.Add(await SeedImage(user, id));
        var messageId = Str((await PostMessage(user, id, "many", imageIds: images.Take(20).ToArray()))["id"]);
        await ShouldBeProblem(await Send(user, HttpMethod.Post, $"/api/messages/{messageId}/images", new { imageId = images[20] }), 400, "validation_failed");
        Assert.Equal(0, await RefCount(user, images[20]));
        await ShouldBeProblem(await Send(user, HttpMethod.Post, $"/api/sessions/{id}/messages", new { role = "user", text = "x", imageIds = images }), 400, "validation_failed");
    }
}

public sealed class DeleteMessageTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task A_delete_decided_but_never_committed_changes_nothing_and_its_retry_deletes_once()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user, "Gare du Nord “été” <x>");
        var keep = await NewMessageId(user, id, "kept");
        var messageId = await NewMessageId(user, id, "soon gone");
        var since = await LoggedEvents.Mark(Host, user.Id);

        // The handler decides and returns the change; only the edge commits it (here: never, as when Redis went away).
        var (_, uncommitted) = await DeleteMessageHandler.Handle(new DeleteMessage(messageId) { UserId = user.Id }, Redis, TimeProvider.System);
        Assert.NotNull(uncommitted);
        Assert.Empty(await Logged(user, since));
        Assert.Equal("soon gone", Str((await Get(user, $"/api/messages/{messageId}"))["messageData"]!["text"]));

        // The retry deletes it; a second retry finds it gone.
        Assert.Equal(200, (await Send(user, HttpMethod.Delete, $"/api/messages/{messageId}")).Context.Response.StatusCode);
        await ShouldBeProblem(await Send(user, HttpMethod.Delete, $"/api/messages/{messageId}"), 404, "not_found");

        var logged = await Logged(user, since);
        Assert.Equal(["message_deleted", "session_updated"], logged.Select(e => e.Type));
        Assert.Equal($$"""{"messageId":"{{messageId}}","sessionId":"{{id}}"}""", logged[0].Payload);
        Assert.Equal(await SessionUpdatedPayload(user, id), logged[1].Payload);
        var session = await Raw(user, $"/api/sessions/{id}");
        SameJson(session, logged[1].Payload);
        Assert.Equal(1, JsonNode.Parse(session)!["session"]!["messageCount"]!.GetValue<int>());
        Assert.Equal([keep], (await Get(user, $"/api/sessions/{id}/messages"))["messages"]!.AsArray().Select(m => Str(m!["id"])));
    }

    [Fact]
    public async Task Delete_removes_it_from_lists_counts_and_search_and_releases_its_images()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var image = await SeedImage(user, id);
        var keep = await NewMessageId(user, id, "keep this walrus");
        var messageId = Str((await PostMessage(user, id, "delete this walrus", imageIds: [image]))["id"]);
        Assert.Equal(1, await RefCount(user, image));

        var (result, events) = await WithEvents(user, () => Send(user, HttpMethod.Delete, $"/api/messages/{messageId}"));
        Assert.Equal(200, result.Context.Response.StatusCode);
        Assert.False(string.IsNullOrEmpty(Str((await Json(result))["message"])));
        var deleted = Assert.Single(events.OfType<MessageDeleted>());
        Assert.Equal((messageId, id), (deleted.MessageId, deleted.SessionId));
        Assert.Equal(1, Assert.Single(events.OfType<SessionUpdated>()).Session.MessageCount);

        Assert.Equal(0, await RefCount(user, image));
        await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/messages/{messageId}"), 404, "not_found");
        var list = await Get(user, $"/api/sessions/{id}/messages");
        Assert.Equal([keep], list["messages"]!.AsArray().Select(m => Str(m!["id"])));
        Assert.Equal(1, (await Get(user, $"/api/sessions/{id}"))["session"]!["messageCount"]!.GetValue<int>());
        var search = await Get(user, "/api/search?q=walrus");
        Assert.Equal([keep], search["results"]!.AsArray().Select(r => Str(r!["messageId"])));
        Assert.False(await Redis.KeyExistsAsync(NanoBanana.Infrastructure.Redis.Keys.SearchTerm(user.Id, "delete")));
        // The index's number for it is released too: left are the counter and the kept message's number.
        Assert.Equal(2, await Redis.HashLengthAsync(NanoBanana.Infrastructure.Redis.Keys.SearchNumbers(user.Id)));
        Assert.False(await Redis.SortedSetScoreAsync(NanoBanana.Infrastructure.Redis.Keys.SearchVocabulary(user.Id), "delete").ContinueWith(t => t.Result.HasValue));
        await ShouldBeProblem(await Send(user, HttpMethod.Delete, $"/api/messages/{messageId}"), 404, "not_found");
    }
}
