using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Auth;
using NanoBanana.Features.Sessions;
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
    /// <summary>One script: gone from the session's order, its count, the search index; its image references released.</summary>
    public static async Task<(MessageResponse, MessageDeleted, SessionUpdated)> Handle(DeleteMessage cmd, IDatabase db, TimeProvider clock)
    {
        var (userId, messageId) = (cmd.UserId, cmd.MessageId);
        var sessionId = await ChatStore.SessionOf(db, userId, messageId);
        var r = await ChatStore.Run(db, ChatStore.DeleteMessageScript,
            [Keys.Message(userId, messageId), Keys.MessageRevisions(userId, messageId), Keys.Session(userId, sessionId),
             Keys.SessionMessages(userId, sessionId), Keys.Sessions(userId), Keys.SearchNumbers(userId)],
            Keys.UserScope(userId), ChatStore.Ms(clock.GetUtcNow()));
        if ((string)r[0]! != "ok") throw ChatStore.Refusal(r);
        var session = ChatStore.ToSession(userId, ChatStore.Fields(r[1]));
        return (new MessageResponse("Message deleted."), new MessageDeleted(userId, sessionId, messageId), new SessionUpdated(userId, session));
    }
}

public sealed class DeleteMessageEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapDelete("/api/messages/{messageId}", async (string messageId, HttpContext http, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<MessageResponse>(new DeleteMessage(messageId) { UserId = http.User.UserId() }, ct)))
            .RequireAuthorization()
            .WithName("DeleteMessage").WithTags("Messages")
            .WithSummary("Delete a message: gone from lists, counts and search; its images released")
            .Produces<MessageResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
