using System.Globalization;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Sessions;

/// <summary>A session as stored: what the API shows, whether its title was given (no auto title then), and its message sequence (chat order).</summary>
public sealed record StoredSession(SessionDto Session, bool Titled, long MessageSeq);

/// <summary>
/// How a session lives in Redis (<see cref="Keys.Session"/>, listed in <see cref="Keys.Sessions"/> by updatedAt).
/// Every slice that changes a session reads and writes it through here.
/// </summary>
public static class SessionRecord
{
    /// <summary>The caller's live session, or null (also for another user's id: the lookup goes through the caller's keys).</summary>
    public static async Task<StoredSession?> Live(IDatabaseAsync db, string userId, string sessionId)
    {
        var h = await db.HashGetAllAsync(Keys.Session(userId, sessionId));
        if (h.Length == 0) return null;
        var f = h.ToDictionary(e => (string)e.Name!, e => (string?)e.Value ?? "", StringComparer.Ordinal);
        if (f.ContainsKey("deletedAt") || !f.ContainsKey("id")) return null;
        return new StoredSession(
            new SessionDto(f["id"], userId, f["title"], At(f["createdAt"]), At(f["updatedAt"]),
                int.Parse(f["messageCount"], CultureInfo.InvariantCulture), DeletedAt: null),
            f.GetValueOrDefault("titled") == "1",
            long.Parse(f.GetValueOrDefault("seq", "0"), CultureInfo.InvariantCulture));
    }

    /// <summary>Writes the whole record and its place in the list (a live session).</summary>
    public static Task Write(IDatabaseAsync tx, StoredSession s)
    {
        var (session, userId) = (s.Session, s.Session.UserId);
        return Task.WhenAll(
            tx.HashSetAsync(Keys.Session(userId, session.Id),
            [
                new("id", session.Id), new("title", session.Title), new("createdAt", Ms(session.CreatedAt)),
                new("updatedAt", Ms(session.UpdatedAt)), new("messageCount", session.MessageCount),
                new("seq", s.MessageSeq), new("titled", s.Titled ? "1" : "0"),
            ]),
            tx.SortedSetAddAsync(Keys.Sessions(userId), session.Id, Ms(session.UpdatedAt)));
    }

    /// <summary>Writes a new title and updatedAt, and the session's place in the list, leaving its other fields as they are.</summary>
    public static Task WriteTitle(IDatabaseAsync tx, SessionDto session, bool titled) =>
        Task.WhenAll(
            tx.HashSetAsync(Keys.Session(session.UserId, session.Id),
                [new("title", session.Title), new("titled", titled ? "1" : "0"), new("updatedAt", Ms(session.UpdatedAt))]),
            tx.SortedSetAddAsync(Keys.Sessions(session.UserId), session.Id, Ms(session.UpdatedAt)));

    static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();
    static DateTimeOffset At(string ms) => DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(ms, CultureInfo.InvariantCulture));
}
