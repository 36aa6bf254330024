using System.Globalization;
using System.Text.Json;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Sessions;

/// <summary>A session as stored: what the API shows, whether its title was given (no auto title then), and its message sequence (chat order).</summary>
public sealed record StoredSession(SessionDto Session, bool Titled, long MessageSeq);

/// <summary>
/// How a session lives in Redis (<see cref="Keys.Session"/>, listed in <see cref="Keys.Sessions"/> by updatedAt).
/// Every slice that changes a session reads and writes it through here. Beside its fields the session is kept
/// as the API writes it in the user's <see cref="Keys.SessionsJson"/>, so a list page is one HMGET of stored JSON.
/// A session without that copy (written before it existed) is listed from its record: its older <c>json</c>
/// copy when made for its <c>updatedAt</c> (<c>jsonAt</c>), else its fields.
/// </summary>
public static class SessionRecord
{
    public const string DefaultTitle = "New Chat";

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

    /// <summary>Whether the session exists, is the caller's and is not deleted (uploads and sockets ask this).</summary>
    public static async Task<bool> IsLive(IDatabaseAsync db, string userId, string sessionId)
    {
        var s = await db.HashGetAsync(Keys.Session(userId, sessionId), ["id", "deletedAt"]);
        return !s[0].IsNull && s[1].IsNull;
    }

    /// <summary>Writes the whole record and its place in the list (a live session).</summary>
    public static void Write(RedisWrites tx, StoredSession s)
    {
        var (session, userId) = (s.Session, s.Session.UserId);
        tx.HashSet(Keys.Session(userId, session.Id),
            [
                new("id", session.Id), new("title", session.Title), new("createdAt", Ms(session.CreatedAt)),
                new("updatedAt", Ms(session.UpdatedAt)), new("messageCount", session.MessageCount),
                new("seq", s.MessageSeq), new("titled", s.Titled ? "1" : "0"),
            ]);
        tx.HashSet(Keys.SessionsJson(userId), session.Id, JsonOf(session));
        tx.SortedSetAdd(Keys.Sessions(userId), session.Id, Ms(session.UpdatedAt));
    }

    /// <summary>
    /// Marks the session deleted (soft) and takes it off the list; its messages are purged after (<see cref="Keys.Session"/>'s
    /// <c>purged</c>). The stored JSON of the session and of its messages goes now: no route reads a deleted session.
    /// </summary>
    public static void WriteDeleted(RedisWrites tx, string userId, string sessionId, DateTimeOffset at)
    {
        tx.HashSet(Keys.Session(userId, sessionId), [new("deletedAt", Ms(at)), new("purged", 0)]);
        tx.SortedSetRemove(Keys.Sessions(userId), sessionId);
        tx.HashDelete(Keys.SessionsJson(userId), sessionId);
        tx.KeyDelete(Keys.SessionMessagesJson(userId, sessionId));
    }

    /// <summary>The fields a listed session is read from (<see cref="Listed"/>), in this order.</summary>
    public static readonly RedisValue[] ListedFields = ["id", "deletedAt", "json", "jsonAt", "updatedAt", "title", "createdAt", "messageCount"];

    /// <summary>
    /// A listed session without its copy in <see cref="Keys.SessionsJson"/>, as the API writes it, from the values of
    /// <see cref="ListedFields"/>: the record's older copy when it was made for its updatedAt, else built from the
    /// fields. Null when the session is gone or deleted.
    /// </summary>
    public static string? Listed(string userId, RedisValue[] v)
    {
        if (v[0].IsNull || !v[1].IsNull) return null;
        if (!v[2].IsNull && v[3] == v[4]) return v[2]!;
        return JsonOf(new SessionDto(v[0]!, userId, v[5]!, At(v[6]!), At(v[4]!),
            (int)v[7], DeletedAt: null));
    }

    /// <summary>The session as the API writes it.</summary>
    public static string JsonOf(SessionDto session) => JsonSerializer.Serialize(session, Json.Api);

    static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();
    static DateTimeOffset At(string ms) => DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(ms, CultureInfo.InvariantCulture));
}
