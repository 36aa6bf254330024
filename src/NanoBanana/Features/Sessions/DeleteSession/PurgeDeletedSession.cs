using NanoBanana.Features.Search;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Sessions.DeleteSession;

/// <summary>The rest of a deleted session's purge: search entries and image references of its remaining messages.</summary>
public sealed record PurgeDeletedSession(string UserId, string SessionId) : IChangesUserData;

public static class PurgeDeletedSessionHandler
{
    public const string Queue = "session-purge";

    /// <summary>One batch per message, each its own change; the next batch is the next message, so other work of the user runs in between.</summary>
    public static async Task<(UserChange?, PurgeDeletedSession?)> Handle(PurgeDeletedSession message, IDatabase db)
    {
        var basis = await UserBasis.Read(db, message.UserId);
        var state = await SessionPurge.Load(db, message.UserId, message.SessionId);
        if (!state.Deleted || state.Remaining == 0) return (null, null);
        var change = basis.Change();
        var remaining = await SessionPurge.NextBatch(db, change, state);
        return (change, remaining > 0 ? message : null);
    }

    /// <summary>The purge runs on its own local queue, two batches at a time, beside the requests.</summary>
    public static void RoutePurgesToTheirQueue(this WolverineOptions opts) =>
        opts.PublishMessage<PurgeDeletedSession>().ToLocalQueue(Queue).MaximumParallelMessages(2);
}

/// <summary>Where a session's purge stands: <c>purged</c> of its messages (in chat order) are released so far.</summary>
public sealed record PurgeState(string UserId, string SessionId, bool Exists, bool Deleted, long Purged, long Total)
{
    public long Remaining => Math.Max(0, Total - Purged);
}

/// <summary>
/// The purge of a deleted session's messages, in batches: each message's search entries go and its image
/// references are released. The message records stay (no route reads a deleted session's messages).
/// </summary>
public static class SessionPurge
{
    /// <summary>Messages purged by one change: it stays a short transaction, well under 100 ms of Redis time.</summary>
    public const int Batch = 200;

    public static async Task<PurgeState> Load(IDatabase db, string userId, string sessionId)
    {
        var batch = db.CreateBatch();
        var fields = batch.HashGetAsync(Keys.Session(userId, sessionId), ["id", "deletedAt", "purged"]);
        var total = batch.SortedSetLengthAsync(Keys.SessionMessages(userId, sessionId));
        batch.Execute();
        var f = await fields;
        return new PurgeState(userId, sessionId, !f[0].IsNull, !f[1].IsNull, f[2].IsNull ? 0 : (long)f[2], await total);
    }

    /// <summary>Adds the purge of the next batch to <paramref name="change"/>; answers how many messages remain after it.</summary>
    public static async Task<long> NextBatch(IDatabase db, UserChange change, PurgeState state)
    {
        var (userId, sessionId) = (state.UserId, state.SessionId);
        var ids = await db.SortedSetRangeByRankAsync(Keys.SessionMessages(userId, sessionId), state.Purged, state.Purged + Batch - 1);
        var batch = db.CreateBatch();
        var records = ids.Select(id => batch.HashGetAsync(Keys.Message(userId, id.ToString()), ["imageIds", "terms", "n"])).ToList();
        batch.Execute();
        var entries = new List<(long Number, string Terms)>();
        var references = new List<string>();
        foreach (var record in records)
        {
            var m = await record;
            references.AddRange(((string?)m[0] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries));
            if (!m[2].IsNull) entries.Add(((long)m[2], (string?)m[1] ?? ""));
        }

        var unindex = await SearchIndex.Load(db, userId, entries);
        // Keys.Image's contract: a reference is a refCount moved by HINCRBY, on an image record that exists.
        var imageBatch = db.CreateBatch();
        var exists = references.Distinct().Select(id => (Id: id, Exists: imageBatch.KeyExistsAsync(Keys.Image(userId, id)))).ToList();
        imageBatch.Execute();
        var released = new List<(string Id, int Count)>();
        foreach (var (id, existsTask) in exists)
            if (await existsTask) released.Add((id, references.Count(r => r == id)));

        var purged = state.Purged + ids.Length;
        change.Write(tx => tx.HashSet(Keys.Session(userId, sessionId), "purged", purged));
        foreach (var (id, count) in released)
            change.Write(tx => tx.HashIncrement(Keys.Image(userId, id), "refCount", -count));
        foreach (var entry in unindex) change.Write(tx => SearchIndex.Remove(tx, userId, entry));
        return Math.Max(0, state.Total - purged);
    }
}
