using System.Text.Json;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Generation;

public static class GenerationStatus
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool Ended(string status) => status is Succeeded or Failed or Cancelled;
}

/// <summary>
/// How a generation lives in Redis: a HASH (<see cref="Keys.Generation"/>) with its <c>status</c>, its session and
/// <c>json</c>, the generation exactly as the API writes it, listed in its session's <see cref="Keys.SessionGenerations"/>
/// by createdAt. Every slice reads and writes a generation through here; writes go on a <see cref="UserChange"/>.
/// </summary>
public static class GenerationRecord
{
    /// <summary>The caller's generation, or null (also for another user's id: the lookup goes through the caller's keys).</summary>
    public static async Task<GenerationDto?> Find(IDatabaseAsync db, string userId, string generationId) =>
        await db.HashGetAsync(Keys.Generation(userId, generationId), "json") is { HasValue: true } json ? Parse(json!) : null;

    public static GenerationDto Parse(string json) => JsonSerializer.Deserialize<GenerationDto>(json, Json.Api)!;

    public static string JsonOf(GenerationDto g) => JsonSerializer.Serialize(g, Json.Api);

    /// <summary>Writes the whole record; a new one is listed in its session.</summary>
    public static void Write(RedisWrites tx, GenerationDto g)
    {
        tx.HashSet(Keys.Generation(g.UserId, g.Id), [new("status", g.Status), new("sessionId", g.SessionId), new("json", JsonOf(g))]);
        tx.SortedSetAdd(Keys.SessionGenerations(g.UserId, g.SessionId), g.Id, g.CreatedAt.ToUnixTimeMilliseconds());
    }
}
