using System.Text.Json.Nodes;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features;
using NanoBanana.Features.Realtime;

namespace NanoBanana.Tests.Features.Sessions;

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
