using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using Carter;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Search;

/// <summary><c>GET /api/search?q=</c>: the caller's live messages whose text matches every part of <c>q</c>, newest first.</summary>
public sealed record Search(string Q, int Limit, int Offset)
{
    [JsonIgnore] public string UserId { get; init; } = "";
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

    public static async Task<SearchResults> Handle(Search query, IDatabase db)
    {
        var userId = query.UserId;
        var parsed = SearchText.ParseQuery(query.Q);
        var empty = new SearchResults([], Pagination.Of(query.Limit, query.Offset, 0));
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

        var searchId = Guid.NewGuid().ToString("N");
        var keys = new List<RedisKey>();
        for (int i = 0; i <= terms.Count; i++) keys.Add(Keys.SearchScratch(userId, searchId, i));
        keys.Add(Keys.SearchNumbers(userId));
        foreach (var group in terms)
            foreach (var t in group) keys.Add(Keys.SearchTerm(userId, t.ToString()));
        var args = new List<RedisValue> { Keys.UserScope(userId), terms.Count, query.Offset, query.Limit, parsed.Verify.Count };
        args.AddRange(terms.Select(g => (RedisValue)g.Length));
        args.AddRange(parsed.Verify.Select(v => (RedisValue)v));
        var r = await ChatStore.Run(db, ChatStore.SearchScript, [.. keys], [.. args]);
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
        return new SearchResults(results, Pagination.Of(query.Limit, query.Offset, total));
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
        app.SearchRoutes().MapGet("", async (string? q, string? limit, string? offset, HttpContext http, Caller caller, IMessageBus bus, CancellationToken ct) =>
            {
                var page = PageQuery.Read(http.Request, defaultLimit: 20);
                var text = PageQuery.Text(http.Request, "q", 200);
                if (string.IsNullOrWhiteSpace(text)) throw ApiProblem.Validation("q", "'q' is required: give the text to search for.");
                return TypedResults.Ok(await bus.InvokeAsync<SearchResults>(
                    new Search(text, page.Limit, page.Offset) { UserId = caller.UserId }, ct));
            })
            .WithName("Search")
            .WithSummary("Search the caller's messages: CJK by any 2+ character substring, other scripts by word prefix, case- and accent-insensitive")
            .Produces<SearchResults>()
            .ProducesValidationProblem()
            .ProducesProblem(401);
}
