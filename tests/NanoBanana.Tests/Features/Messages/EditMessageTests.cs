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
