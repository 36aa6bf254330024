using System.Text.Json.Nodes;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features;
using NanoBanana.Features.Realtime;
using NanoBanana.Infrastructure.Redis;

namespace NanoBanana.Tests.Features.Sessions;

public sealed class CreateSessionTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Create_answers_201_with_the_session_titled_New_Chat_by_default()
    {
        var user = await RegisterUser();
        var (result, events) = await WithEvents(user, () => Send(user, HttpMethod.Post, "/api/sessions", new { }));
        Assert.Equal(201, result.Context.Response.StatusCode);
        var session = (await Json(result))["session"]!.AsObject();
        Assert.Matches("^[0-9a-f]{32}$", Str(session["id"]));
        Assert.Equal(user.Id, Str(session["userId"]));
        Assert.Equal("New Chat", Str(session["title"]));
        Assert.Equal(0, session["messageCount"]!.GetValue<int>());
        Assert.Null(session["deletedAt"]);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", Str(session["createdAt"]));
        Assert.Equal(Str(session["createdAt"]), Str(session["updatedAt"]));
        var created = Assert.Single(events.OfType<SessionCreated>());
        Assert.Equal(user.Id, created.UserId);
        Assert.Equal(Str(session["id"]), created.Session.Id);
    }

    [Fact]
    public async Task Create_without_a_body_uses_the_default_title_and_a_given_title_is_trimmed()
    {
        var user = await RegisterUser();
        var result = await Host.Scenario(s => { s.As(user); s.Post.Url("/api/sessions"); s.StatusCodeShouldBe(201); });
        Assert.Equal("New Chat", Str((await Json(result))["session"]!["title"]));
        Assert.Equal("Beach edits", Str((await CreateSession(user, "  Beach edits  "))["title"]));
    }

    [Theory]
    [InlineData("{\"title\":\"   \"}")]
    [InlineData("{\"title\":5}")]
    public async Task Bad_titles_answer_400_and_store_nothing(string json)
    {
        var user = await RegisterUser();
        var result = await Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Text(json).ToUrl("/api/sessions");
            s.WithRequestHeader("Content-Type", "application/json");
            s.StatusCodeShouldBe(400);
        });
        Assert.Equal(400, (await Json(result))["status"]!.GetValue<int>());
        Assert.Equal(0, (await Get(user, "/api/sessions"))["pagination"]!["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task Title_over_200_characters_answers_400_naming_title()
    {
        var user = await RegisterUser();
        var result = await Send(user, HttpMethod.Post, "/api/sessions", new { title = new string('a', 201) });
        var body = await ShouldBeProblem(result, 400, "validation_failed");
        Assert.NotNull(body["errors"]!["title"]);
    }

    [Fact]
    public async Task Without_a_token_answers_401()
    {
        var result = await Host.Scenario(s => { s.Post.Json(new { }).ToUrl("/api/sessions"); s.StatusCodeShouldBe(401); });
        await ShouldBeProblem(result, 401, "unauthorized");
    }

    [Fact]
    public async Task Idempotent_retry_returns_the_first_session_and_creates_one()
    {
        var user = await RegisterUser();
        async Task<IScenarioResult> Create(string title) => await Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Json(new { title }).ToUrl("/api/sessions");
            s.WithRequestHeader("Idempotency-Key", "create-1");
            s.IgnoreStatusCode();
        });
        var first = await Create("Trip");
        var again = await Create("Trip");
        Assert.Equal(201, first.Context.Response.StatusCode);
        Assert.Equal(201, again.Context.Response.StatusCode);
        Assert.Equal(Str((await Json(first))["session"]!["id"]), Str((await Json(again))["session"]!["id"]));
        Assert.Equal(1, (await Get(user, "/api/sessions"))["pagination"]!["total"]!.GetValue<int>());

        var other = await Create("Another trip");
        await ShouldBeProblem(other, 422, "idempotency_key_reused");
        Assert.Equal(1, (await Get(user, "/api/sessions"))["pagination"]!["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_decision_that_was_never_committed_stores_nothing_and_its_retry_creates_once()
    {
        var user = await RegisterUser();
        var since = await LoggedEvents.Mark(Host, user.Id);
        // The handler decides and returns the change; only the edge commits it (here: never, as when Redis went away).
        var (_, uncommitted) = await NanoBanana.Features.Sessions.CreateSession.CreateSessionHandler.Handle(
            new NanoBanana.Features.Sessions.CreateSession.CreateSession("Trip") { UserId = user.Id, IdempotencyKey = "create-1" },
            Redis, TimeProvider.System);
        Assert.NotNull(uncommitted);
        Assert.Empty(await LoggedEvents.Since(Host, user.Id, since));
        Assert.Equal(0, (await Get(user, "/api/sessions"))["pagination"]!["total"]!.GetValue<int>());

        var ids = new List<string>();
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var retry = await Host.Scenario(s =>
            {
                s.As(user);
                s.Post.Json(new { title = "Trip" }).ToUrl("/api/sessions");
                s.WithRequestHeader("Idempotency-Key", "create-1");
                s.StatusCodeShouldBe(201);
            });
            ids.Add(Str((await Json(retry))["session"]!["id"]));
        }

        // Every device hears of it, once (the second retry finds it made).
        var created = Assert.IsType<SessionCreated>(Assert.Single(await LoggedEvents.Since(Host, user.Id, since)));
        Assert.Equal((Assert.Single(ids.Distinct()), "Trip"), (created.Session.Id, created.Session.Title));
    }

    [Fact]
    public async Task Concurrent_requests_with_one_key_log_session_created_once()
    {
        var user = await RegisterUser();
        var since = await LoggedEvents.Mark(Host, user.Id);
        var ids = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ => Str((await Json(await Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Json(new { title = "Once" }).ToUrl("/api/sessions");
            s.WithRequestHeader("Idempotency-Key", "same-key");
            s.StatusCodeShouldBe(201);
        })))["session"]!["id"])));
        var created = Assert.IsType<SessionCreated>(Assert.Single(await LoggedEvents.Since(Host, user.Id, since)));
        Assert.Equal(created.Session.Id, Assert.Single(ids.Distinct()));
    }

    [Fact]
    public async Task Idempotency_keys_belong_to_their_user()
    {
        var a = await RegisterUser("a");
        var b = await RegisterUser("b");
        foreach (var user in new[] { a, b })
            await Host.Scenario(s =>
            {
                s.As(user);
                s.Post.Json(new { title = "Same" }).ToUrl("/api/sessions");
                s.WithRequestHeader("Idempotency-Key", "shared-key");
                s.StatusCodeShouldBe(201);
            });
        Assert.Equal(1, (await Get(a, "/api/sessions"))["pagination"]!["total"]!.GetValue<int>());
        Assert.Equal(1, (await Get(b, "/api/sessions"))["pagination"]!["total"]!.GetValue<int>());
        var ttl = await Redis.KeyTimeToLiveAsync(NanoBanana.Infrastructure.Redis.Keys.Idempotency(a.Id, "session", "shared-key"));
        Assert.InRange(ttl!.Value, TimeSpan.FromHours(23.9), TimeSpan.FromHours(24));
    }

    [Fact]
    public async Task A_malformed_idempotency_key_answers_400_naming_the_header()
    {
        var user = await RegisterUser();
        var result = await Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Json(new { }).ToUrl("/api/sessions");
            s.WithRequestHeader("Idempotency-Key", new string('k', 201));
            s.StatusCodeShouldBe(400);
        });
        var body = await ShouldBeProblem(result, 400, "validation_failed");
        Assert.NotNull(body["errors"]!["Idempotency-Key"]);
    }
}

