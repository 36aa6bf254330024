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
/// Appending assigns the seq, stores the entry, trims by age and publishes the live message in
/// one script, so seq order, log order and publication order are the same order on every instance.
/// </summary>
public sealed class EventLog(IDatabase db, RealtimeSettings settings)
{
    // The append, as a Lua function so that a script which changes data can log its event in the same
    // step (LoggedChange). The entry id is <seq>-<unix ms>: ordered by seq (so a catch-up is one XRANGE
    // from since+1) and carrying the time the trim compares against the cutoff.
    // Trimming only starts when the oldest entry is older than retention + 1/64 of it, then binary
    // searches the first seq inside the window: amortised O(log n), one run per 1/64 of retention.
    internal const string AppendFunction = """
        local function append_event(seqKey, logKey, channel, retention, eventType, scope, payload)
          local t = redis.call('TIME')
          local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
          local seq = redis.call('INCR', seqKey)
          redis.call('XADD', logKey, seq .. '-' .. now, 't', eventType, 's', scope, 'p', payload)
          redis.call('PEXPIRE', logKey, retention)
          local function split(id)
            local dash = string.find(id, '-', 1, true)
            return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
          end
          local cutoff = now - retention
          local head = redis.call('XRANGE', logKey, '-', '+', 'COUNT', 1)
          local lo, headMs = split(head[1][1])
          if headMs < cutoff - math.floor(retention / 64) then
            local hi = seq
            while lo < hi do
              local mid = math.floor((lo + hi) / 2)
              local e = redis.call('XRANGE', logKey, mid, '+', 'COUNT', 1)
              local eSeq, eMs = split(e[1][1])
              if eMs >= cutoff then hi = mid else lo = eSeq + 1 end
            end
            redis.call('XTRIM', logKey, 'MINID', lo)
          end
          redis.call('PUBLISH', channel, 'e\n' .. seq .. '\n' .. now .. '\n' .. eventType .. '\n' .. scope .. '\n' .. payload)
          return {seq, now}
        end
        """;

    // KEYS: seq counter, stream. ARGV: type, scope ('' = user-wide), payload, retention ms, channel.
    const string AppendScript = AppendFunction + "\n" + """
        return append_event(KEYS[1], KEYS[2], ARGV[5], tonumber(ARGV[4]), ARGV[1], ARGV[2], ARGV[3])
        """;

