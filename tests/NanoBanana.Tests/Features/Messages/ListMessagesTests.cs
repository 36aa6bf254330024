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
    public async Task A_page_is_each_message_byte_for_byte_as_posted_also_from_records_without_their_json_copy()
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

        // Records written before the copy existed: the page reads their fields and writes the same bytes.
        foreach (var m in (await Get(user, $"/api/sessions/{id}/messages?offset=0"))["messages"]!.AsArray())
            await Redis.HashDeleteAsync(Keys.Message(user.Id, Str(m!["id"])), "json");
        Assert.Equal(expected, await Raw(user, $"/api/sessions/{id}/messages?limit=50"));
    }

    [Fact]
    public async Task Unknown_session_answers_404_and_a_malformed_id_400()
    {
        var user = await RegisterUser();
        await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/sessions/{Guid.CreateVersion7():N}/messages"), 404, "not_found");
        Assert.NotNull((await ShouldBeProblem(await Send(user, HttpMethod.Get, "/api/sessions/123/messages"), 400, "validation_failed"))["errors"]!["sessionId"]);
    }
}
