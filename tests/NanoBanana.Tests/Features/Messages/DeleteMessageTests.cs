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