public sealed class ListSessionsTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Lists_most_recently_updated_first_with_a_true_total()
    {
        var user = await RegisterUser();
        var first = await NewSessionId(user, "first");
        var second = await NewSessionId(user, "second");
        var third = await NewSessionId(user, "third");
        await PostMessage(user, first, "bump the first one");

        var body = await Get(user, "/api/sessions?limit=2&offset=0");
        var ids = body["sessions"]!.AsArray().Select(s => Str(s!["id"])).ToList();
        Assert.Equal([first, third], ids);
        var page = body["pagination"]!;
        Assert.Equal(2, page["limit"]!.GetValue<int>());
        Assert.Equal(0, page["offset"]!.GetValue<int>());
        Assert.Equal(3, page["total"]!.GetValue<int>());
        Assert.True(page["hasMore"]!.GetValue<bool>());

        var rest = await Get(user, "/api/sessions?limit=2&offset=2");
        Assert.Equal([second], rest["sessions"]!.AsArray().Select(s => Str(s!["id"])));
        Assert.False(rest["pagination"]!["hasMore"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Q_filters_titles_case_insensitively_in_any_language()
    {
        var user = await RegisterUser();
        await NewSessionId(user, "Sunset over the BEACH");
        await NewSessionId(user, "Портрет в МОСКВЕ");
        await NewSessionId(user, "把背景换成海滩");
        await NewSessionId(user, "Café au lait");
        async Task<List<string>> Titles(string q) =>
            (await Get(user, "/api/sessions?q=" + Uri.EscapeDataString(q)))["sessions"]!.AsArray().Select(s => Str(s!["title"])).ToList();

        Assert.Equal(["Sunset over the BEACH"], await Titles("beach"));
        Assert.Equal(["Портрет в МОСКВЕ"], await Titles("москве"));
        Assert.Equal(["把背景换成海滩"], await Titles("背景"));
        Assert.Equal(["Café au lait"], await Titles("CAFÉ"));
        Assert.Empty(await Titles("nothing like this"));
        // Latin "e" matches "BEACH" and, accent-insensitively, "Café"; the Cyrillic "Е" is another letter.
        var body = await Get(user, "/api/sessions?q=e&limit=1");
        Assert.Equal(2, body["pagination"]!["total"]!.GetValue<int>());
        Assert.Single(body["sessions"]!.AsArray());
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=1.5", "limit")]
    [InlineData("offset=-1", "offset")]
    [InlineData("offset=x", "offset")]
    [InlineData("limit=1&limit=2", "limit")]
    public async Task Bad_paging_answers_400_naming_the_parameter(string query, string parameter)
    {
        var user = await RegisterUser();
        var result = await Send(user, HttpMethod.Get, "/api/sessions?" + query);
        var body = await ShouldBeProblem(result, 400, "validation_failed");
        Assert.NotNull(body["errors"]![parameter]);
    }

    [Fact]
    public async Task The_list_writes_each_session_byte_for_byte_as_its_own_read_does()
    {
        var user = await RegisterUser();
        var created = await NewSessionId(user, "Café \"au\" lait 把背景 😀 <b>");
        var renamed = await NewSessionId(user);
        await Send(user, HttpMethod.Patch, $"/api/sessions/{renamed}", new { title = "Портрет & co" });
        // A message moves the session (count, updatedAt, auto title): its stored JSON moves with it.
        var posted = await NewSessionId(user);
        await PostMessage(user, posted, "a first message titles the session");

        var list = await Raw(user, "/api/sessions");
        foreach (var id in new[] { created, renamed, posted })
        {
            var one = await Raw(user, $"/api/sessions/{id}");
            Assert.StartsWith("{\"session\":", one);
            Assert.Contains(one["{\"session\":".Length..^1], list);
            // The list reads the stored JSON of the user's sessions (one HMGET), kept as the API writes each session.
            Assert.Equal(one["{\"session\":".Length..^1], (string?)await Redis.HashGetAsync(Keys.SessionsJson(user.Id), id));
        }
        Assert.Equal(3, (await Get(user, "/api/sessions"))["sessions"]!.AsArray().Count);

        // Sessions written before the user's JSON hash existed (older data's key layout) are listed from their records.
        Assert.True(await Redis.KeyDeleteAsync(Keys.SessionsJson(user.Id)));
        Assert.Equal(list, await Raw(user, "/api/sessions?limit=20"));
    }

    [Fact]
    public async Task Deleted_sessions_are_not_listed()
    {
        var user = await RegisterUser();
        var gone = await NewSessionId(user);
        var kept = await NewSessionId(user);
        await Host.Scenario(s => { s.As(user); s.Delete.Url($"/api/sessions/{gone}"); s.StatusCodeShouldBe(200); });
        var body = await Get(user, "/api/sessions");
        Assert.Equal([kept], body["sessions"]!.AsArray().Select(s => Str(s!["id"])));
        Assert.Equal(1, body["pagination"]!["total"]!.GetValue<int>());
    }
}

public sealed class GetSessionTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Get_answers_the_session()
    {
        var user = await RegisterUser();
        var created = await CreateSession(user, "Mine");
        var body = await Get(user, $"/api/sessions/{Str(created["id"])}");
        Assert.Equal(created.ToJsonString(), body["session"]!.ToJsonString());
    }

    [Fact]
    public async Task Unknown_and_malformed_ids_answer_404_and_400()
    {
        var user = await RegisterUser();
        await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/sessions/{Guid.CreateVersion7():N}"), 404, "not_found");
        var bad = await ShouldBeProblem(await Send(user, HttpMethod.Get, "/api/sessions/not-an-id"), 400, "validation_failed");
        Assert.NotNull(bad["errors"]!["sessionId"]);
    }
}

public sealed class RenameSessionTests(AppFixture app) : ChatContext(app)
{
    [Theory]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    public async Task Rename_answers_the_renamed_session_and_moves_updatedAt(string method)
    {
        var user = await RegisterUser();
        var created = await CreateSession(user);
        var id = Str(created["id"]);
        var (result, events) = await WithEvents(user, () => Send(user, new HttpMethod(method), $"/api/sessions/{id}", new { title = " Portraits " }));
        Assert.Equal(200, result.Context.Response.StatusCode);
        var session = (await Json(result))["session"]!;
        Assert.Equal("Portraits", Str(session["title"]));
        Assert.True(DateTimeOffset.Parse(Str(session["updatedAt"])) >= DateTimeOffset.Parse(Str(created["updatedAt"])));
        Assert.Equal("Portraits", Str((await Get(user, $"/api/sessions/{id}"))["session"]!["title"]));
        Assert.Equal("Portraits", Assert.Single(events.OfType<SessionUpdated>()).Session.Title);
    }

    [Fact]
    public async Task A_renamed_session_keeps_its_title_after_the_first_message()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        await Send(user, HttpMethod.Put, $"/api/sessions/{id}", new { title = "My name" });
        await PostMessage(user, id, "Make the sky purple");
        Assert.Equal("My name", Str((await Get(user, $"/api/sessions/{id}"))["session"]!["title"]));
    }

    [Fact]
    public async Task Blank_or_missing_title_answers_400_and_changes_nothing()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user, "Keep");
        foreach (var body in new object[] { new { title = "" }, new { title = "  " }, new { } })
        {
            var result = await Send(user, HttpMethod.Put, $"/api/sessions/{id}", body);
            var problem = await ShouldBeProblem(result, 400, "validation_failed");
            Assert.NotNull(problem["errors"]!["title"]);
        }
        Assert.Equal("Keep", Str((await Get(user, $"/api/sessions/{id}"))["session"]!["title"]));
    }

    [Fact]
    public async Task A_rename_is_logged_with_the_session_as_the_api_answers_it()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        await PostMessage(user, id, "one");
        var since = await LoggedEvents.Mark(Host, user.Id);

        var answer = await Send(user, HttpMethod.Patch, $"/api/sessions/{id}", new { title = " Café \"<Nächte>\" 🌙 " });

        var logged = Assert.Single(await Logged(user, since));
        Assert.Equal("session_updated", logged.Type);
        // The session's route's answer: {session} with the REST shape, the same as the rename's answer.
        Assert.Equal(await SessionUpdatedPayload(user, id), logged.Payload);
        SameJson(await Raw(user, $"/api/sessions/{id}"), logged.Payload);
        SameJson(await answer.ReadAsTextAsync(), logged.Payload);
        Assert.Contains("\"messageCount\":1", logged.Payload);
    }

    [Fact]
    public async Task Fifty_concurrent_renames_and_creates_of_one_user_all_commit_each_with_its_event()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var since = await LoggedEvents.Mark(Host, user.Id);

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => i % 2 == 0
            ? Send(user, HttpMethod.Patch, $"/api/sessions/{id}", new { title = $"t{i}" })
            : Send(user, HttpMethod.Post, "/api/sessions", new { title = $"s{i}" })));

        Assert.All(answers, a => Assert.InRange(a.Context.Response.StatusCode, 200, 201));

        var logged = await Logged(user, since);
        Assert.Equal(25, logged.Count(e => e.Type == "session_updated"));
        Assert.Equal(25, logged.Count(e => e.Type == "session_created"));
        Assert.Equal(26, (await Get(user, "/api/sessions"))["pagination"]!["total"]!.GetValue<int>());
        // The last rename committed is the one the session holds.
        SameJson(await Raw(user, $"/api/sessions/{id}"), logged.Last(e => e.Type == "session_updated").Payload);
    }

    [Fact]
    public async Task Renaming_an_unknown_session_answers_404()
    {
        var user = await RegisterUser();
        await ShouldBeProblem(await Send(user, HttpMethod.Patch, $"/api/sessions/{Guid.CreateVersion7():N}", new { title = "x" }), 404, "not_found");
        Assert.Equal(0, (await Get(user, "/api/sessions"))["pagination"]!["total"]!.GetValue<int>());
    }
}

