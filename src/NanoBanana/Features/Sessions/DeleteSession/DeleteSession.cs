using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Auth;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Sessions.DeleteSession;

public sealed record DeleteSession(string SessionId)
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<DeleteSession>
    {
        public Validator() => RuleFor(x => x.SessionId).ValidId();
    }
}

public static class DeleteSessionHandler
{
    /// <summary>Soft delete, in one script: gone from lists, reads and search; its messages' image references released.</summary>
    public static async Task<(MessageResponse, SessionDeleted)> Handle(DeleteSession cmd, IDatabase db, TimeProvider clock)
    {
        var r = await ChatStore.Run(db, ChatStore.DeleteSessionScript,
            [Keys.Session(cmd.UserId, cmd.SessionId), Keys.SessionMessages(cmd.UserId, cmd.SessionId), Keys.Sessions(cmd.UserId), Keys.SearchNumbers(cmd.UserId)],
            Keys.UserScope(cmd.UserId), ChatStore.Ms(clock.GetUtcNow()));
        if ((string)r[0]! != "ok") throw ChatStore.Refusal(r);
        return (new MessageResponse("Session deleted."), new SessionDeleted(cmd.UserId, cmd.SessionId));
    }
}

public sealed class DeleteSessionEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapDelete("/api/sessions/{sessionId}", async (string sessionId, HttpContext http, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<MessageResponse>(new DeleteSession(sessionId) { UserId = http.User.UserId() }, ct)))
            .RequireAuthorization()
            .WithName("DeleteSession").WithTags("Sessions")
            .WithSummary("Delete a session (soft): gone from lists, reads and search; its images released")
            .Produces<MessageResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
