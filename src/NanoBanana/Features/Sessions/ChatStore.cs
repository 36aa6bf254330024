using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FluentValidation;
using NanoBanana.Features.Realtime;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Sessions;

/// <summary>
/// How sessions and messages live in Redis, and the Lua scripts that change them. Every change that
/// touches more than one key (counter, order, search index, image references, idempotency record)
/// is one script, so it is atomic: concurrent posts cannot lose a count, and a message is never
/// visible without its index entries. All keys carry the user's hash tag (one cluster slot); the
/// per-message, per-term and per-image keys a script reaches are built from <see cref="Keys.UserScope"/>
/// with the suffixes of <see cref="Keys"/> ("m:", "ix:", "img:").
/// </summary>
public static partial class ChatStore
{
    public const int MaxImagesPerMessage = 20;

    public static IRuleBuilderOptions<T, string> ValidImageId<T>(this IRuleBuilder<T, string> rule) =>
        rule.Must(Ids.IsValid).WithMessage("'{PropertyName}' is not a valid image id.");

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

    public static MessageDto ToMessage(IReadOnlyDictionary<string, string> h) => new(
        h["id"], h["sessionId"], h["role"], h["text"],
        h.TryGetValue("params", out var p) && p.Length > 0 ? JsonNode.Parse(p) as JsonObject : null,
        SplitIds(h.GetValueOrDefault("imageIds")),
        At(h["createdAt"]), At(h["updatedAt"]),
        h.TryGetValue("editedOf", out var e) && e.Length > 0 ? e : null);

    /// <summary>A message as <see cref="MessagePageScript"/> reads it: the values of <see cref="MessageDtoFields"/>, in that order.</summary>
    public static MessageDto ToMessage(RedisResult[] v)
    {
        string? S(int i) => (string?)v[i];
        var p = S(4);
        var e = S(8);
        return new(S(0)!, S(1)!, S(2)!, S(3) ?? "",
            string.IsNullOrEmpty(p) ? null : JsonNode.Parse(p) as JsonObject,
            SplitIds(S(5)), At(S(6)!), At(S(7)!),
            string.IsNullOrEmpty(e) ? null : e);
    }

    /// <summary>The message fields a <see cref="MessageDto"/> is made of, in the order <see cref="ToMessage(RedisResult[])"/> reads them.</summary>
    public static readonly string[] MessageDtoFields = ["id", "sessionId", "role", "text", "params", "imageIds", "createdAt", "updatedAt", "editedOf"];

    public static string[] SplitIds(string? csv) =>
        string.IsNullOrEmpty(csv) ? [] : csv.Split(',', StringSplitOptions.RemoveEmptyEntries);

    static bool IsLive(IReadOnlyDictionary<string, string> session) =>
        session.ContainsKey("id") && !session.ContainsKey("deletedAt");

    /// <summary>The caller's live session, or 404 (also for another user's id: the lookup goes through the caller's keys).</summary>
    public static async Task<SessionDto> LiveSession(IDatabase db, string userId, string sessionId)
    {
        var h = Fields(await db.HashGetAllAsync(Keys.Session(userId, sessionId)));
        return IsLive(h) ? ToSession(userId, h) : throw ApiProblem.NotFound("session");
    }

    /// <summary>The caller's message in a live session, or 404.</summary>
    public static async Task<Dictionary<string, string>> LiveMessage(IDatabase db, string userId, string messageId)
    {
        var m = Fields(await db.HashGetAllAsync(Keys.Message(userId, messageId)));
        if (!m.TryGetValue("sessionId", out var sessionId)) throw ApiProblem.NotFound("message");
        var s = await db.HashGetAsync(Keys.Session(userId, sessionId), ["id", "deletedAt"]);
        if (s[0].IsNull || !s[1].IsNull) throw ApiProblem.NotFound("message");
        return m;
    }

    /// <summary>The session a message belongs to (it never changes), or 404.</summary>
    public static async Task<string> SessionOf(IDatabase db, string userId, string messageId)
    {
        var sessionId = await db.HashGetAsync(Keys.Message(userId, messageId), "sessionId");
        return sessionId.IsNullOrEmpty ? throw ApiProblem.NotFound("message") : sessionId.ToString();
    }

