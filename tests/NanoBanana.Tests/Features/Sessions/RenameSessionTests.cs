using System.Text.Json.Nodes;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features;
using NanoBanana.Features.Realtime;

namespace NanoBanana.Tests.Features.Sessions;

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
