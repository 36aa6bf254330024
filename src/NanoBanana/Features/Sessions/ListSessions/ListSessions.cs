using NanoBanana.Infrastructure.OpenApi;
using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Sessions.ListSessions;

/// <summary>The caller's live sessions, most recently updated first; <c>q</c> keeps titles containing it.</summary>
public sealed record ListSessions(string? Limit, string? Offset, string? Q) : IPageQuery
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<ListSessions>
    {
        public Validator()
        {
            this.PageRules(maxLimit: 100);
            RuleFor(x => x.Q).MaximumLength(200).WithMessage("'q' must be at most 200 characters.");
        }
    }
}

public static class ListSessionsHandler
{
    const CompareOptions TitleMatch = CompareOptions.IgnoreCase | CompareOptions.IgnoreNonSpace | CompareOptions.IgnoreWidth;

    // The whole page in one script, for a session without its stored JSON (then as SessionRecord.ListedFields), or
    // when a change committed between the ids and their JSON.
    static readonly LuaScript ItemsScript = LuaScript.Prepare("""
        local out = {redis.call('ZCARD', @sessions)}
        local ids = redis.call('ZREVRANGE', @sessions, @offset, @last)
        if #ids == 0 then return out end
        local stored = redis.call('HMGET', @json, unpack(ids))
        for i, id in ipairs(ids) do
          out[#out + 1] = stored[i] or redis.call('HMGET', @prefix .. id, 'id', 'deletedAt', 'json', 'jsonAt', 'updatedAt', 'title', 'createdAt', 'messageCount')
        end
        return out
        """);

    public static async Task<PageJson> Handle(ListSessions query, IDatabase db)
    {
        var userId = query.UserId;
        var (limit, offset) = query.PageOf(defaultLimit: 20);
        var q = query.Q?.Trim();
        if (string.IsNullOrEmpty(q))
        {
            // One consistent page without a script: the version, the total and the ids sent together, then their stored
            // JSON and the version again (every committed change moves it: docs/decisions.md, "Page reads").
            var version = Keys.UserVersion(userId);
            var sessions = Keys.Sessions(userId);
            var reads = db.CreateBatch();
            var before = reads.StringGetAsync(version);
            var totalTask = reads.SortedSetLengthAsync(sessions);
            var idsTask = reads.SortedSetRangeByRankAsync(sessions, offset, offset + limit - 1, Order.Descending);
            reads.Execute();
            var total = await totalTask;
            var ids = await idsTask;
            if (await PageAnswer.StoredItems(db, Keys.SessionsJson(userId), version, ids, before) is { } stored)
                return new PageJson(Open, stored, Pagination.Of(limit, offset, total));

            var r = (RedisResult[])(await db.ScriptEvaluateAsync(ItemsScript, new
            {
                sessions = (RedisKey)Keys.Sessions(userId),
                json = (RedisKey)Keys.SessionsJson(userId),
                prefix = Keys.Session(userId, ""),
                offset,
                last = offset + limit - 1,
            }))!;
            var listed = new List<ReadOnlyMemory<byte>>(r.Length - 1);
            for (var i = 1; i < r.Length; i++)
                if (r[i].Resp2Type == ResultType.BulkString) listed.Add((byte[])r[i]!);
                else if (SessionRecord.Listed(userId, (RedisValue[])r[i]!) is { } json) listed.Add(Encoding.UTF8.GetBytes(json));
            return new PageJson(Open, listed, Pagination.Of(limit, offset, (long)r[0]));
        }

        // A title filter reads every live title of the user: a person has hundreds of sessions, not millions.
        var all = (await db.SortedSetRangeByRankAsync(Keys.Sessions(userId), 0, -1, Order.Descending)).Select(v => v.ToString()).ToList();
        var titleBatch = db.CreateBatch();
        var titleTasks = all.Select(id => titleBatch.HashGetAsync(Keys.Session(userId, id), "title")).ToList();
        titleBatch.Execute();
        var compare = CultureInfo.InvariantCulture.CompareInfo;
        var matching = new List<string>();
        for (int i = 0; i < all.Count; i++)
        {
            var title = (string?)await titleTasks[i];
            if (title is not null && compare.IndexOf(title, q, TitleMatch) >= 0) matching.Add(all[i]);
        }
        var batch = db.CreateBatch();
        var records = matching.Skip(offset).Take(limit)
            .Select(id => batch.HashGetAsync(Keys.Session(userId, id), SessionRecord.ListedFields)).ToList();
        batch.Execute();
        var found = new List<ReadOnlyMemory<byte>>(records.Count);
        foreach (var record in records)
            if (SessionRecord.Listed(userId, await record) is { } json) found.Add(Encoding.UTF8.GetBytes(json));
        return new PageJson(Open, found, Pagination.Of(limit, offset, matching.Count));
    }

    static readonly ReadOnlyMemory<byte> Open = "{\"sessions\":["u8.ToArray(); // the answer up to its first item
}

public sealed class ListSessionsEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionRoutes().MapGet("", async (string? limit, string? offset, string? q, Caller caller, IMessageBus bus, CancellationToken ct) =>
                await bus.InvokeAsync<PageJson>(new ListSessions(limit, offset, q) { UserId = caller.UserId }, ct))
            .CachedPerUserVersion()
            .Paged(defaultLimit: 20, maxLimit: 100)
            .Query("q", "Keep the sessions whose title contains this (case-insensitive, any language).")
            .WithName("ListSessions")
            .Example(null, new SessionsPage([ApiExamples.Session], ApiExamples.Page(20, 1)))
            .WithSummary("The caller's sessions, most recently updated first; q filters titles (case-insensitive, any language)")
            .Produces<SessionsPage>()
            .ProducesValidationProblem()
            .ProducesProblem(401);
}