    /// <summary>
    /// The session as a change's script leaves it, for an event logged in that script: its times and count are
    /// holes the script fills from the session's record (the change's key number <paramref name="sessionKey"/>);
    /// <paramref name="title"/> is the title the record holds after the change.
    /// </summary>
    public static SessionDto SessionAfter(PayloadHoles holes, int sessionKey, string userId, string sessionId, string title) =>
        new(sessionId, userId, title, holes.Time(sessionKey, "createdAt"), holes.Time(sessionKey, "updatedAt"),
            holes.Count(sessionKey, "messageCount"), DeletedAt: null);

    /// <summary>A string as Redis gives it back once stored (UTF-8: a lone surrogate comes back as U+FFFD).</summary>
    public static string AsStored(string s) => StoredText.AsStored(s);

    /// <summary>Runs a change that logs its events in its own script; its answer is a script answer as <see cref="Run"/> gives.</summary>
    public static async Task<RedisResult[]> Apply(EventLog log, LoggedChange change, IReadOnlyList<IUserEvent> events, RedisKey[] keys,
        RedisValue[] args, PayloadHoles? holes = null) =>
        (RedisResult[])(await FanOutHandler.AppendWith(events, change, keys, args, log, holes))!;

    /// <summary>Turns a script's refusal into the API's answer.</summary>
    public static ApiProblem Refusal(RedisResult[] r) => (string)r[0]! switch
    {
        "no_session" => ApiProblem.NotFound("session"),
        "no_message" => ApiProblem.NotFound("message"),
        "no_image" => ApiProblem.NotFound("image"),
        "bad_image" => ApiProblem.Validation("imageIds",
            $"Image '{(string)r[1]!}' was not found among your images, or it is not ready or processing."),
        "bad_edited_of" => ApiProblem.Validation("editedOf", "'editedOf' must be an earlier message of the same session."),
        "too_many_images" => ApiProblem.Validation("imageIds", $"A message references at most {MaxImagesPerMessage} images."),
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
        local function index_of(list, x) for i, v in ipairs(list) do if v == x then return i end end return nil end
        local function live(sk) local s = redis.call('HMGET', sk, 'id', 'deletedAt') return s[1] and not s[2] end
        local function ix_add(id, score, terms)
          if not terms then return end
          for t in string.gmatch(terms, '%S+') do
            redis.call('ZADD', P..'ix:'..t, score, id)
            -- the vocabulary lists words and CJK terms for prefix expansion, not the prefix terms ("br*")
            if string.sub(t, -1) ~= '*' then redis.call('ZADD', P..'ixv', 0, t) end
          end
        end
        local function ix_remove(id, terms)
          if not terms or not id then return end
          for t in string.gmatch(terms, '%S+') do
            local k = P..'ix:'..t
            redis.call('ZREM', k, id)
            if string.sub(t, -1) ~= '*' and redis.call('EXISTS', k) == 0 then redis.call('ZREM', P..'ixv', t) end
          end
        end
        local function image_usable(id)
          local st = redis.call('HGET', P..'img:'..id, 'status')
          return st == 'processing' or st == 'ready'
        end
        local function image_ref(id, d)
          local k = P..'img:'..id
          if redis.call('EXISTS', k) == 1 then redis.call('HINCRBY', k, 'refCount', d) end
        end

        """;

    /// <summary>
    /// KEYS: session, session messages, sessions, message, idempotency, search numbers, idempotency's unsent mark.
    /// ARGV: scope, id, sessionId, role, text, params, imageIds csv, now, editedOf, terms, auto title, idempotency record or '', ttl ms.
    /// Checks everything first and writes only when every check passed: a refused post changes nothing.
    /// With a key, the unsent mark is set with the record (<see cref="OnceEvents"/>).
    /// </summary>
    public const string PostMessageScript = Prelude + """
        if ARGV[12] ~= '' then
          local prev = redis.call('GET', KEYS[5])
          if prev then return {'idem', prev} end
        end
        if not live(KEYS[1]) then return {'no_session'} end
        if ARGV[9] ~= '' and redis.call('HGET', P..'m:'..ARGV[9], 'sessionId') ~= ARGV[3] then return {'bad_edited_of'} end
        local images = split(ARGV[7])
        for _, img in ipairs(images) do if not image_usable(img) then return {'bad_image', img} end end
        local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
        redis.call('HINCRBY', KEYS[1], 'messageCount', 1)
        -- createdAt never goes backwards within a session, so chat order and time order agree.
        local at = ms(newest(KEYS[3], later(ARGV[8], redis.call('HGET', KEYS[1], 'updatedAt'))))
        redis.call('HSET', KEYS[1], 'updatedAt', at)
        if ARGV[4] == 'user' and ARGV[11] ~= '' and redis.call('HGET', KEYS[1], 'titled') ~= '1'
           and redis.call('HGET', KEYS[1], 'title') == 'New Chat' then
          redis.call('HSET', KEYS[1], 'title', ARGV[11], 'titled', '1')
        end
        -- the index names messages by a short per-user number (newest = highest), not by their 32-character id
        local n = redis.call('HINCRBY', KEYS[6], 'next', 1)
        redis.call('HSET', KEYS[6], n, ARGV[2])
        redis.call('HSET', KEYS[4], 'id', ARGV[2], 'sessionId', ARGV[3], 'role', ARGV[4], 'text', ARGV[5],
          'params', ARGV[6], 'imageIds', ARGV[7], 'createdAt', at, 'updatedAt', at, 'textAt', at,
          'editedOf', ARGV[9], 'terms', ARGV[10], 'seq', seq, 'n', n)
        redis.call('ZADD', KEYS[2], seq, ARGV[2])
        redis.call('ZADD', KEYS[3], at, ARGV[3])
        for _, img in ipairs(images) do image_ref(img, 1) end
        ix_add(n, n, ARGV[10])
        if ARGV[12] ~= '' then
          redis.call('SET', KEYS[5], ARGV[12], 'PX', ARGV[13])
          redis.call('SET', KEYS[7], '1', 'PX', ARGV[13])
        end
        return {'ok', redis.call('HGETALL', KEYS[4]), redis.call('HGETALL', KEYS[1])}
        """;

    /// <summary>
    /// KEYS: message, revisions, session, sessions.
    /// ARGV: scope, now, has text '1'|'', text, terms, has params '1'|'', params, image mode ''|set|attach|detach, image arg, max images,
    /// then what the events copy: the session's title, the message's text (when none is given), its params (when none are given).
    /// Answers ok (changed: message_updated and session_updated are logged), unchanged, stale, or a refusal.
    /// </summary>
    public static readonly LoggedChange UpdateMessage = new(Prelude + """
        if redis.call('EXISTS', KEYS[1]) == 0 or not live(KEYS[3]) then return 0, {'no_message'} end
        local m = redis.call('HMGET', KEYS[1], 'n', 'text', 'imageIds', 'terms', 'textAt', 'updatedAt', 'createdAt', 'params')
        local old = split(m[3])
        local new = old
        local mode = ARGV[8]
        if mode == 'set' then new = split(ARGV[9])
        elseif mode == 'attach' then
          if not index_of(old, ARGV[9]) then new = {unpack(old)}; new[#new+1] = ARGV[9] end
        elseif mode == 'detach' then
          local i = index_of(old, ARGV[9])
          if not i then return 0, {'no_image'} end
          new = {unpack(old)}; table.remove(new, i)
        end
        if #new > tonumber(ARGV[10]) then return 0, {'too_many_images'} end
        for _, img in ipairs(new) do
          if not index_of(old, img) and not image_usable(img) then return 0, {'bad_image', img} end
        end
        local newcsv = table.concat(new, ',')
        local imagesChanged = newcsv ~= (m[3] or '')
        local textChanged = ARGV[3] == '1' and ARGV[4] ~= m[2]
        local paramsChanged = ARGV[6] == '1' and ARGV[7] ~= (m[8] or '')
        if not (imagesChanged or textChanged or paramsChanged) then
          return 0, {'unchanged', redis.call('HGETALL', KEYS[1])}
        end
        if redis.call('HGET', KEYS[3], 'title') ~= ARGV[11] or (ARGV[3] ~= '1' and (m[2] or '') ~= ARGV[12])
           or (ARGV[6] ~= '1' and (m[8] or '') ~= ARGV[13]) then return 0, {'stale'} end
        local at = ms(later(ARGV[2], m[6]))
        for _, img in ipairs(new) do if not index_of(old, img) then image_ref(img, 1) end end
        for _, img in ipairs(old) do if not index_of(new, img) then image_ref(img, -1) end end
        if textChanged then
          -- the text being replaced becomes a revision: (when it was written, what it said)
          redis.call('RPUSH', KEYS[2], m[5], m[2])
          ix_remove(m[1], m[4])
          ix_add(m[1], m[1], ARGV[5])
          redis.call('HSET', KEYS[1], 'text', ARGV[4], 'textAt', at, 'terms', ARGV[5])
        end
        if paramsChanged then redis.call('HSET', KEYS[1], 'params', ARGV[7]) end
        redis.call('HSET', KEYS[1], 'imageIds', newcsv, 'updatedAt', at)
        local sat = ms(newest(KEYS[4], later(at, redis.call('HGET', KEYS[3], 'updatedAt'))))
        redis.call('HSET', KEYS[3], 'updatedAt', sat)
        redis.call('ZADD', KEYS[4], sat, redis.call('HGET', KEYS[3], 'id'))
        return 1, {'ok', redis.call('HGETALL', KEYS[1])}
        """);

    /// <summary>
    /// KEYS: message, revisions, session, session messages, sessions, search numbers. ARGV: scope, now, the session's
    /// title (session_updated copies it). Answers ok (changed: message_deleted and session_updated are logged), stale, or no_message.
    /// </summary>
    public static readonly LoggedChange DeleteMessage = new(Prelude + """
        if redis.call('EXISTS', KEYS[1]) == 0 or not live(KEYS[3]) then return 0, {'no_message'} end
        if redis.call('HGET', KEYS[3], 'title') ~= ARGV[3] then return 0, {'stale'} end
        local m = redis.call('HMGET', KEYS[1], 'id', 'imageIds', 'terms', 'n')
        for _, img in ipairs(split(m[2])) do image_ref(img, -1) end
        ix_remove(m[4], m[3])
        redis.call('HDEL', KEYS[6], m[4])
        redis.call('ZREM', KEYS[4], m[1])
        redis.call('DEL', KEYS[1], KEYS[2])
        redis.call('HINCRBY', KEYS[3], 'messageCount', -1)
        local sat = ms(newest(KEYS[5], later(ARGV[2], redis.call('HGET', KEYS[3], 'updatedAt'))))
        redis.call('HSET', KEYS[3], 'updatedAt', sat)
        redis.call('ZADD', KEYS[5], sat, redis.call('HGET', KEYS[3], 'id'))
        return 1, {'ok'}
        """);

    /// <summary>
    /// KEYS: session, session messages. ARGV: scope, offset, limit. One consistent page: O(log n + page).
    /// Each message comes as the values of <see cref="MessageDtoFields"/> (HMGET, in that order), not HGETALL:
    /// the record also holds its search terms, its number and sequence, which a page does not show.
    /// </summary>
    public static readonly string MessagePageScript = Prelude + $$"""
        if not live(KEYS[1]) then return {'no_session'} end
        local total = redis.call('ZCARD', KEYS[2])
        local first = tonumber(ARGV[2])
        local out = {'ok', total}
        for _, id in ipairs(redis.call('ZRANGE', KEYS[2], first, first + tonumber(ARGV[3]) - 1)) do
          local m = redis.call('HMGET', P..'m:'..id, {{string.Join(", ", MessageDtoFields.Select(f => $"'{f}'"))}})
          if m[1] then out[#out+1] = m end
        end
        return out
        """;

    /// <summary>
    /// KEYS: result scratch, one scratch per group, search numbers, then the term keys of every group in order.
    /// ARGV: scope, group count, offset, limit, verify count, the term count of each group, the CJK runs to verify.
    /// A group is the union of its terms; the result is the intersection of the groups, newest first.
    /// </summary>
    public const string SearchScript = Prelude + """
        local groups = tonumber(ARGV[2])
        local offset = tonumber(ARGV[3])
        local limit = tonumber(ARGV[4])
        local nverify = tonumber(ARGV[5])
        local sources = {}
        local numbers = KEYS[groups + 2]
        local k = groups + 3
        for g = 1, groups do
          local n = tonumber(ARGV[5 + g])
          if n == 1 then sources[g] = KEYS[k]
          else
            local args = {'ZUNIONSTORE', KEYS[1 + g], n}
            for i = 0, n - 1 do args[#args+1] = KEYS[k + i] end
            args[#args+1] = 'AGGREGATE'; args[#args+1] = 'MAX'
            redis.call(unpack(args))
            redis.call('PEXPIRE', KEYS[1 + g], 60000) -- deleted below; the expiry only guards against an aborted script
            sources[g] = KEYS[1 + g]
          end
          k = k + n
        end
        local out = {0}
        if nverify == 0 and groups == 1 then
          -- one term (or one union): the total is its size, the page a range by rank
          out[1] = redis.call('ZCARD', sources[1])
          for _, n in ipairs(redis.call('ZREVRANGE', sources[1], offset, offset + limit - 1)) do
            out[#out+1] = redis.call('HGET', numbers, n)
          end
        else
          -- Several groups: walk the smallest newest first and keep the ids every other group has
          -- (O(1) ZSCORE lookups), verifying CJK runs against the text when asked. Without runs to
          -- verify, the total is ZINTERCARD (counted inside Redis, nothing stored) and the walk stops
          -- once the page is full; with runs, every candidate is verified so the total stays exact.
          local sizes = {}
          for g = 1, groups do sizes[g] = redis.call('ZCARD', sources[g]) end
          local driver = 1
          for g = 2, groups do if sizes[g] < sizes[driver] then driver = g end end
          local others = {}
          for g = 1, groups do if g ~= driver then others[#others+1] = sources[g] end end
          local runs = {}
          for i = 1, nverify do runs[i] = ARGV[5 + groups + i] end
          local need = offset + limit
          if nverify == 0 then
            local args = {'ZINTERCARD', groups}
            for g = 1, groups do args[#args+1] = sources[g] end
            out[1] = redis.call(unpack(args))
            need = math.min(need, out[1])
          else
            need = sizes[driver]
          end
          local found = 0
          local pos = 0
          local chunk = 256
          while pos < sizes[driver] and (nverify > 0 or found < need) do
            local ids = redis.call('ZREVRANGE', sources[driver], pos, pos + chunk - 1)
            for _, id in ipairs(ids) do
              local ok = true
              for _, key in ipairs(others) do
                if not redis.call('ZSCORE', key, id) then ok = false break end
              end
              if ok and nverify > 0 then
                local text = redis.call('HGET', P..'m:'..(redis.call('HGET', numbers, id) or ''), 'text') or ''
                for _, run in ipairs(runs) do if not string.find(text, run, 1, true) then ok = false break end end
              end
              if ok then
                found = found + 1
                if found > offset and found <= offset + limit then out[#out+1] = redis.call('HGET', numbers, id) end
              end
            end
            pos = pos + chunk
            chunk = math.min(chunk * 2, 4096)
          end
          if nverify > 0 then out[1] = found end
        end
        for g = 1, groups + 1 do redis.call('DEL', KEYS[g]) end
        return out
        """;

    public static async Task<RedisResult[]> Run(IDatabase db, string script, RedisKey[] keys, params RedisValue[] args) =>
        (RedisResult[])(await db.ScriptEvaluateAsync(script, keys, args))!;
}
