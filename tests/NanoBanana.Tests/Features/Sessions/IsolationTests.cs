using NanoBanana.Features;

namespace NanoBanana.Tests.Features.Sessions;

/// <summary>User B reaches nothing of user A's: every route answers 404 exactly like an id that never existed, and changes nothing.</summary>
public sealed class IsolationTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Every_route_answers_404_to_another_user_and_changes_nothing()
    {
        var a = await RegisterUser("a");
        var b = await RegisterUser("b");
        var session = await NewSessionId(a, "A's secret session");
        var image = await SeedImage(a, session);
        var message = (await PostMessage(a, session, "A's secret xylophone", imageIds: [image]))["id"]!.GetValue<string>();
        var bImage = await SeedImage(b, await NewSessionId(b));
        var never = Guid.CreateVersion7().ToString("N");

        var routes = new (HttpMethod Method, string Url, object? Body)[]
        {
            (HttpMethod.Get, $"/api/sessions/{session}", null),
            (HttpMethod.Put, $"/api/sessions/{session}", new { title = "stolen" }),
            (HttpMethod.Patch, $"/api/sessions/{session}", new { title = "stolen" }),
            (HttpMethod.Get, $"/api/sessions/{session}/stats", null),
            (HttpMethod.Get, $"/api/sessions/{session}/messages", null),
            (HttpMethod.Post, $"/api/sessions/{session}/messages", new { role = "user", text = "intrusion" }),
            (HttpMethod.Get, $"/api/messages/{message}", null),
            (HttpMethod.Put, $"/api/messages/{message}", new { text = "changed" }),
            (HttpMethod.Get, $"/api/messages/{message}/revisions", null),
            (HttpMethod.Get, $"/api/messages/{message}/images", null),
            (HttpMethod.Post, $"/api/messages/{message}/images", new { imageId = bImage }),
            (HttpMethod.Delete, $"/api/messages/{message}/images/{image}", null),
            (HttpMethod.Delete, $"/api/messages/{message}", null),
            (HttpMethod.Delete, $"/api/sessions/{session}", null),
        };
        foreach (var (method, url, body) in routes)
        {
            var theirs = await ShouldBeProblem(await Send(b, method, url, body), 404, "not_found");
            var nowhere = await ShouldBeProblem(await Send(b, method, url.Replace(session, never).Replace(message, never), body), 404, "not_found");
            Assert.Equal(nowhere["detail"]!.ToJsonString(), theirs["detail"]!.ToJsonString());
        }

        // B's search never shows A's messages; B's own view is empty.
        var search = await Get(b, "/api/search?q=xylophone");
        Assert.Empty(search["results"]!.AsArray());
        Assert.Equal(0, (await Get(b, "/api/sessions?q=secret"))["pagination"]!["total"]!.GetValue<int>());
        Assert.Equal(1, (await Get(b, "/api/sessions"))["pagination"]!["total"]!.GetValue<int>());
        // B cannot reference A's image either.
        var bSession = await NewSessionId(b);
        await ShouldBeProblem(await Send(b, HttpMethod.Post, $"/api/sessions/{bSession}/messages", new { role = "user", text = "x", imageIds = new[] { image } }), 400, "validation_failed");

        // A's data is untouched.
        var mine = (await Get(a, $"/api/sessions/{session}"))["session"]!;
        Assert.Equal("A's secret session", Str(mine["title"]));
        Assert.Equal(1, mine["messageCount"]!.GetValue<int>());
        var msg = (await Get(a, $"/api/messages/{message}"))["messageData"]!;
        Assert.Equal("A's secret xylophone", Str(msg["text"]));
        Assert.Equal([image], msg["imageIds"]!.AsArray().Select(Str));
        Assert.Equal(1, await RefCount(a, image));
        Assert.Equal(0, await RefCount(b, bImage));
        Assert.Single((await Get(a, "/api/search?q=xylophone"))["results"]!.AsArray());
    }
}
