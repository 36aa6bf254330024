using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Messages;

/// <summary>What a message change asks of the update script: only the parts given change.</summary>
public sealed record MessageChange(string? Text = null, bool SetParams = false, string Params = "", string ImageMode = "", string ImageArg = "");

/// <summary>The one path for every change to an existing message (edit, attach, detach): one atomic script.</summary>
public static class MessageUpdates
{
    public static async Task<(MessageDataResponse, MessageUpdated?, SessionUpdated?)> Apply(
        IDatabase db, TimeProvider clock, string userId, string messageId, MessageChange change)
    {
        var sessionId = await ChatStore.SessionOf(db, userId, messageId);
        var r = await ChatStore.Run(db, ChatStore.UpdateMessageScript,
            [Keys.Message(userId, messageId), Keys.MessageRevisions(userId, messageId), Keys.Session(userId, sessionId), Keys.Sessions(userId)],
            Keys.UserScope(userId), ChatStore.Ms(clock.GetUtcNow()),
            change.Text is null ? "" : "1", change.Text ?? "", change.Text is null ? "" : MessageRules.Terms(change.Text),
            change.SetParams ? "1" : "", change.Params, change.ImageMode, change.ImageArg, ChatStore.MaxImagesPerMessage);
        var status = (string)r[0]!;
        if (status is not ("ok" or "unchanged")) throw ChatStore.Refusal(r);
        var message = ChatStore.ToMessage(ChatStore.Fields(r[1]));
        if (status == "unchanged") return (new MessageDataResponse(message), null, null);
        var session = ChatStore.ToSession(userId, ChatStore.Fields(r[2]));
        return (new MessageDataResponse(message), new MessageUpdated(userId, message), new SessionUpdated(userId, session));
    }
}
