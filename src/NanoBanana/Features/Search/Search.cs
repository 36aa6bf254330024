using NanoBanana.Infrastructure.OpenApi;
using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Search;

/// <summary><c>GET /api/search?q=</c>: the caller's live messages whose text matches every part of <c>q</c>, newest first.</summary>
public sealed record Search(string? Q, string? Limit, string? Offset) : IPageQuery
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<Search>
    {
        public Validator()
        {
            this.PageRules(maxLimit: 100);
            RuleFor(x => x.Q).Must(q => !string.IsNullOrWhiteSpace(q)).WithMessage("'q' is required: give the text to search for.")
                .MaximumLength(200).WithMessage("'q' must be at most 200 characters.");
        }
    }
}

public sealed record Highlight(int Start, int End);

public sealed record SearchResult(string MessageId, string SessionId, string SessionTitle, string Text,
    DateTimeOffset CreatedAt, IReadOnlyList<Highlight> Highlights);

/// <summary><c>{results, pagination}</c></summary>
public sealed record SearchResults(IReadOnlyList<SearchResult> Results, Pagination Pagination);

public static class SearchHandler
{
    /// <summary>A prefix matching more words than this uses the first ones in byte order (see docs/sessions.md).</summary>
    public const int MaxExpansion = 1000;

    /// <summary>
    /// The page of matching message ids, newest first, and the exact total. A group (one line of <c>@groups</c>) is the
    /// union of its terms' sets; the result is the intersection of the groups; the CJK runs of <c>@verify</c> (one a
    /// line) are checked against the text. Scratch unions live under <c>@scope ixtmp:@search:n</c>, deleted at the end.
    /// </summary>
    static readonly LuaScript MatchScript = LuaScript.Prepare("""
        local P = @scope
        local offset = tonumber(@offset)
        local limit = tonumber(@limit)
        local runs = {}
        for run in string.gmatch(@verify, '[^\n]+') do runs[#runs+1] = run end
        local sources = {}
        local scratch = {}
        for line in string.gmatch(@groups, '[^\n]+') do
          local keys = {}
          for t in string.gmatch(line, '%S+') do keys[#keys+1] = P .. 'ix:' .. t end
          if #keys == 1 then sources[#sources+1] = keys[1]
          else
            local dest = P .. 'ixtmp:' .. @search .. ':' .. (#sources + 1)
            local args = {'ZUNIONSTORE', dest, #keys}
            for _, k in ipairs(keys) do args[#args+1] = k end
            args[#args+1] = 'AGGREGATE'; args[#args+1] = 'MAX'
            redis.call(unpack(args))
            redis.call('PEXPIRE', dest, 60000) -- deleted below; the expiry only guards against an aborted script
            scratch[#scratch+1] = dest
            sources[#sources+1] = dest
          end
        end
        local groups = #sources
        local out = {0}
        if #runs == 0 and groups == 1 then
          -- one term (or one union): the total is its size, the page a range by rank
          out[1] = redis.call('ZCARD', sources[1])
          for _, n in ipairs(redis.call('ZREVRANGE', sources[1], offset, offset + limit - 1)) do
            out[#out+1] = redis.call('HGET', @numbers, n)
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
          local need = offset + limit
          if #runs == 0 then
            out[1] = redis.call('ZINTERCARD', groups, unpack(sources))
            need = math.min(need, out[1])
          else
            need = sizes[driver]
          end
          local found = 0
          local pos = 0
          local chunk = 256
          while pos < sizes[driver] and (#runs > 0 or found < need) do
            local ids = redis.call('ZREVRANGE', sources[driver], pos, pos + chunk - 1)
            for _, id in ipairs(ids) do
              local ok = true
              for _, key in ipairs(others) do
                if not redis.call('ZSCORE', key, id) then ok = false break end
              end
              if ok and #runs > 0 then
                local text = redis.call('HGET', P .. 'm:' .. (redis.call('HGET', @numbers, id) or ''), 'text') or ''
                for _, run in ipairs(runs) do if not string.find(text, run, 1, true) then ok = false break end end
              end
              if ok then
                found = found + 1
                if found > offset and found <= offset + limit then out[#out+1] = redis.call('HGET', @numbers, id) end
              end
            end
            pos = pos + chunk
            chunk = math.min(chunk * 2, 4096)
          end
          if #runs > 0 then out[1] = found end
        end
        if #scratch > 0 then redis.call('DEL', unpack(scratch)) end
        return out
        """);

