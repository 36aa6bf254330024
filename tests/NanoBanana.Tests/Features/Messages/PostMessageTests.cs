using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Features;

namespace NanoBanana.Tests.Features.Messages;

using NanoBanana.Tests.Features.Sessions;

public sealed class PostMessageTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Each_change_is_in_the_event_log_in_answer_order_when_its_answer_arrives()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var since = await LoggedEvents.Mark(Host, user.Id);

        // Plain calls: nothing is waited for after each answer.
        var messageId = Str((await PostMessage(user, id, "first words"))["id"]);
        Assert.Equal(200, (await Send(user, HttpMethod.Put, $"/api/messages/{messageId}", new { text = "second words" })).Context.Response.StatusCode);
        Assert.Equal(200, (await Send(user, HttpMethod.Delete, $"/api/messages/{messageId}")).Context.Response.StatusCode);

        var events = await LoggedEvents.Since(Host, user.Id, since);
        Assert.Equal(
            [nameof(MessageCreated), nameof(SessionUpdated), nameof(MessageUpdated), nameof(SessionUpdated), nameof(MessageDeleted), nameof(SessionUpdated)],
            events.Select(e => e.GetType().Name));
        Assert.Equal("second words", events.OfType<MessageUpdated>().Single().Message.Text);
        Assert.Equal(0, events.OfType<SessionUpdated>().Last().Session.MessageCount);
    }

    [Fact]
    public async Task Post_answers_201_message_and_messageData_and_bumps_the_session()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user, "Kept title");
        var id = Str(session["id"]);
        var parameters = new JsonObject { ["model"] = "nano-banana", ["seed"] = 42, ["nested"] = new JsonObject { ["a"] = new JsonArray(1, 2) } };
        var (result, events) = await WithEvents(user, () => Send(user, HttpMethod.Post, $"/api/sessions/{id}/messages",
            new JsonObject { ["role"] = "user", ["text"] = "Make it brighter", ["imageIds"] = new JsonArray(), ["params"] = parameters }));
        Assert.Equal(201, result.Context.Response.StatusCode);
        var body = await Json(result);
        Assert.False(string.IsNullOrWhiteSpace(Str(body["message"])));
        var message = body["messageData"]!.AsObject();
        Assert.Matches("^[0-9a-f]{32}$", Str(message["id"]));
        Assert.Equal(id, Str(message["sessionId"]));
        Assert.Equal("user", Str(message["role"]));
        Assert.Equal("Make it brighter", Str(message["text"]));
        Assert.Equal(parameters.ToJsonString(), message["params"]!.ToJsonString());
        Assert.Empty(message["imageIds"]!.AsArray());
        Assert.Null(message["editedOf"]);
        Assert.Equal(Str(message["createdAt"]), Str(message["updatedAt"]));

        var after = (await Get(user, $"/api/sessions/{id}"))["session"]!;
        Assert.Equal(1, after["messageCount"]!.GetValue<int>());
        Assert.Equal(Str(message["createdAt"]), Str(after["updatedAt"]));
        Assert.Equal("Kept title", Str(after["title"]));
        Assert.Equal(Str(message["id"]), Assert.Single(events.OfType<MessageCreated>()).Message.Id);
        Assert.Equal(1, Assert.Single(events.OfType<SessionUpdated>()).Session.MessageCount);
    }

    [Fact]
    public async Task Fifty_concurrent_posts_give_fifty_distinct_messages_in_order_and_an_exact_count()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var posts = Enumerable.Range(0, 50).Select(i => Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Json(new { role = i % 2 == 0 ? "user" : "assistant", text = $"message {i}" }).ToUrl($"/api/sessions/{id}/messages");
            s.StatusCodeShouldBe(201);
        }));
        var created = new List<JsonObject>();
        foreach (var r in await Task.WhenAll(posts)) created.Add((await Json(r))["messageData"]!.AsObject());

        var session = (await Get(user, $"/api/sessions/{id}"))["session"]!;
        Assert.Equal(50, session["messageCount"]!.GetValue<int>());
        var page = await Get(user, $"/api/sessions/{id}/messages?limit=100");
        var listed = page["messages"]!.AsArray().Select(m => m!.AsObject()).ToList();
        Assert.Equal(50, listed.Count);
        Assert.Equal(50, page["pagination"]!["total"]!.GetValue<int>());
        Assert.Equal(50, listed.Select(m => Str(m["id"])).Distinct().Count());
        Assert.Equal(created.Select(m => Str(m["id"])).Order(), listed.Select(m => Str(m["id"])).Order());
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"message {i}").Order(), listed.Select(m => Str(m["text"])).Order());
        // Chat order and time order agree, and the session's updatedAt is its last message's time.
        var times = listed.Select(m => DateTimeOffset.Parse(Str(m["createdAt"]))).ToList();
        Assert.Equal(times.Order(), times);
        Assert.Equal(Str(listed[^1]["createdAt"]), Str(session["updatedAt"]));
    }

    [Fact]
    public async Task Posts_in_a_row_each_get_their_own_search_entry_and_only_the_first_titles_the_session()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        // Letters only, so each word is one term of its own; most of these posts decide on what the one before committed.
        var words = Enumerable.Range(0, 20).Select(i => new string((char)('a' + i), 3) + "quokka").ToList();
        var posts = words.Select(w => Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Json(new { role = "user", text = $"{w} lighthouse" }).ToUrl($"/api/sessions/{id}/messages");
            s.StatusCodeShouldBe(201);
        }));
        var created = new List<JsonObject>();
        foreach (var r in await Task.WhenAll(posts)) created.Add((await Json(r))["messageData"]!.AsObject());

        foreach (var (word, message) in words.Zip(created))
        {
            var found = (await Get(user, $"/api/search?q={word}"))["results"]!.AsArray();
            Assert.Equal(Str(message["id"]), Str(Assert.Single(found)!["messageId"]));
        }
        Assert.Equal(20, (await Get(user, "/api/search?q=lighthouse&limit=50"))["results"]!.AsArray().Count);
        var first = created.MinBy(m => DateTimeOffset.Parse(Str(m["createdAt"])))!;
        var session = (await Get(user, $"/api/sessions/{id}"))["session"]!;
        Assert.Equal(Str(first["text"]), Str(session["title"]));
        Assert.Equal(20, session["messageCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task Idempotent_retry_returns_the_first_message_with_201_and_stores_one()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        Task<IScenarioResult> Post(string text, string key = "post-1") => Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Json(new { role = "user", text }).ToUrl($"/api/sessions/{id}/messages");
            s.WithRequestHeader("Idempotency-Key", key);
            s.IgnoreStatusCode();
        });
        var first = await Post("hello");
        var (again, events) = await WithEvents(user, () => Post("hello"));
        Assert.Equal(201, first.Context.Response.StatusCode);
        Assert.Equal(201, again.Context.Response.StatusCode);
        Assert.Equal((await Json(first))["messageData"]!.ToJsonString(), (await Json(again))["messageData"]!.ToJsonString());
        Assert.Empty(events.OfType<MessageCreated>());
        Assert.Equal(1, (await Get(user, $"/api/sessions/{id}"))["session"]!["messageCount"]!.GetValue<int>());

        var ttl = await Redis.KeyTimeToLiveAsync(NanoBanana.Infrastructure.Redis.Keys.Idempotency(user.Id, "message", "post-1"));
        Assert.InRange(ttl!.Value, TimeSpan.FromHours(23.9), TimeSpan.FromHours(24));

        await ShouldBeProblem(await Post("something else"), 422, "idempotency_key_reused");
        Assert.Equal(1, (await Get(user, $"/api/sessions/{id}"))["session"]!["messageCount"]!.GetValue<int>());
        Assert.Equal(201, (await Post("something else", "post-2")).Context.Response.StatusCode);
    }

    [Fact]
    public async Task A_post_decided_but_never_committed_stores_nothing_and_its_retry_posts_once()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var since = await LoggedEvents.Mark(Host, user.Id);
        // The handler decides and returns the change; only the edge commits it (here: never, as when Redis went away).
        using var turn = await new NanoBanana.Features.Realtime.UserGates().Enter(user.Id, CancellationToken.None);
        var (_, uncommitted) = await NanoBanana.Features.Messages.PostMessage.PostMessageHandler.Handle(
            new NanoBanana.Features.Messages.PostMessage.PostMessage("user", "hello there", null, null, null)
                { UserId = user.Id, SessionId = id, IdempotencyKey = "post-1" },
            Redis, TimeProvider.System, turn);
        Assert.NotNull(uncommitted);
        Assert.Empty(await LoggedEvents.Since(Host, user.Id, since));
        Assert.Equal(0, (await Get(user, $"/api/sessions/{id}/messages"))["pagination"]!["total"]!.GetValue<int>());

        var ids = new List<string>();
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var retry = await Host.Scenario(s =>
            {
                s.As(user);
                s.Post.Json(new { role = "user", text = "hello there" }).ToUrl($"/api/sessions/{id}/messages");
                s.WithRequestHeader("Idempotency-Key", "post-1");
                s.StatusCodeShouldBe(201);
            });
            ids.Add(Str((await Json(retry))["messageData"]!["id"]));
        }

        // Every device hears of it, once (the second retry finds it made), with the session as it now is.
        var events = await LoggedEvents.Since(Host, user.Id, since);
        Assert.Equal(2, events.Count);
        Assert.Equal(Assert.Single(ids.Distinct()), Assert.IsType<MessageCreated>(events[0]).Message.Id);
        var session = Assert.IsType<SessionUpdated>(events[1]).Session;
        Assert.Equal((id, 1, "hello there"), (session.Id, session.MessageCount, session.Title));
    }

    [Fact]
    public async Task Concurrent_retries_with_one_key_create_one_message()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var retries = Enumerable.Range(0, 10).Select(_ => Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Json(new { role = "user", text = "only once" }).ToUrl($"/api/sessions/{id}/messages");
            s.WithRequestHeader("Idempotency-Key", "same-key");
            s.StatusCodeShouldBe(201);
        }));
        var since = await LoggedEvents.Mark(Host, user.Id);
        var ids = new List<string>();
        foreach (var r in await Task.WhenAll(retries)) ids.Add(Str((await Json(r))["messageData"]!["id"]));
        Assert.Single(ids.Distinct());
        Assert.Equal(1, (await Get(user, $"/api/sessions/{id}/messages"))["pagination"]!["total"]!.GetValue<int>());
        Assert.Equal(ids[0], Assert.IsType<MessageCreated>(Assert.Single((await LoggedEvents.Since(Host, user.Id, since)).OfType<MessageCreated>())).Message.Id);
    }

    [Fact]
    public async Task Referencing_images_increments_their_refCount()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var ready = await SeedImage(user, id);
        var processing = await SeedImage(user, id, status: "processing");
        var message = await PostMessage(user, id, "edit these", imageIds: [ready, processing]);
        Assert.Equal([ready, processing], message["imageIds"]!.AsArray().Select(Str));
        Assert.Equal(1, await RefCount(user, ready));
        Assert.Equal(1, await RefCount(user, processing));
        await PostMessage(user, id, "again", role: "assistant", imageIds: [ready]);
        Assert.Equal(2, await RefCount(user, ready));
    }

    [Fact]
    public async Task An_image_only_message_needs_no_text()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var image = await SeedImage(user, id);
        var message = await PostMessage(user, id, "", imageIds: [image]);
        Assert.Equal("", Str(message["text"]));
        Assert.Equal("New Chat", Str((await Get(user, $"/api/sessions/{id}"))["session"]!["title"]));
    }

    [Fact]
    public async Task Unusable_or_foreign_images_answer_400_naming_the_id_and_change_nothing()
    {
        var user = await RegisterUser();
        var other = await RegisterUser("other");
        var id = await NewSessionId(user);
        var good = await SeedImage(user, id);
        var failed = await SeedImage(user, id, status: "failed");
        var foreign = await SeedImage(other, await NewSessionId(other));
        var missing = Guid.CreateVersion7().ToString("N");
        foreach (var bad in new[] { failed, foreign, missing })
        {
            var result = await Send(user, HttpMethod.Post, $"/api/sessions/{id}/messages",
                new { role = "user", text = "x", imageIds = new[] { good, bad } });
            var body = await ShouldBeProblem(result, 400, "validation_failed");
            Assert.Contains(bad, Str(body["message"]));
            Assert.NotNull(body["errors"]!["imageIds"]);
        }
        Assert.Equal(0, await RefCount(user, good));
        Assert.Equal(0, await RefCount(other, foreign));
        var session = (await Get(user, $"/api/sessions/{id}"))["session"]!;
        Assert.Equal(0, session["messageCount"]!.GetValue<int>());
        Assert.Equal("New Chat", Str(session["title"]));
    }

    [Theory]
    [InlineData("{\"role\":\"robot\",\"text\":\"x\"}", "role")]
    [InlineData("{\"text\":\"x\"}", "role")]
    [InlineData("{\"role\":\"user\"}", "text")]
    [InlineData("{\"role\":\"user\",\"text\":\"   \"}", "text")]
    [InlineData("{\"role\":\"user\",\"text\":\"x\",\"params\":\"not an object\"}", "params")]
    [InlineData("{\"role\":\"user\",\"text\":\"x\",\"params\":[1,2]}", "params")]
    [InlineData("{\"role\":\"user\",\"text\":\"x\",\"imageIds\":[\"bad id!\"]}", "imageIds")]
    [InlineData("{\"role\":\"user\",\"text\":\"x\",\"editedOf\":\"nope\"}", "editedOf")]
    public async Task Invalid_bodies_answer_400_naming_the_field_and_store_nothing(string json, string field)
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var result = await Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Text(json).ToUrl($"/api/sessions/{id}/messages");
            s.WithRequestHeader("Content-Type", "application/json");
            s.StatusCodeShouldBe(400);
        });
        var body = await ShouldBeProblem(result, 400, "validation_failed");
        Assert.NotNull(body["errors"]![field]);
        Assert.Equal(0, (await Get(user, $"/api/sessions/{id}"))["session"]!["messageCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task Text_over_32000_characters_or_params_over_16_KiB_answer_400()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var longText = await Send(user, HttpMethod.Post, $"/api/sessions/{id}/messages", new { role = "user", text = new string('a', 32_001) });
        Assert.NotNull((await ShouldBeProblem(longText, 400, "validation_failed"))["errors"]!["text"]);
        var bigParams = await Send(user, HttpMethod.Post, $"/api/sessions/{id}/messages",
            new { role = "user", text = "x", @params = new { blob = new string('p', 16 * 1024) } });
        Assert.NotNull((await ShouldBeProblem(bigParams, 400, "validation_failed"))["errors"]!["params"]);
        // Exactly at the limit is fine.
        await PostMessage(user, id, new string('a', 32_000));
        Assert.Equal(1, (await Get(user, $"/api/sessions/{id}"))["session"]!["messageCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task EditedOf_must_be_a_message_of_the_same_session()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var otherSession = await NewSessionId(user);
        var original = await NewMessageId(user, id, "first try");
        var elsewhere = await NewMessageId(user, otherSession, "elsewhere");

        var branch = await Send(user, HttpMethod.Post, $"/api/sessions/{id}/messages", new { role = "user", text = "second try", editedOf = original });
        Assert.Equal(201, branch.Context.Response.StatusCode);
        Assert.Equal(original, Str((await Json(branch))["messageData"]!["editedOf"]));

        var wrong = await Send(user, HttpMethod.Post, $"/api/sessions/{id}/messages", new { role = "user", text = "x", editedOf = elsewhere });
        Assert.NotNull((await ShouldBeProblem(wrong, 400, "validation_failed"))["errors"]!["editedOf"]);
        Assert.Equal(2, (await Get(user, $"/api/sessions/{id}"))["session"]!["messageCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task Posting_to_an_unknown_session_answers_404()
    {
        var user = await RegisterUser();
        var result = await Send(user, HttpMethod.Post, $"/api/sessions/{Guid.CreateVersion7():N}/messages", new { role = "user", text = "x" });
        await ShouldBeProblem(result, 404, "not_found");
    }
}

public sealed class AutoTitleTests(AppFixture app) : ChatContext(app)
{
    async Task<string> TitleAfter(string text, string role = "user")
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        await PostMessage(user, id, text, role);
        return Str((await Get(user, $"/api/sessions/{id}"))["session"]!["title"]);
    }

    [Fact]
    public async Task The_first_line_trimmed_names_the_session()
    {
        Assert.Equal("Make the sky purple", await TitleAfter("  Make the sky purple  \nand add a moon"));
        Assert.Equal("Second line wins when the first is blank", await TitleAfter("\n   \nSecond line wins when the first is blank"));
    }

    [Fact]
    public async Task Long_English_is_cut_at_a_word_boundary_to_at_most_50_characters()
    {
        var title = await TitleAfter("Replace the background with a golden sunset over the ocean and add seagulls");
        Assert.Equal("Replace the background with a golden sunset over", title);
        Assert.True(title.Length <= 50);
    }

    [Fact]
    public async Task Chinese_is_cut_at_50_characters()
    {
        var text = string.Concat(Enumerable.Repeat("把背景换成海滩日落", 8)); // 72 characters, no spaces
        var title = await TitleAfter(text);
        Assert.Equal(text[..50], title);
    }

    [Fact]
    public async Task Japanese_short_text_is_kept_whole()
    {
        Assert.Equal("背景を夕焼けの海に変えてください", await TitleAfter("背景を夕焼けの海に変えてください\n二行目"));
    }

    [Fact]
    public async Task Emoji_and_combining_marks_are_never_broken()
    {
        // 60 emoji: each a surrogate pair; the cut keeps 50 whole ones.
        var emoji = string.Concat(Enumerable.Repeat("🍌", 60));
        var title = await TitleAfter(emoji);
        Assert.Equal(string.Concat(Enumerable.Repeat("🍌", 50)), title);
        Assert.Equal(50, new System.Globalization.StringInfo(title).LengthInTextElements);

        // "e" + combining acute, 60 times: no orphaned mark at the end.
        var accented = string.Concat(Enumerable.Repeat("e\u0301", 60));
        var cut = await TitleAfter(accented);
        Assert.Equal(string.Concat(Enumerable.Repeat("e\u0301", 50)), cut);

        // A family emoji (one grapheme of several code points) stays whole.
        var family = string.Concat(Enumerable.Repeat("👨‍👩‍👧", 55));
        var familyTitle = await TitleAfter(family);
        Assert.Equal(string.Concat(Enumerable.Repeat("👨‍👩‍👧", 50)), familyTitle);
    }

    [Fact]
    public async Task Only_the_first_user_message_names_the_session()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        await PostMessage(user, id, "System prompt here", role: "system");
        await PostMessage(user, id, "Assistant greeting", role: "assistant");
        Assert.Equal("New Chat", Str((await Get(user, $"/api/sessions/{id}"))["session"]!["title"]));
        var (_, events) = await WithEvents(user, () => Send(user, HttpMethod.Post, $"/api/sessions/{id}/messages", new { role = "user", text = "First user words" }));
        Assert.Equal("First user words", Assert.Single(events.OfType<SessionUpdated>()).Session.Title);
        await PostMessage(user, id, "Second user words");
        Assert.Equal("First user words", Str((await Get(user, $"/api/sessions/{id}"))["session"]!["title"]));
    }

    [Fact]
    public async Task A_session_created_with_a_title_keeps_it()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user, "Chosen");
        await PostMessage(user, id, "Something else");
        Assert.Equal("Chosen", Str((await Get(user, $"/api/sessions/{id}"))["session"]!["title"]));
    }
}