    public async Task<LoggedEvent> Append(string userId, string type, string? scope, string payloadJson)
    {
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(AppendScript,
            AppendKeys(userId), AppendArgs(userId, type, scope, payloadJson)))!;
        return new LoggedEvent((long)result[0], type, scope, payloadJson, DateTimeOffset.FromUnixTimeMilliseconds((long)result[1]));
    }

    /// <summary>
    /// Runs <paramref name="change"/> on the user's data and, when it answers 1, appends
    /// <paramref name="events"/> (in list order) in the same script: the change and its events are one
    /// write, never one without the other. <paramref name="keys"/> must carry the user's hash tag (one
    /// slot, also on Redis Cluster). A payload may leave values to the script (<paramref name="holes"/>):
    /// they are filled from the data as the change left it. Returns what the change answered (its answer
    /// when it gives one, see <see cref="LoggedChange"/>).
    /// </summary>
    public async Task<RedisResult> Apply(LoggedChange change, string userId, RedisKey[] keys, RedisValue[] args,
        IReadOnlyList<(string Type, string? Scope, string Payload)> events, PayloadHoles? holes = null)
    {
        var payloads = holes is null ? events.Select(e => e.Payload).ToList() : holes.Open(events.Select(e => e.Payload));
        var eventArgs = new List<RedisValue>(3 + 3 * events.Count + args.Length)
            { (long)settings.Retention.TotalMilliseconds, Keys.EventChannel(userId), events.Count };
        for (var i = 0; i < events.Count; i++) eventArgs.AddRange([events[i].Type, events[i].Scope ?? "", payloads[i]]);
        eventArgs.AddRange(args);
        return await db.ScriptEvaluateAsync(change.Script, [.. AppendKeys(userId), .. keys], [.. eventArgs]);
    }

    static RedisKey[] AppendKeys(string userId) => [Keys.EventSeq(userId), Keys.EventLog(userId)];

    RedisValue[] AppendArgs(string userId, string type, string? scope, string payloadJson) =>
        [type, scope ?? "", payloadJson, (long)settings.Retention.TotalMilliseconds, Keys.EventChannel(userId)];

    /// <summary>
    /// Queues the append of one event with its known <paramref name="seq"/> on a transaction that also writes
    /// the change raising it: the entry (id <c>&lt;seq&gt;-&lt;unix ms&gt;</c>, so a catch-up is one XRANGE from
    /// since+1), the counter and the live message are written by the same EXEC as the change, or not at all.
    /// The caller guarantees <paramref name="seq"/> is the user's last seq + 1 (its transaction is conditioned on that).
    /// </summary>
    public Task[] Append(IDatabaseAsync tx, string userId, long seq, DateTimeOffset at, string type, string? scope, string payloadJson)
    {
        var ms = at.ToUnixTimeMilliseconds();
        return
        [
            tx.StreamAddAsync(Keys.EventLog(userId),
                [new NameValueEntry("t", type), new NameValueEntry("s", scope ?? ""), new NameValueEntry("p", payloadJson)],
                messageId: $"{seq}-{ms}"),
            tx.StringSetAsync(Keys.EventSeq(userId), seq),
            tx.KeyExpireAsync(Keys.EventLog(userId), settings.Retention),
            tx.PublishAsync(RedisChannel.Literal(Keys.EventChannel(userId)),
                string.Create(CultureInfo.InvariantCulture, $"e\n{seq}\n{ms}\n{type}\n{scope}\n{payloadJson}")),
        ];
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

/// <summary>
/// A change to a user's data whose events are appended in the same script (<see cref="EventLog.Apply"/>),
/// for a change that a retry could not tell apart from one whose events went out: work that runs again
/// after a failure finds the change made and raises nothing. <paramref name="lua"/> is the body of a Lua
/// function of its own <c>KEYS</c> and <c>ARGV</c> (numbered from 1) that returns 1 when it changed the
/// data (the events are appended then) and another number when it did not; it may return an answer for
/// the caller as a second value (<c>return 1, {'ok', ...}</c>), which the script then answers instead.
/// </summary>
public sealed class LoggedChange(string lua)
{
    // KEYS: seq counter, stream, then the change's keys.
    // ARGV: retention ms, channel, event count n, n times (type, scope, payload), then the change's arguments.
    internal string Script { get; } = EventLog.AppendFunction + "\n" + PayloadHoles.FillFunction + "\n" + $$"""
        local function change(KEYS, ARGV)
        {{lua}}
        end
        local n = tonumber(ARGV[3])
        local keys, args = {}, {}
        for i = 3, #KEYS do keys[#keys + 1] = KEYS[i] end
        for i = 4 + 3 * n, #ARGV do args[#args + 1] = ARGV[i] end
        local result, answer = change(keys, args)
        if result == 1 then
          for e = 0, n - 1 do
            local at = 4 + 3 * e
            append_event(KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[1]), ARGV[at], ARGV[at + 1], fill_holes(ARGV[at + 2], keys))
          end
        end
        if answer == nil then return result end
        return answer
        """;
}

/// <summary>
/// The values of an event's payload that only the change's script decides (a time it places above the
/// newest session, a count it moves, an image list it edits), for a change whose events are appended in
/// its own script. The payload is serialized as usual with a stand-in for each such value (a random time,
/// count or id list: <see cref="Time"/>, <see cref="Count"/>, <see cref="Ids"/>); each stand-in becomes a
/// hole naming a field of one of the change's keys, and the script fills the hole from that field as
/// the change left it, in the form the API's serializer writes (Json.UtcMillisecondsConverter, a JSON
/// number, a JSON array of strings). Everything else in the payload, strings above all, is serialized
/// by the API's own serializer, so the stored payload is byte for byte what the serializer would write.
/// </summary>
public sealed class PayloadHoles
{
    // A hole is \u0001<kind>:<key>:<field>\u0001. The serializer never writes a raw control character
    // (it escapes them in strings), so a hole cannot be confused with content.
    internal const string FillFunction = """
        local function iso_ms(ms)
          -- unix ms -> yyyy-MM-ddTHH:mm:ss.fffZ (civil from days, proleptic Gregorian)
          local s = math.floor(ms / 1000)
          local days = math.floor(s / 86400)
          local sod = s - days * 86400
          local z = days + 719468
          local era = math.floor(z / 146097)
          local doe = z - era * 146097
          local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
          local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
          local mp = math.floor((5 * doy + 2) / 153)
          local d = doy - math.floor((153 * mp + 2) / 5) + 1
          local m = mp < 10 and mp + 3 or mp - 9
          local y = yoe + era * 400
          if m <= 2 then y = y + 1 end
          return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d,
            math.floor(sod / 3600), math.floor(sod % 3600 / 60), sod % 60, ms - s * 1000)
        end
        local function fill_holes(payload, keys)
          if not string.find(payload, '\1', 1, true) then return payload end
          return (string.gsub(payload, '\1(%a):(%d+):([%w_]+)\1', function(kind, k, field)
            local v = redis.call('HGET', keys[tonumber(k)], field)
            if kind == 't' then return '"' .. iso_ms(tonumber(v)) .. '"' end
            if kind == 'n' then return v end
            local items = {}
            for id in string.gmatch(v or '', '[^,]+') do items[#items + 1] = '"' .. id .. '"' end
            return '[' .. table.concat(items, ',') .. ']'
          end))
        end
        """;

    readonly List<(string StandIn, string Hole)> _holes = [];

    /// <summary>A time the script decides: field <paramref name="field"/> (unix ms) of the change's key number <paramref name="key"/> (from 1).</summary>
    public DateTimeOffset Time(int key, string field)
    {
        // Before 1970: no time the product stores, and random, so no payload holds it by chance.
        var standIn = DateTimeOffset.FromUnixTimeMilliseconds(-Random.Shared.NextInt64(1, 62_000_000_000_000));
        _holes.Add((JsonSerializer.Serialize(standIn, Json.Storage), Hole('t', key, field)));
        return standIn;
    }

    /// <summary>A count the script decides: field <paramref name="field"/> (an integer) of the change's key number <paramref name="key"/>.</summary>
    public int Count(int key, string field)
    {
        var standIn = -Random.Shared.Next(1_000_000_000, int.MaxValue);
        _holes.Add((standIn.ToString(CultureInfo.InvariantCulture), Hole('n', key, field)));
        return standIn;
    }

    /// <summary>
    /// A list of ids the script decides: field <paramref name="field"/> (comma-separated ids of <c>[A-Za-z0-9_-]</c>,
    /// which JSON writes as they are) of the change's key number <paramref name="key"/>.
    /// </summary>
    public IReadOnlyList<string> Ids(int key, string field)
    {
        string[] standIn = [Guid.NewGuid().ToString("N")];
        _holes.Add((JsonSerializer.Serialize(standIn, Json.Storage), Hole('l', key, field)));
        return standIn;
    }

    static string Hole(char kind, int key, string field) => $"\u0001{kind}:{key}:{field}\u0001";

    /// <summary>The payloads with each stand-in replaced by its hole; each stand-in must be in them exactly once.</summary>
    internal List<string> Open(IEnumerable<string> payloads)
    {
        var opened = payloads.ToList();
        foreach (var (standIn, hole) in _holes)
        {
            var found = opened.Select((p, i) => (Index: i, Count: Occurrences(p, standIn))).Where(x => x.Count > 0).ToList();
            if (found is not [{ Count: 1 } one])
                throw new InvalidOperationException($"A payload stand-in was found {found.Sum(x => x.Count)} times instead of once.");
            opened[one.Index] = opened[one.Index].Replace(standIn, hole, StringComparison.Ordinal);
        }
        return opened;
    }

    static int Occurrences(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal)) count++;
        return count;
    }
}
