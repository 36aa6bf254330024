using System.Globalization;
using System.Text.Json;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Infrastructure.Realtime;

/// <summary>One stored event of a user: its seq, frame type, session scope (null: every connection) and payload JSON.</summary>
public sealed record LoggedEvent(long Seq, string Type, string? Scope, string Payload, DateTimeOffset Timestamp);

/// <summary>What a catch-up read found: the events after <c>since</c> (one page), or that the log no longer holds them.</summary>
public sealed record LogRead(IReadOnlyList<LoggedEvent> Events, long LastSeq, bool ResyncRequired);

/// <summary>
/// The per-user event log in Redis: a seq counter and a stream, both under the user's hash tag.
/// An append stores the entry, moves the counter and publishes the live message in the transaction
/// of the change that raises it, so seq order, log order and publication order are one order on
/// every instance.
/// </summary>
public sealed class EventLog(IDatabase db, RealtimeSettings settings)
{
    /// <summary>
    /// Records the append of <paramref name="events"/> (type, session scope, payload JSON) with the seqs after
    /// <paramref name="lastSeq"/> among the writes of the change raising them: each entry (id
    /// <c>&lt;seq&gt;-&lt;unix ms&gt;</c>, so a catch-up is one XRANGE from since+1) and its live message, then the
    /// counter and the log's lifetime once, by the same script as the change, or not at all. The caller guarantees
    /// <paramref name="lastSeq"/> is the user's last seq (its commit is conditioned on that).
    /// </summary>
    public void Append(RedisWrites tx, string userId, long lastSeq, DateTimeOffset at,
        IEnumerable<(string Type, string? Scope, string Payload)> events)
    {
        var ms = at.ToUnixTimeMilliseconds();
        var seq = lastSeq;
        foreach (var (type, scope, payloadJson) in events)
        {
            seq++;
            tx.StreamAdd(Keys.EventLog(userId),
                [new NameValueEntry("t", type), new NameValueEntry("s", scope ?? ""), new NameValueEntry("p", payloadJson)],
                messageId: $"{seq}-{ms}");
            tx.Publish(RedisChannel.Literal(Keys.EventChannel(userId)),
                string.Create(CultureInfo.InvariantCulture, $"e\n{seq}\n{ms}\n{type}\n{scope}\n{payloadJson}"));
        }
        if (seq == lastSeq) return;
        tx.StringSet(Keys.EventSeq(userId), seq);
        tx.KeyExpire(Keys.EventLog(userId), settings.Retention);
    }

    // Drops the entries older than the retention: only once the oldest is past retention + 1/64 of it, then a
    // binary search for the first seq inside the window (seqs are contiguous): O(log n), once per 1/64 of retention.
    static readonly LuaScript TrimScript = LuaScript.Prepare("""
        local function split(id)
          local dash = string.find(id, '-', 1, true)
          return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
        end
        local retention = tonumber(@retention)
        local cutoff = tonumber(@now) - retention
        local head = redis.call('XRANGE', @log, '-', '+', 'COUNT', 1)
        if #head == 0 then return 0 end
        local lo, headMs = split(head[1][1])
        if headMs >= cutoff - math.floor(retention / 64) then return 0 end
        local hi = tonumber(redis.call('GET', @seq))
        while lo < hi do
          local mid = math.floor((lo + hi) / 2)
          local e = redis.call('XRANGE', @log, mid, '+', 'COUNT', 1)
          local eSeq, eMs = split(e[1][1])
          if eMs >= cutoff then hi = mid else lo = eSeq + 1 end
        end
        return redis.call('XTRIM', @log, 'MINID', lo)
        """);

    /// <summary>Trims the user's log by age; run after a commit now and then (not in the commit's transaction).</summary>
    public Task Trim(string userId, DateTimeOffset now) =>
        db.ScriptEvaluateAsync(TrimScript, new
        {
            log = (RedisKey)Keys.EventLog(userId),
            seq = (RedisKey)Keys.EventSeq(userId),
            retention = (long)settings.Retention.TotalMilliseconds,
            now = now.ToUnixTimeMilliseconds(),
        });

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
