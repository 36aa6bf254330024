using System.Text.Json.Nodes;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features;
using NanoBanana.Features.Realtime;

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
