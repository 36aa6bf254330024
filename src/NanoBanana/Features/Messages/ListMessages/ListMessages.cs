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

public sealed record ListMessages(string SessionId, int Limit, int Offset)
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<ListMessages>
    {
        public Validator() => RuleFor(x => x.SessionId).ValidId();
    }
}

public static class ListMessagesHandler
{
    /// <summary>A page by rank in the session's message ZSET (scored by sequence): O(log n + page), one round trip.</summary>
    public static async Task<MessagesPage> Handle(ListMessages query, IDatabase db)
    {
        var r = await ChatStore.Run(db, ChatStore.MessagePageScript,
            [Keys.Session(query.UserId, query.SessionId), Keys.SessionMessages(query.UserId, query.SessionId)],
            Keys.UserScope(query.UserId), query.Offset, query.Limit);
        if ((string)r[0]! != "ok") throw ChatStore.Refusal(r);
        var messages = new List<MessageDto>(r.Length - 2);
        for (var i = 2; i < r.Length; i++) messages.Add(ChatStore.ToMessage((RedisResult[])r[i]!));
        return new MessagesPage(messages, Pagination.Of(query.Limit, query.Offset, (long)r[1]));
    }
}

public sealed class ListMessagesEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionMessageRoutes().MapGet("", async (string sessionId, string? limit, string? offset,
                HttpContext http, Caller caller, IMessageBus bus, CancellationToken ct) =>
            {
                var page = PageQuery.Read(http.Request, defaultLimit: 50);
                return TypedResults.Ok(await bus.InvokeAsync<MessagesPage>(
                    new ListMessages(sessionId, page.Limit, page.Offset) { UserId = caller.UserId }, ct));
            })
            .CachedPerUserVersion()
            .WithName("ListMessages")
            .WithSummary("A session's messages, oldest first (chat order)")
            .Produces<MessagesPage>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
