using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Messages;

/// <summary>
/// A message as stored: what the API shows, when its current text was written (revisions), its search terms,
/// its place in the session's chat order and its number in the search index.
/// </summary>
public sealed record StoredMessage(MessageDto Message, DateTimeOffset TextAt, string Terms, long Seq, long Number);

/// <summary>
/// How a message lives in Redis (<see cref="Keys.Message"/>, listed in <see cref="Keys.SessionMessages"/> by seq).
/// Every slice reads and writes a message through here. Besides its fields the message is kept exactly as the
/// API writes it, in its session's <see cref="Keys.SessionMessagesJson"/>, so a page is one HMGET of stored JSON
/// put together without re-encoding; this writer is the only one, so the copy is never stale. A message without
/// it (written before it existed) reads from its record's older <c>json</c> copy, or from its fields.
/// </summary>
public static class MessageRecord
{
    public const int MaxImages = 20;

    /// <summary>The fields a <see cref="MessageDto"/> is made of, in the order <see cref="FromValues"/> reads them.</summary>
    public static readonly string[] DtoFields = ["id", "sessionId", "role", "text", "params", "imageIds", "createdAt", "updatedAt", "editedOf"];

    /// <summary>The options the API answers with (ASP.NET's JSON defaults for responses: non-ASCII as is, plus ours).</summary>
    public static readonly JsonSerializerOptions ApiJson = CreateApiJson();

    static JsonSerializerOptions CreateApiJson()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        Json.Configure(o);
        return o;
    }

    /// <summary>A message record, whatever its session's state, or null.</summary>
    public static async Task<StoredMessage?> Read(IDatabaseAsync db, string userId, string messageId) =>
        From(await db.HashGetAllAsync(Keys.Message(userId, messageId)));

    /// <summary>The caller's message in a live session, with that session; 404 otherwise (also for another user's id).</summary>
    public static async Task<(StoredMessage Message, StoredSession Session)> Live(IDatabaseAsync db, string userId, string messageId)
    {
        var message = await Read(db, userId, messageId) ?? throw ApiProblem.NotFound("message");
        var session = await SessionRecord.Live(db, userId, message.Message.SessionId) ?? throw ApiProblem.NotFound("message");
        return (message, session);
    }

    public static StoredMessage? From(HashEntry[] entries)
    {
        if (entries.Length == 0) return null;
        var f = entries.ToDictionary(e => (string)e.Name!, e => (string?)e.Value ?? "", StringComparer.Ordinal);
        if (!f.ContainsKey("sessionId")) return null;
        var message = ToDto(f.GetValueOrDefault);
        return new StoredMessage(message,
            f.TryGetValue("textAt", out var t) && t.Length > 0 ? At(t) : message.CreatedAt,
            f.GetValueOrDefault("terms", ""), Long(f.GetValueOrDefault("seq")), Long(f.GetValueOrDefault("n")));
    }

    /// <summary>A message from the values of <see cref="DtoFields"/> (HMGET, in that order).</summary>
    public static MessageDto FromValues(RedisResult[] v) => ToDto(field => (string?)v[Array.IndexOf(DtoFields, field)]);

    static MessageDto ToDto(Func<string, string?> f)
    {
        var p = f("params");
        var e = f("editedOf");
        return new(f("id")!, f("sessionId")!, f("role")!, f("text") ?? "",
            string.IsNullOrEmpty(p) ? null : JsonNode.Parse(p) as JsonObject,
            SplitIds(f("imageIds")), At(f("createdAt")!), At(f("updatedAt")!),
            string.IsNullOrEmpty(e) ? null : e);
    }

    /// <summary>Writes the whole record and its ready-made JSON.</summary>
    public static void Write(RedisWrites tx, string userId, StoredMessage s)
    {
        var m = s.Message;
        tx.HashSet(Keys.Message(userId, m.Id),
            [
                new("id", m.Id), new("sessionId", m.SessionId), new("role", m.Role), new("text", m.Text),
                new("params", m.Params?.ToJsonString() ?? ""), new("imageIds", string.Join(',', m.ImageIds)),
                new("createdAt", Ms(m.CreatedAt)), new("updatedAt", Ms(m.UpdatedAt)), new("textAt", Ms(s.TextAt)),
                new("editedOf", m.EditedOf ?? ""), new("terms", s.Terms), new("seq", s.Seq), new("n", s.Number),
            ]);
        tx.HashSet(Keys.SessionMessagesJson(userId, m.SessionId), m.Id, JsonBytes(m));
    }

    /// <summary>Removes the record, its revisions and its JSON.</summary>
    public static void Delete(RedisWrites tx, string userId, string sessionId, string messageId)
    {
        tx.KeyDelete([Keys.Message(userId, messageId), Keys.MessageRevisions(userId, messageId)]);
        tx.HashDelete(Keys.SessionMessagesJson(userId, sessionId), messageId);
    }

    /// <summary>The message as the API writes it (UTF-8).</summary>
    public static byte[] JsonBytes(MessageDto m) => JsonSerializer.SerializeToUtf8Bytes(m, ApiJson);

    /// <summary>
    /// The message as a later read gives it back: text as Redis returns it (UTF-8: a lone surrogate becomes U+FFFD),
    /// params as their stored JSON parses. A change answers and raises what it stores.
    /// </summary>
    public static MessageDto AsStored(MessageDto m) => m with
    {
        Text = StoredText.AsStored(m.Text),
        Params = m.Params is null ? null : JsonNode.Parse(StoredText.AsStored(m.Params.ToJsonString())) as JsonObject,
    };

    public static string[] SplitIds(string? csv) =>
        string.IsNullOrEmpty(csv) ? [] : csv.Split(',', StringSplitOptions.RemoveEmptyEntries);

    static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();
    static DateTimeOffset At(string ms) => DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(ms, CultureInfo.InvariantCulture));
    static long Long(string? s) => string.IsNullOrEmpty(s) ? 0 : long.Parse(s, CultureInfo.InvariantCulture);
}
