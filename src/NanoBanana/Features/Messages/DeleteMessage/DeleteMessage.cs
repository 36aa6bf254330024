using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Auth;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Messages.DeleteMessage;

public sealed record DeleteMessage(string MessageId)
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<DeleteMessage>
    {
        public Validator() => RuleFor(x => x.MessageId).ValidId();
    }
}

public static class DeleteMessageHandler
{
    /// <summary>
    /// One script: gone from the session's order, its count, the search index; its image references released;
    /// message_deleted and session_updated logged. A retry that finds it gone answers 404: its events went with it.
    /// </summary>
    public static async Task<MessageResponse> Handle(DeleteMessage cmd, IDatabase db, EventLog log, TimeProvider clock)
    {
        var (userId, messageId) = (cmd.UserId, cmd.MessageId);
        var sessionId = await ChatStore.SessionOf(db, userId, messageId);
        while (true)
        {
            var title = (string?)await db.HashGetAsync(Keys.Session(userId, sessionId), "title") ?? "";
            var r = await Attempt(log, userId, sessionId, messageId, title, clock.GetUtcNow());
            switch ((string)r[0]!)
            {
                case "ok": return new MessageResponse("Message deleted.");
                case "stale": continue;
                default: throw ChatStore.Refusal(r);
            }
        }
    }

    /// <summary>
    /// One run of the delete script. session_updated copies <paramref name="title"/>; the script checks it is still
    /// the session's title and answers stale otherwise (read it again), else ok or a refusal.
    /// </summary>
    public static Task<RedisResult[]> Attempt(EventLog log, string userId, string sessionId, string messageId, string title, DateTimeOffset now)
    {
        var holes = new PayloadHoles();
        IUserEvent[] events =
            [new MessageDeleted(userId, sessionId, messageId), new SessionUpdated(userId, ChatStore.SessionAfter(holes, 3, userId, sessionId, title))];
        RedisKey[] keys =
        [
            Keys.Message(userId, messageId), Keys.MessageRevisions(userId, messageId), Keys.Session(userId, sessionId),
            Keys.SessionMessages(userId, sessionId), Keys.Sessions(userId), Keys.SearchNumbers(userId),
        ];
        return ChatStore.Apply(log, ChatStore.DeleteMessage, events, keys, [Keys.UserScope(userId), ChatStore.Ms(now), title], holes);
    }
}

public sealed class DeleteMessageEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MessageRoutes().MapDelete("/{messageId}", async (string messageId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<MessageResponse>(new DeleteMessage(messageId) { UserId = caller.UserId }, ct)))
            .WithName("DeleteMessage")
            .WithSummary("Delete a message: gone from lists, counts and search; its images released")
            .Produces<MessageResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
