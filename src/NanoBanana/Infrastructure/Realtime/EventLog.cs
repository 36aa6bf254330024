using System.Globalization;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Infrastructure.Realtime;

/// <summary>One stored event of a user: its seq, frame type, session scope (null: every connection) and payload JSON.</summary>
public sealed record LoggedEvent(long Seq, string Type, string? Scope, string Payload, DateTimeOffset Timestamp);

/// <summary>What a catch-up read found: the events after <c>since</c> (one page), or that the log no longer holds them.</summary>
public sealed record LogRead(IReadOnlyList<LoggedEvent> Events, long LastSeq, bool ResyncRequired);

/// <summary>
/// The per-user event log in Redis: a seq counter and a stream, both under the user's hash tag.
/// Appending assigns the seq, stores the entry, trims by age and publishes the live message in
/// one script, so seq order, log order and publication order are the same order on every instance.
/// </summary>
public sealed class EventLog(IDatabase db, RealtimeSettings settings)
{
    // KEYS: seq counter, stream. ARGV: type, scope ('' = user-wide), payload, retention ms, channel.
    // The entry id is <seq>-<unix ms>: ordered by seq (so a catch-up is one XRANGE from since+1)
    // and carrying the time the trim compares against the cutoff.
    // Trimming only starts when the oldest entry is older than retention + 1/64 of it, then binary
    // searches the first seq inside the window: amortised O(log n), one run per 1/64 of retention.
    const string AppendScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local seq = redis.call('INCR', KEYS[1])
        redis.call('XADD', KEYS[2], seq .. '-' .. now, 't', ARGV[1], 's', ARGV[2], 'p', ARGV[3])
        local retention = tonumber(ARGV[4])
        redis.call('PEXPIRE', KEYS[2], retention)
        local function split(id)
          local dash = string.find(id, '-', 1, true)
          return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
        end
        local cutoff = now - retention
        local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
        local lo, headMs = split(head[1][1])
        if headMs < cutoff - math.floor(retention / 64) then
          local hi = seq
          while lo < hi do
            local mid = math.floor((lo + hi) / 2)
            local e = redis.call('XRANGE', KEYS[2], mid, '+', 'COUNT', 1)
            local eSeq, eMs = split(e[1][1])
            if eMs >= cutoff then hi = mid else lo = eSeq + 1 end
          end
          redis.call('XTRIM', KEYS[2], 'MINID', lo)
        end
        redis.call('PUBLISH', ARGV[5], 'e\n' .. seq .. '\n' .. now .. '\n' .. ARGV[1] .. '\n' .. ARGV[2] .. '\n' .. ARGV[3])
        return {seq, now}
        """;

    public async Task<LoggedEvent> Append(string userId, string type, string? scope, string payloadJson)
    {
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(AppendScript,
            [Keys.EventSeq(userId), Keys.EventLog(userId)],
            [type, scope ?? "", payloadJson, (long)settings.Retention.TotalMilliseconds, Keys.EventChannel(userId)]))!;
        return new LoggedEvent((long)result[0], type, scope, payloadJson, DateTimeOffset.FromUnixTimeMilliseconds((long)result[1]));
    }

    /// <summary>The user's last assigned seq (0 before the first event).</summary>
    public async Task<long> LastSeq(string userId) =>
        (long?)await db.StringGetAsync(Keys.EventSeq(userId)) ?? 0;

    /// <summary>
    /// Up to <paramref name="limit"/> events after <paramref name="since"/>, oldest first. Seqs are
    /// contiguous, so the log still covers <c>since</c> exactly when it holds <c>since + 1</c>; when it
    /// does not (trimmed by age, or a since from the future after a data reset) the reader must resync.
    /// </summary>
    public async Task<LogRead> Read(string userId, long since, int limit)
    {
        var lastSeq = await LastSeq(userId);
        if (since > lastSeq) return new LogRead([], lastSeq, ResyncRequired: true);
        if (since == lastSeq) return new LogRead([], lastSeq, ResyncRequired: false);

        var entries = await db.StreamRangeAsync(Keys.EventLog(userId), $"{since + 1}", "+", limit);
        var events = entries.Select(Parse).ToList();
        var gap = events.Count == 0 || events[0].Seq != since + 1;
        return new LogRead(gap ? [] : events, Math.Max(lastSeq, events.LastOrDefault()?.Seq ?? 0), gap);
    }

    /// <summary>
    /// Reads a message of the user's live channel: an event as the append script publishes it,
    /// <c>e\n&lt;seq&gt;\n&lt;unix ms&gt;\n&lt;type&gt;\n&lt;scope&gt;\n&lt;payload&gt;</c> (scope empty: user-wide).
    /// Null for the channel's other messages (typing). A malformed event throws <see cref="FormatException"/>.
    /// </summary>
    public static LoggedEvent? ParseLive(string message)
    {
        if (!message.StartsWith("e\n", StringComparison.Ordinal)) return null;
        var parts = message.Split('\n', 6);
        if (parts.Length != 6) throw new FormatException("A live event has six lines: e, seq, unix ms, type, scope, payload.");
        return new LoggedEvent(
            long.Parse(parts[1], CultureInfo.InvariantCulture), parts[3],
            parts[4].Length == 0 ? null : parts[4], parts[5],
            DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(parts[2], CultureInfo.InvariantCulture)));
    }

    static LoggedEvent Parse(StreamEntry e)
    {
        var id = e.Id.ToString();
        var dash = id.IndexOf('-');
        string? Field(string name) => e.Values.FirstOrDefault(v => v.Name == name).Value;
        var scope = Field("s");
        return new LoggedEvent(
            long.Parse(id.AsSpan(0, dash), CultureInfo.InvariantCulture),
            Field("t") ?? "",
            string.IsNullOrEmpty(scope) ? null : scope,
            Field("p") ?? "null",
            DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(id.AsSpan(dash + 1), CultureInfo.InvariantCulture)));
    }
}
