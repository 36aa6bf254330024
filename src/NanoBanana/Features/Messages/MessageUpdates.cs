using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Messages;

/// <summary>What a message change asks of the update script: only the parts given change.</summary>
public sealed record MessageChange(string? Text = null, bool SetParams = false, string Params = "", string ImageMode = "", string ImageArg = "");

/// <summary>
/// The one path for every change to an existing message (edit, attach, detach): one atomic script, which also
/// logs message_updated and session_updated when something changed. A change that changes nothing raises
/// nothing: had an earlier attempt made it, its events went in that attempt's script.
/// </summary>
public static class MessageUpdates
{
    public static async Task<MessageDataResponse> Apply(
        IDatabase db, EventLog log, TimeProvider clock, string userId, string messageId, MessageChange change)
    {
        var text = change.Text is null ? null : ChatStore.AsStored(change.Text);
        while (true)
        {
            var before = ChatStore.Fields(await db.HashGetAllAsync(Keys.Message(userId, messageId)));
            if (!before.TryGetValue("sessionId", out var sessionId)) throw ApiProblem.NotFound("message");
            var title = (string?)await db.HashGetAsync(Keys.Session(userId, sessionId), "title") ?? "";
            var r = await Attempt(log, userId, messageId, before, title, text, change, clock.GetUtcNow());
            switch ((string)r[0]!)
            {
                case "ok" or "unchanged": return new MessageDataResponse(ChatStore.ToMessage(ChatStore.Fields(r[1])));
                case "stale": continue;
                default: throw ChatStore.Refusal(r);
            }
        }
    }

    /// <summary>
    /// One run of the update script from the message's record as read (<paramref name="before"/>, with its sessionId)
    /// and its session's <paramref name="title"/>; <paramref name="text"/> is the change's text as stored, or null.
    /// The message and its session are built as the script will leave them: what it decides (times, count, image
    /// list) are holes it fills; the strings copied from the records read are checked unchanged by it, and it
    /// answers stale when one moved on (read them again), else ok, unchanged or a refusal.
    /// </summary>
    public static Task<RedisResult[]> Attempt(EventLog log, string userId, string messageId, IReadOnlyDictionary<string, string> before,
        string title, string? text, MessageChange change, DateTimeOffset now)
    {
        var sessionId = before["sessionId"];
        var after = new Dictionary<string, string>(before, StringComparer.Ordinal);
        if (text is not null) after["text"] = text;
        if (change.SetParams) after["params"] = change.Params;
        var holes = new PayloadHoles();
        var message = ChatStore.ToMessage(after) with { ImageIds = holes.Ids(1, "imageIds"), UpdatedAt = holes.Time(1, "updatedAt") };
        IUserEvent[] events =
            [new MessageUpdated(userId, message), new SessionUpdated(userId, ChatStore.SessionAfter(holes, 3, userId, sessionId, title))];

        return ChatStore.Apply(log, ChatStore.UpdateMessage, events,
            [Keys.Message(userId, messageId), Keys.MessageRevisions(userId, messageId), Keys.Session(userId, sessionId), Keys.Sessions(userId)],
            [Keys.UserScope(userId), ChatStore.Ms(now),
             text is null ? "" : "1", text ?? "", text is null ? "" : MessageRules.Terms(text),
             change.SetParams ? "1" : "", change.Params, change.ImageMode, change.ImageArg, ChatStore.MaxImagesPerMessage,
             title, before.GetValueOrDefault("text") ?? "", before.GetValueOrDefault("params") ?? ""], holes);
    }
}
