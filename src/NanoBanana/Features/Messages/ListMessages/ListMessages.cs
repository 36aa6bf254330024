using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Messages.ListMessages;

public sealed record ListMessages(string SessionId, string? Limit, string? Offset) : IPageQuery
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<ListMessages>
    {
        public Validator()
        {
            RuleFor(x => x.SessionId).ValidId();
            this.PageRules(maxLimit: 100);
        }
    }
}

public static class ListMessagesHandler
{
    /// <summary>
    /// The whole page in one script, item by item: for a message written before its stored JSON existed (it comes as
    /// its record's older JSON copy, or as its fields), or when a change committed between the ids and their JSON.
    /// </summary>
    static readonly LuaScript ItemsScript = LuaScript.Prepare($$"""
        local s = redis.call('HMGET', @session, 'id', 'deletedAt')
        if not s[1] or s[2] then return false end
        local first = tonumber(@offset)
        local out = {redis.call('ZCARD', @messages)}
        local ids = redis.call('ZRANGE', @messages, first, first + tonumber(@limit) - 1)
        if #ids == 0 then return out end
        local stored = redis.call('HMGET', @json, unpack(ids))
        for i, id in ipairs(ids) do
          local json = stored[i]
          if json then out[#out+1] = json
          else
            local key = @scope .. 'm:' .. id
            json = redis.call('HGET', key, 'json')
            if json then out[#out+1] = json
            else
              local m = redis.call('HMGET', key, {{string.Join(", ", MessageRecord.DtoFields.Select(f => $"'{f}'"))}})
              if m[1] then out[#out+1] = m end
            end
          end
        end
        return out
        """);

    /// <summary>
    /// One consistent page without a script: the user's change version, the session's state, the total and the page's
    /// ids by rank (ZSET scored by chat order, O(log n + page)), sent together; then the ids' stored JSON (one HMGET) and
    /// the version again. Every committed change moves the version, so an unchanged one means all reads saw the same
    /// data (docs/decisions.md, "Page reads").
    /// </summary>
    public static async Task<PageJson> Handle(ListMessages query, IDatabase db)
    {
        var (limit, offset) = query.PageOf(defaultLimit: 50);
        var version = Keys.UserVersion(query.UserId);
        var messages = Keys.SessionMessages(query.UserId, query.SessionId);
        var reads = db.CreateBatch();
        var before = reads.StringGetAsync(version);
        var sessionTask = reads.HashGetAsync(Keys.Session(query.UserId, query.SessionId), SessionState);
        var totalTask = reads.SortedSetLengthAsync(messages);
        var idsTask = reads.SortedSetRangeByRankAsync(messages, offset, offset + limit - 1);
        reads.Execute();
        var session = await sessionTask;
        var total = await totalTask;
        var ids = await idsTask;
        if (session[0].IsNull || !session[1].IsNull) throw ApiProblem.NotFound("session");

        return await PageAnswer.StoredItems(db, Keys.SessionMessagesJson(query.UserId, query.SessionId), version, ids, before) is { } stored
            ? new PageJson(Open, stored, Pagination.Of(limit, offset, total))
            : await ItemByItem(query, db, limit, offset);
    }

    static readonly RedisValue[] SessionState = ["id", "deletedAt"];

    static async Task<PageJson> ItemByItem(ListMessages query, IDatabase db, int limit, int offset)
    {
        var r = await db.ScriptEvaluateAsync(ItemsScript, new
        {
            session = (RedisKey)Keys.Session(query.UserId, query.SessionId),
            messages = (RedisKey)Keys.SessionMessages(query.UserId, query.SessionId),
            json = (RedisKey)Keys.SessionMessagesJson(query.UserId, query.SessionId),
            scope = Keys.UserScope(query.UserId),
            offset,
            limit,
        });
        if (r.IsNull) throw ApiProblem.NotFound("session");
        var items = (RedisResult[])r!;
        var messages = new List<ReadOnlyMemory<byte>>(items.Length - 1);
        for (var i = 1; i < items.Length; i++)
            messages.Add(items[i].Resp2Type == ResultType.Array
                ? MessageRecord.JsonBytes(MessageRecord.FromValues((RedisResult[])items[i]!))
                : (byte[])items[i]!);
        return new PageJson(Open, messages, Pagination.Of(limit, offset, (long)items[0]));
    }

    static readonly ReadOnlyMemory<byte> Open = "{\"messages\":["u8.ToArray(); // the answer up to its first item
}

public sealed class ListMessagesEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionMessageRoutes().MapGet("", async (string sessionId, string? limit, string? offset,
                Caller caller, IMessageBus bus, CancellationToken ct) =>
                await bus.InvokeAsync<PageJson>(new ListMessages(sessionId, limit, offset) { UserId = caller.UserId }, ct))
            .CachedPerUserVersion()
            .Paged(defaultLimit: 50, maxLimit: 100)
            .WithName("ListMessages")
            .Example(null, new MessagesPage([ApiExamples.Message], ApiExamples.Page(50, 1)))
            .WithSummary("A session's messages, oldest first (chat order)")
            .Produces<MessagesPage>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
