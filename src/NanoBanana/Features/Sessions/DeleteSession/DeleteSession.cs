using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Auth;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Realtime;
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
    /// <summary>Messages purged by one script: about 0.3 ms of Redis time each, so a script stays well under 100 ms.</summary>
    public const int PurgeBatch = 200;

    /// <summary>
    /// Soft delete: one script makes the session gone from lists, reads and search, purges the first
    /// batch of its messages (search entries, image references) and logs session_deleted. A larger session
    /// is purged after the answer, batch by batch, by <see cref="PurgeDeletedSession"/> on a local queue.
    /// Deleting an already deleted session answers 404 (its session_deleted went with the first delete), and
    /// finishes a purge an interrupted instance left unfinished.
    /// </summary>
    public static async Task<(MessageResponse, PurgeDeletedSession?)> Handle(DeleteSession cmd, IDatabase db, EventLog log, TimeProvider clock)
    {
        var r = await ChatStore.Apply(log, ChatStore.DeleteSession, [new SessionDeleted(cmd.UserId, cmd.SessionId)],
            SessionKeys(cmd.UserId, cmd.SessionId), [Keys.UserScope(cmd.UserId), ChatStore.Ms(clock.GetUtcNow()), PurgeBatch]);
        var status = (string)r[0]!;
        if (status is not ("ok" or "again")) throw ChatStore.Refusal(r);
        if (status == "again")
        {
            await new PurgeDeletedSession(cmd.UserId, cmd.SessionId).Finish(db);
            throw ApiProblem.NotFound("session");
        }
        return (new MessageResponse("Session deleted."), (long)r[1] > 0 ? new PurgeDeletedSession(cmd.UserId, cmd.SessionId) : null);
    }

    internal static RedisKey[] SessionKeys(string userId, string sessionId) =>
        [Keys.Session(userId, sessionId), Keys.SessionMessages(userId, sessionId), Keys.Sessions(userId), Keys.SearchNumbers(userId)];
}

/// <summary>The rest of a deleted session's purge: search entries and image references of its remaining messages.</summary>
public sealed record PurgeDeletedSession(string UserId, string SessionId)
{
    public async Task Finish(IDatabase db)
    {
        // Short scripts one after the other: other users' commands run in between.
        for (long remaining = 1; remaining > 0;)
        {
            var r = await ChatStore.Run(db, ChatStore.PurgeDeletedSessionScript, DeleteSessionHandler.SessionKeys(UserId, SessionId),
                Keys.UserScope(UserId), DeleteSessionHandler.PurgeBatch);
            remaining = r.Length > 1 ? (long)r[1] : 0;
        }
    }
}

public static class PurgeDeletedSessionHandler
{
    public static Task Handle(PurgeDeletedSession message, IDatabase db) => message.Finish(db);
}

public sealed class DeleteSessionEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionRoutes().MapDelete("/{sessionId}", async (string sessionId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<MessageResponse>(new DeleteSession(sessionId) { UserId = caller.UserId }, ct)))
            .WithName("DeleteSession")
            .WithSummary("Delete a session (soft): gone from lists, reads and search; its images released")
            .Produces<MessageResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