public sealed class DeleteSessionTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Delete_answers_200_message_and_the_session_is_gone_from_reads_and_search()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var messageId = await NewMessageId(user, id, "zebra stripes");
        Assert.Equal(1, (await Get(user, "/api/search?q=zebra"))["pagination"]!["total"]!.GetValue<int>());

        var (result, events) = await WithEvents(user, () => Send(user, HttpMethod.Delete, $"/api/sessions/{id}"));
        Assert.Equal(200, result.Context.Response.StatusCode);
        Assert.False(string.IsNullOrEmpty(Str((await Json(result))["message"])));
        Assert.Equal(id, Assert.Single(events.OfType<SessionDeleted>()).SessionId);

        await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/sessions/{id}"), 404, "not_found");
        await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/sessions/{id}/messages"), 404, "not_found");
        await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/messages/{messageId}"), 404, "not_found");
        await ShouldBeProblem(await Send(user, HttpMethod.Delete, $"/api/sessions/{id}"), 404, "not_found");
        var search = await Get(user, "/api/search?q=zebra");
        Assert.Equal(0, search["pagination"]!["total"]!.GetValue<int>());
        Assert.Empty(search["results"]!.AsArray());
        // Its search entries are gone from Redis, not only hidden.
        Assert.False(await Redis.KeyExistsAsync(NanoBanana.Infrastructure.Redis.Keys.SearchTerm(user.Id, "zebra")));
        Assert.False(await Redis.KeyExistsAsync(NanoBanana.Infrastructure.Redis.Keys.SearchTerm(user.Id, "z*")));
        Assert.Equal(1, await Redis.HashLengthAsync(NanoBanana.Infrastructure.Redis.Keys.SearchNumbers(user.Id))); // only the counter
    }

    [Fact]
    public async Task Delete_releases_the_images_its_messages_reference()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var image = await SeedImage(user, id);
        var other = await SeedImage(user, id);
        await PostMessage(user, id, "one", imageIds: [image, other]);
        await PostMessage(user, id, "two", imageIds: [image]);
        Assert.Equal(2, await RefCount(user, image));
        Assert.Equal(1, await RefCount(user, other));

        await Host.Scenario(s => { s.As(user); s.Delete.Url($"/api/sessions/{id}"); s.StatusCodeShouldBe(200); });
        Assert.Equal(0, await RefCount(user, image));
        Assert.Equal(0, await RefCount(user, other));
    }
}

