using System.Text.Json.Nodes;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features;
using NanoBanana.Features.Realtime;

namespace NanoBanana.Tests.Features.Sessions;

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

    [Fact]
    public async Task The_list_writes_each_session_byte_for_byte_as_its_own_read_does()
    {
        var user = await RegisterUser();
        var created = await NewSessionId(user, "Café \"au\" lait 把背景 😀 <b>");
        var renamed = await NewSessionId(user);
        await Send(user, HttpMethod.Patch, $"/api/sessions/{renamed}", new { title = "Портрет & co" });
        // A message moves the session's fields without its stored copy: the list reads the fields then.
        var posted = await NewSessionId(user);
        await PostMessage(user, posted, "a first message titles the session");

        var list = await Raw(user, "/api/sessions");
        foreach (var id in new[] { created, renamed, posted })
        {
            var one = await Raw(user, $"/api/sessions/{id}");
            Assert.StartsWith("{\"session\":", one);
            Assert.Contains(one["{\"session\":".Length..^1], list);
        }
        Assert.Equal(3, (await Get(user, "/api/sessions"))["sessions"]!.AsArray().Count);
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
