using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Auth;
using NanoBanana.Infrastructure.Http;
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
    /// <summary>Messages purged by one script: a few tens of milliseconds of Redis time.</summary>
    public const int PurgeBatch = 500;

    /// <summary>
    /// Soft delete: one script makes the session gone from lists, reads and search and purges the first
    /// batch of its messages (search entries, image references); larger sessions are purged by further
    /// short scripts before the answer. Deleting an already deleted session answers 404, and finishes
    /// a purge that an earlier, interrupted delete left unfinished.
    /// </summary>
    public static async Task<(MessageResponse, SessionDeleted)> Handle(DeleteSession cmd, IDatabase db, TimeProvider clock)
    {
        RedisKey[] keys = [Keys.Session(cmd.UserId, cmd.SessionId), Keys.SessionMessages(cmd.UserId, cmd.SessionId),
            Keys.Sessions(cmd.UserId), Keys.SearchNumbers(cmd.UserId)];
        var r = await ChatStore.Run(db, ChatStore.DeleteSessionScript, keys,
            Keys.UserScope(cmd.UserId), ChatStore.Ms(clock.GetUtcNow()), "delete", PurgeBatch);
        var status = (string)r[0]!;
        if (status is not ("ok" or "again")) throw ChatStore.Refusal(r);
        for (var remaining = (long)r[1]; remaining > 0;)
            remaining = (long)(await ChatStore.Run(db, ChatStore.DeleteSessionScript, keys,
                Keys.UserScope(cmd.UserId), ChatStore.Ms(clock.GetUtcNow()), "continue", PurgeBatch))[1];
        if (status == "again") throw ApiProblem.NotFound("session");
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
