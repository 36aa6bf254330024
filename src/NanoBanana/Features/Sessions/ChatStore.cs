using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using FluentValidation;
using NanoBanana.Features.Realtime;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Sessions;

/// <summary>
/// Ids, titles and the Lua scripts of the sessions feature. All keys carry the user's hash tag (one cluster
/// slot); the per-message and per-term keys a purge reaches are built from <see cref="Keys.UserScope"/>
/// with the suffixes of <see cref="Keys"/> ("m:", "ix:", "img:"). Messages live in Features/Messages (MessageRecord).
/// </summary>
public static partial class ChatStore
{
    public const string DefaultTitle = "New Chat";

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ImageIdPattern();

    public static string NewId() => Guid.CreateVersion7().ToString("N");
    public static bool IsId(string? id) => id is not null && IdPattern().IsMatch(id);
    public static bool IsImageId(string? id) => id is not null && ImageIdPattern().IsMatch(id);

    public static IRuleBuilderOptions<T, string> ValidId<T>(this IRuleBuilder<T, string> rule) =>
        rule.Must(IsId).WithMessage("'{PropertyName}' is not a valid id.");

    public static IRuleBuilderOptions<T, string> ValidImageId<T>(this IRuleBuilder<T, string> rule) =>
        rule.Must(IsImageId).WithMessage("'{PropertyName}' is not a valid image id.");