    public static async Task<SearchResults> Handle(Search query, IDatabase db)
    {
        var userId = query.UserId;
        var (limit, offset) = query.PageOf(defaultLimit: 20);
        var parsed = SearchText.ParseQuery(query.Q!);
        var empty = new SearchResults([], Pagination.Of(limit, offset, 0));
        if (parsed.IsEmpty) return empty;
        if (parsed.WordCount > SearchText.MaxQueryWords)
            throw ApiProblem.Validation("q", $"'q' may hold at most {SearchText.MaxQueryWords} words.");

        // Expand word prefixes through the user's vocabulary (ZRANGEBYLEX), all in one round trip.
        var batch = db.CreateBatch();
        var expansions = parsed.Groups.Select(g => g.Prefix is null
            ? Task.FromResult(new RedisValue[] { g.Exact })
            : batch.SortedSetRangeByValueAsync(Keys.SearchVocabulary(userId),
                g.Prefix, Upper(g.Prefix), Exclude.None, Order.Ascending, 0, MaxExpansion)).ToList();
        batch.Execute();
        var terms = new List<RedisValue[]>();
        foreach (var e in expansions)
        {
            var found = await e;
            if (found.Length == 0) return empty;
            terms.Add(found);
        }

        var r = (RedisResult[])(await db.ScriptEvaluateAsync(MatchScript, new
        {
            numbers = (RedisKey)Keys.SearchNumbers(userId),
            scope = Keys.UserScope(userId),
            search = Guid.NewGuid().ToString("N"),
            groups = string.Join('\n', terms.Select(g => string.Join(' ', g))),
            offset,
            limit,
            verify = string.Join('\n', parsed.Verify),
        }))!;
        var total = (long)r[0];
        var ids = r.Skip(1).Where(x => !x.IsNull).Select(x => (string)x!).ToList();

        // The page: each message with its session's title.
        var read = db.CreateBatch();
        var messages = ids.Select(id => read.HashGetAsync(Keys.Message(userId, id), ["sessionId", "text", "createdAt"])).ToList();
        read.Execute();
        var rows = new List<(string Id, string SessionId, string Text, long CreatedAt)>();
        for (int i = 0; i < ids.Count; i++)
        {
            var m = await messages[i];
            if (m[0].IsNull) continue; // deleted since the search ran
            rows.Add((ids[i], m[0].ToString(), m[1].ToString(), long.Parse(m[2].ToString(), CultureInfo.InvariantCulture)));
        }
        var titleBatch = db.CreateBatch();
        var titles = rows.Select(x => x.SessionId).Distinct()
            .ToDictionary(s => s, s => titleBatch.HashGetAsync(Keys.Session(userId, s), ["title", "deletedAt"]));
        titleBatch.Execute();
        var results = new List<SearchResult>(rows.Count);
        foreach (var row in rows)
        {
            var session = await titles[row.SessionId];
            // A very large session being purged right now: its last entries are not gone yet, hide them.
            if (!session[1].IsNull) continue;
            var highlights = SearchText.Highlights(row.Text, parsed).Select(h => new Highlight(h.Start, h.End)).ToList();
            results.Add(new SearchResult(row.Id, row.SessionId, session[0].ToString(), row.Text,
                DateTimeOffset.FromUnixTimeMilliseconds(row.CreatedAt), highlights));
        }
        return new SearchResults(results, Pagination.Of(limit, offset, total));
    }

    /// <summary>The upper bound of a lexicographic prefix range: the prefix followed by byte 0xFF, above any UTF-8 continuation.</summary>
    static RedisValue Upper(string prefix)
    {
        var bytes = Encoding.UTF8.GetBytes(prefix);
        var upper = new byte[bytes.Length + 1];
        bytes.CopyTo(upper, 0);
        upper[^1] = 0xFF;
        return upper;
    }
}

public sealed class SearchEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SearchRoutes().MapGet("", async (string? q, string? limit, string? offset, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<SearchResults>(new Search(q, limit, offset) { UserId = caller.UserId }, ct)))
            .WithName("Search")
            .Example(null, new SearchResults([new SearchResult(ApiExamples.MessageId, ApiExamples.SessionId, ApiExamples.Session.Title, ApiExamples.Message.Text, ApiExamples.Message.CreatedAt, [new Highlight(9, 12)])], ApiExamples.Page(20, 1)))
            .WithSummary("Search the caller's messages: CJK by any 2+ character substring, other scripts by word prefix, case- and accent-insensitive")
            .Paged(defaultLimit: 20, maxLimit: 100)
            .Query("q", "The words or characters to find.")
            .Produces<SearchResults>()
            .ProducesValidationProblem()
            .ProducesProblem(401);
}