public sealed class DeleteSessionRetryTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task A_delete_and_its_retry_log_session_deleted_once_and_the_retry_answers_404()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        await PostMessage(user, id, "soon gone");
        var since = await LoggedEvents.Mark(Host, user.Id);

        var deletes = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Send(user, HttpMethod.Delete, $"/api/sessions/{id}")));
        Assert.Equal(1, deletes.Count(d => d.Context.Response.StatusCode == 200));
        Assert.Equal(3, deletes.Count(d => d.Context.Response.StatusCode == 404));

        var logged = Assert.Single(await Logged(user, since));
        Assert.Equal("session_deleted", logged.Type);
        Assert.Equal($$"""{"sessionId":"{{id}}"}""", logged.Payload);
    }
}

public sealed class DeleteLargeSessionTests(AppFixture app) : ChatContext(app)
{
    /// <summary>Many messages posted through the bus, as the endpoint does (HTTP would only make the setup slow); one at a time.</summary>
    async Task Fill(TestUser user, string sessionId, int count, string imageId)
    {
        var bus = Host.Services.GetRequiredService<Wolverine.IMessageBus>();
        for (var i = 0; i < count; i++)
            await bus.InvokeAsync<NanoBanana.Features.Messages.MessagePostedResponse>(
                new NanoBanana.Features.Messages.PostMessage.PostMessage("user", $"quokka number {i}", i % 10 == 0 ? [imageId] : null, null, null)
                { UserId = user.Id, SessionId = sessionId });
    }