    public static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();
    static DateTimeOffset At(string ms) => DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(ms, CultureInfo.InvariantCulture));

    // ---------- records ----------

    public static Dictionary<string, string> Fields(RedisResult flat)
    {
        var items = (RedisResult[])flat!;
        var d = new Dictionary<string, string>(items.Length / 2, StringComparer.Ordinal);
        for (int i = 0; i + 1 < items.Length; i += 2) d[(string)items[i]!] = (string?)items[i + 1] ?? "";
        return d;
    }

    public static Dictionary<string, string> Fields(HashEntry[] entries) =>
        entries.ToDictionary(e => (string)e.Name!, e => (string?)e.Value ?? "", StringComparer.Ordinal);

    public static SessionDto ToSession(string userId, IReadOnlyDictionary<string, string> h) => new(
        h["id"], userId, h["title"], At(h["createdAt"]), At(h["updatedAt"]),
        int.Parse(h["messageCount"], CultureInfo.InvariantCulture),
        h.TryGetValue("deletedAt", out var d) && d.Length > 0 ? At(d) : null);

    static bool IsLive(IReadOnlyDictionary<string, string> session) =>
        session.ContainsKey("id") && !session.ContainsKey("deletedAt");

    /// <summary>The caller's live session, or 404 (also for another user's id: the lookup goes through the caller's keys).</summary>
    public static async Task<SessionDto> LiveSession(IDatabase db, string userId, string sessionId)
    {
        var h = Fields(await db.HashGetAllAsync(Keys.Session(userId, sessionId)));
        return IsLive(h) ? ToSession(userId, h) : throw ApiProblem.NotFound("session");
    }

    /// <summary>Whether the session exists, is the caller's and is not deleted (uploads and sockets ask this).</summary>
    public static async Task<bool> IsLiveSession(IDatabase db, string userId, string sessionId)
    {
        var s = await db.HashGetAsync(Keys.Session(userId, sessionId), ["id", "deletedAt"]);
        return !s[0].IsNull && s[1].IsNull;
    }

    /// <summary>A string as Redis gives it back once stored (UTF-8: a lone surrogate comes back as U+FFFD).</summary>
    public static string AsStored(string s) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s));

    /// <summary>Runs a change that logs its events in its own script; its answer is a script answer as <see cref="Run"/> gives.</summary>
    public static async Task<RedisResult[]> Apply(EventLog log, LoggedChange change, IReadOnlyList<IUserEvent> events, RedisKey[] keys,
        RedisValue[] args, PayloadHoles? holes = null) =>
        (RedisResult[])(await FanOutHandler.AppendWith(events, change, keys, args, log, holes))!;

    /// <summary>Turns a script's refusal into the API's answer.</summary>
    public static ApiProblem Refusal(RedisResult[] r) => (string)r[0]! switch
    {
        "no_session" => ApiProblem.NotFound("session"),
        var other => throw new InvalidOperationException($"Unexpected script answer '{other}'."),
    };

    // ---------- scripts ----------

    const string Prelude = """
        local P = ARGV[1]
        local function ms(n) return string.format('%.0f', n) end
        local function later(a, b) a = tonumber(a) or 0; b = tonumber(b) or 0; if a > b then return a end return b end
        -- The session list is ordered by updatedAt: the change being made now must sort above every
        -- other session, even one touched within the same millisecond, so it moves past the newest by 1 ms.
        local function newest(sessions, at)
          local top = redis.call('ZREVRANGE', sessions, 0, 0, 'WITHSCORES')
          if top[2] and tonumber(top[2]) >= at then return tonumber(top[2]) + 1 end
          return at
        end
        local function split(s) local r = {} if s then for x in string.gmatch(s, '[^,]+') do r[#r+1] = x end end return r end
        local function live(sk) local s = redis.call('HMGET', sk, 'id', 'deletedAt') return s[1] and not s[2] end
        local function ix_remove(id, terms)
          if not terms or not id then return end
          for t in string.gmatch(terms, '%S+') do
            local k = P..'ix:'..t
            redis.call('ZREM', k, id)
            if string.sub(t, -1) ~= '*' and redis.call('EXISTS', k) == 0 then redis.call('ZREM', P..'ixv', t) end
          end
        end
        local function image_ref(id, d)
          local k = P..'img:'..id
          if redis.call('EXISTS', k) == 1 then redis.call('HINCRBY', k, 'refCount', d) end
        end

        """;

    /// <summary>
    /// KEYS: session, sessions, idempotency, its unsent mark. ARGV: scope, id, title, now, idempotency record or '', ttl ms.
    /// With a key, the unsent mark is set with the record (<see cref="OnceEvents"/>).
    /// </summary>
    public const string CreateSessionScript = Prelude + """
        if ARGV[5] ~= '' then
          local prev = redis.call('GET', KEYS[3])
          if prev then return {'idem', prev} end
          redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6])
          redis.call('SET', KEYS[4], '1', 'PX', ARGV[6])
        end
        local at = ms(newest(KEYS[2], tonumber(ARGV[4])))
        redis.call('HSET', KEYS[1], 'id', ARGV[2], 'title', ARGV[3], 'createdAt', at, 'updatedAt', at,
          'messageCount', 0, 'seq', 0, 'titled', '0')
        redis.call('ZADD', KEYS[2], at, ARGV[2])
        return {'ok', redis.call('HGETALL', KEYS[1])}
        """;

    // The changes below log their events in their own script (LoggedChange: the events are appended when the
    // change answers 1). Their payloads are built before the script, with the values it decides left to it as
    // holes (PayloadHoles: times, counts, image lists); a string a payload copies from a record that the
    // change does not write (a session's title, a message's text when the edit does not give one) is passed
    // along and checked unchanged, else the script changes nothing and answers 'stale' (build it again).

    /// <summary>KEYS: session, sessions. ARGV: scope, title, now.</summary>
    public static readonly LoggedChange RenameSession = new(Prelude + """
        if not live(KEYS[1]) then return 0, {'no_session'} end
        local at = ms(newest(KEYS[2], later(ARGV[3], redis.call('HGET', KEYS[1], 'updatedAt'))))
        redis.call('HSET', KEYS[1], 'title', ARGV[2], 'titled', '1', 'updatedAt', at)
        redis.call('ZADD', KEYS[2], at, redis.call('HGET', KEYS[1], 'id'))
        return 1, {'ok', redis.call('HGETALL', KEYS[1])}
        """);

    // The purge of a deleted session's next batch of messages (KEYS: session, session messages, sessions,
    // search numbers; the batch size in the local batch): their search entries go, their image references are
    // released. Ends with the number of messages still to purge in the local remaining.
    const string PurgeNextBatch = """
        local purged = tonumber(redis.call('HGET', KEYS[1], 'purged')) or 0
        local total = redis.call('ZCARD', KEYS[2])
        local ids = redis.call('ZRANGE', KEYS[2], purged, purged + batch - 1)
        for _, id in ipairs(ids) do
          local m = redis.call('HMGET', P..'m:'..id, 'imageIds', 'terms', 'n')
          for _, img in ipairs(split(m[1])) do image_ref(img, -1) end
          if m[3] then
            ix_remove(m[3], m[2])
            redis.call('HDEL', KEYS[4], m[3])
          end
        end
        purged = purged + #ids
        redis.call('HSET', KEYS[1], 'purged', purged)
        local remaining = total - purged

        """;

    /// <summary>
    /// KEYS: session, session messages, sessions, search numbers. ARGV: scope, now, batch size.
    /// Soft delete: marks the session deleted and takes it off the list (from then on no route reads it or
    /// its messages, and none can change them), and purges a first batch of its messages. A session larger
    /// than one batch is purged by further short scripts (<see cref="PurgeDeletedSessionScript"/>), so that
    /// no single script blocks Redis for long. Answers ok (changed: session_deleted is logged) or again (it
    /// was already deleted; a batch of an unfinished purge was done), with what remains to purge.
    /// </summary>
    public static readonly LoggedChange DeleteSession = new(Prelude + """
        local s = redis.call('HMGET', KEYS[1], 'id', 'deletedAt')
        if not s[1] then return 0, {'no_session'} end
        local changed = 0
        if not s[2] then
          redis.call('HSET', KEYS[1], 'deletedAt', ARGV[2], 'purged', 0)
          redis.call('ZREM', KEYS[3], s[1])
          changed = 1
        end
        local batch = tonumber(ARGV[3])

        """ + PurgeNextBatch + """
        if changed == 1 then return 1, {'ok', remaining} end
        return 0, {'again', remaining}
        """);

    /// <summary>KEYS: as <see cref="DeleteSession"/>. ARGV: scope, batch size. The next batch of a deleted session's purge: again|no_session, and what remains.</summary>
    public const string PurgeDeletedSessionScript = Prelude + """
        local s = redis.call('HMGET', KEYS[1], 'id', 'deletedAt')
        if not s[1] or not s[2] then return {'no_session'} end
        local batch = tonumber(ARGV[2])

        """ + PurgeNextBatch + """
        return {'again', remaining}
        """;

    public static async Task<RedisResult[]> Run(IDatabase db, string script, RedisKey[] keys, params RedisValue[] args) =>
        (RedisResult[])(await db.ScriptEvaluateAsync(script, keys, args))!;
}
