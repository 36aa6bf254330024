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
    /// The whole page in one script, one snapshot: the session's state, the total, the page's ids by rank (ZSET scored
    /// by chat order, O(log n + page)) and their stored JSON; a message written before its stored JSON existed comes as
    /// its record's older JSON copy, or as its fields.
    /// </summary>
    static readonly LuaScript PageScript = LuaScript.Prepare($$"""
        local s = redis.call('HMGET', @session, 'id', 'deletedAt')
        if not s[1] or s[2] then return false end
        local first = tonumber(@offset)
        local ids = redis.call('ZRANGE', @messages, first, first + tonumber(@limit) - 1)
        local total = redis.call('ZCARD', @messages)
        if #ids == 0 then return {total} end
        local out = redis.call('HMGET', @json, unpack(ids))
        for i, id in ipairs(ids) do
          if not out[i] then
            local key = @scope .. 'm:' .. id
            local json = redis.call('HGET', key, 'json')
            if json then out[i] = json
            else
              local m = redis.call('HMGET', key, {{string.Join(", ", MessageRecord.DtoFields.Select(f => $"'{f}'"))}})
              out[i] = m[1] and m or false
            end
          end
        end
        table.insert(out, 1, total)
        return out
        """);

    public static async Task<PageJson> Handle(ListMessages query, IDatabase db)
    {
        var (limit, offset) = query.PageOf(defaultLimit: 50);
        var r = await db.ScriptEvaluateAsync(PageScript, new
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
        {
            var item = items[i];
            if (item.Resp2Type == ResultType.Array)
                messages.Add(MessageRecord.JsonBytes(MessageRecord.FromValues((RedisResult[])item!)));
            else if (!item.IsNull)
                messages.Add((ReadOnlyMemory<byte>)(RedisValue)item);
        }
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