    [Fact]
    public async Task A_session_larger_than_one_purge_batch_is_purged_completely()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var image = await SeedImage(user, id);
        var count = NanoBanana.Features.Sessions.DeleteSession.SessionPurge.Batch * 2 + 100;
        await Fill(user, id, count, image);
        Assert.Equal(count / 10, await RefCount(user, image));
        Assert.Equal(count, (await Get(user, "/api/search?q=quokka"))["pagination"]!["total"]!.GetValue<int>());

        // The answer comes after the first batch; the rest is purged on a local queue: wait for that work.
        var (result, events) = await WithEvents(user, () => Send(user, HttpMethod.Delete, $"/api/sessions/{id}"));
        Assert.Equal(200, result.Context.Response.StatusCode);
        Assert.Single(events.OfType<SessionDeleted>());
        Assert.Equal(0, await RefCount(user, image));
        Assert.Equal(0, (await Get(user, "/api/search?q=quokka"))["pagination"]!["total"]!.GetValue<int>());
        Assert.False(await Redis.KeyExistsAsync(NanoBanana.Infrastructure.Redis.Keys.SearchTerm(user.Id, "quokka")));
        Assert.Equal(1, await Redis.HashLengthAsync(NanoBanana.Infrastructure.Redis.Keys.SearchNumbers(user.Id)));
    }
}

