using System.Text.Json.Nodes;
using NanoBanana.Features.Search;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Messages;

/// <summary>What a new message is decided on, read with the rest of a decision's reads (one batch).</summary>
public sealed record NewMessageBasis(Task<StoredSession?> Session, Task<DateTimeOffset> At, Task<long> Number);

/// <summary>
/// Adding a message to a session, as every slice that posts one does it (a person's post, a generation's prompt
/// and its answer): the session's count, order and auto title, the message, its search entries and its images'
/// refCounts, with message_created and session_updated, all on the caller's <see cref="UserChange"/>.
/// </summary>
public static class NewMessage
{
    public static NewMessageBasis Read(IDatabaseAsync read, string userId, string sessionId, DateTimeOffset now) =>
        new(SessionRecord.Live(read, userId, sessionId), SessionOrder.Newest(read, userId, now), SearchIndex.NextNumber(read, userId));

    /// <summary>
    /// What a change that added a message as its last write leaves (<see cref="UserChange.Carry"/>): the session as
    /// stored, which is then the newest in the list, and the message's search number.
    /// </summary>
    public sealed record Added(StoredSession Session, long Number);

    /// <summary>The order and search number <see cref="Read"/> would give the session's next message just after <paramref name="added"/>.</summary>
    public static (DateTimeOffset At, long Number) Next(Added added, DateTimeOffset now) =>
        (SessionOrder.After(added.Session.Session.UpdatedAt.ToUnixTimeMilliseconds(), now), added.Number + 1);

    /// <summary>
    /// Adds the message to <paramref name="before"/> (the live session as read) on the change; gives back the message and
    /// the session as they are stored (with the message's search number). <paramref name="at"/> and <paramref name="number"/> come from <see cref="Read"/>.
    /// </summary>
    public static (MessageDto Message, Added Added) Add(UserChange change, StoredSession before, DateTimeOffset at, long number,
        string role, string text, IReadOnlyList<string> imageIds, JsonObject? messageParams, string? editedOf)
    {
        var userId = change.Basis.UserId;
        var sessionId = before.Session.Id;
        var terms = SearchIndex.Terms(text);
        var message = MessageRecord.AsStored(new MessageDto(Ids.New(), sessionId, role, text, messageParams, imageIds, at, at, editedOf));
        // createdAt never goes backwards within a session (chat order and time order agree), and the session sorts first.
        var autoTitle = role == "user" && !before.Titled && before.Session.Title == SessionRecord.DefaultTitle
            ? StoredText.AsStored(SessionTitles.Auto(text)) : "";
        var session = before.Session with
        {
            MessageCount = before.Session.MessageCount + 1, UpdatedAt = at,
            Title = autoTitle.Length > 0 ? autoTitle : before.Session.Title,
        };
        var stored = new StoredMessage(message, at, terms, before.MessageSeq + 1, number);
        var storedSession = new StoredSession(session, before.Titled || autoTitle.Length > 0, stored.Seq);

        change.Write(tx => SessionRecord.Write(tx, storedSession))
            .Write(tx => MessageRecord.Write(tx, userId, stored))
            .Write(tx => tx.SortedSetAdd(Keys.SessionMessages(userId, sessionId), message.Id, stored.Seq))
            .Write(tx => SearchIndex.Add(tx, userId, message.Id, number, terms))
            .Raise(new MessageCreated(userId, message))
            .Raise(new SessionUpdated(userId, session));
        foreach (var image in imageIds)
            change.Write(tx => tx.HashIncrement(Keys.Image(userId, image), "refCount", 1));
        return (message, new Added(storedSession, number));
    }
}
