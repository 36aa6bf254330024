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

/// <summary>A page of messages as the API writes it (UTF-8 JSON <c>{messages, pagination}</c>): the stored messages put together.</summary>
public sealed record MessagesPageJson(byte[] Utf8);

public static class ListMessagesHandler
{
    /// <summary>
    /// One consistent page in one round trip: O(log n + page) by rank in the session's message ZSET (scored by chat
    /// order), then the page's stored JSON in one HMGET, answered as one string (the items joined with commas).
    /// A message written before that copy existed comes as its record's older JSON copy, or as its fields: then
    /// the page comes item by item.
    /// </summary>
    static readonly LuaScript PageScript = LuaScript.Prepare($$"""
        local s = redis.call('HMGET', @session, 'id', 'deletedAt')
        if not s[1] or s[2] then return false end
        local first = tonumber(@offset)
        local total = redis.call('ZCARD', @messages)
        local ids = redis.call('ZRANGE', @messages, first, first + tonumber(@limit) - 1)
        if #ids == 0 then return {total, ''} end
        local stored = redis.call('HMGET', @json, unpack(ids))
        local items, whole = {}, true
        for i, id in ipairs(ids) do
          local json = stored[i]
          if json then items[#items+1] = json
          else
            local key = @scope .. 'm:' .. id
            json = redis.call('HGET', key, 'json')
            if json then items[#items+1] = json
            else
              local m = redis.call('HMGET', key, {{string.Join(", ", MessageRecord.DtoFields.Select(f => $"'{f}'"))}})
              if m[1] then items[#items+1] = m; whole = false end
            end
          end
        end
        if whole then return {total, table.concat(items, ',')} end
        return {total, items}
        """);

    public static async Task<MessagesPageJson> Handle(ListMessages query, IDatabase db)
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
        var answer = (RedisResult[])r!;
        var pagination = Pagination.Of(limit, offset, (long)answer[0]);
        if (answer[1].Resp2Type == ResultType.BulkString)
            return new MessagesPageJson(PageAnswer.Compose(Open, ((ReadOnlyMemory<byte>)(RedisValue)answer[1]).Span, pagination));

        var items = (RedisResult[])answer[1]!;
        return new MessagesPageJson(PageAnswer.Compose(Open, items.Select(item => item.Resp2Type == ResultType.Array
            ? MessageRecord.JsonBytes(MessageRecord.FromValues((RedisResult[])item!))
            : (byte[])item!).ToList(), pagination));
    }

    static ReadOnlySpan<byte> Open => "{\"messages\":["u8;
}

public sealed class ListMessagesEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionMessageRoutes().MapGet("", async (string sessionId, string? limit, string? offset,
                Caller caller, IMessageBus bus, CancellationToken ct) =>
            {
                var answer = await bus.InvokeAsync<MessagesPageJson>(
                    new ListMessages(sessionId, limit, offset) { UserId = caller.UserId }, ct);
                return TypedResults.Bytes(answer.Utf8, "application/json; charset=utf-8");
            })
            .CachedPerUserVersion()
            .Paged(defaultLimit: 50, maxLimit: 100)
            .WithName("ListMessages")
            .Example(null, new MessagesPage([ApiExamples.Message], ApiExamples.Page(50, 1)))
            .WithSummary("A session's messages, oldest first (chat order)")
            .Produces<MessagesPage>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