public sealed class SessionStatsTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Stats_count_messages_and_the_session_images_and_date_the_last_message()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var empty = (await Get(user, $"/api/sessions/{id}/stats"))["stats"]!;
        Assert.Equal(0, empty["messageCount"]!.GetValue<int>());
        Assert.Equal(0, empty["imageCount"]!.GetValue<int>());
        Assert.Null(empty["lastMessageAt"]);

        await PostMessage(user, id, "one");
        var last = await PostMessage(user, id, "two", role: "assistant");
        // The images feature keeps these two keys; here they are written as that feature would.
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Redis.SortedSetAddAsync(NanoBanana.Infrastructure.Redis.Keys.SessionImages(user.Id, id),
            [new("i1", now), new("i2", now), new("i3", now)]);
        await Redis.HashSetAsync(NanoBanana.Infrastructure.Redis.Keys.SessionImageCounts(user.Id, id),
            [new("uploaded", 2), new("generated", 1)]);

        var stats = (await Get(user, $"/api/sessions/{id}/stats"))["stats"]!;
        Assert.Equal(2, stats["messageCount"]!.GetValue<int>());
        Assert.Equal(3, stats["imageCount"]!.GetValue<int>());
        Assert.Equal(2, stats["uploadedCount"]!.GetValue<int>());
        Assert.Equal(1, stats["generatedCount"]!.GetValue<int>());
        Assert.Equal(Str(last["createdAt"]), Str(stats["lastMessageAt"]));
    }

    [Fact]
    public async Task Stats_of_an_unknown_session_answer_404()
    {
        var user = await RegisterUser();
        await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/sessions/{Guid.CreateVersion7():N}/stats"), 404, "not_found");
        await ShouldBeProblem(await Send(user, HttpMethod.Get, "/api/sessions/XYZ/stats"), 400, "validation_failed");
    }
}
