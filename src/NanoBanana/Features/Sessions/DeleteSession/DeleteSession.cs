using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Auth;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Sessions.DeleteSession;

public sealed record DeleteSession(string SessionId) : IChangesUserData
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<DeleteSession>
    {
        public Validator() => RuleFor(x => x.SessionId).ValidId();
    }
}

/// <summary>What a delete found: the session deleted now, or deleted before (the route answers 404 then).</summary>
public sealed record DeleteSessionOutcome(bool Deleted);

public static class DeleteSessionHandler
{
    /// <summary>
    /// Soft delete: one change makes the session gone from lists, reads and search, purges the first batch of
    /// its messages (search entries, image references) and raises session_deleted. A larger session is purged
    /// after the answer, batch by batch (<see cref="PurgeDeletedSession"/>). Deleting an already deleted session
    /// changes nothing (the route answers 404) and queues the rest of a purge an interrupted instance left.
    /// </summary>
    public static async Task<(DeleteSessionOutcome, UserChange?, PurgeDeletedSession?)> Handle(DeleteSession cmd, IDatabase db, TimeProvider clock)
    {
        var basis = await UserBasis.Read(db, cmd.UserId);
        var state = await SessionPurge.Load(db, cmd.UserId, cmd.SessionId);
        if (!state.Exists) throw ApiProblem.NotFound("session");
        var rest = new PurgeDeletedSession(cmd.UserId, cmd.SessionId);
        if (state.Deleted) return (new DeleteSessionOutcome(false), null, state.Remaining > 0 ? rest : null);

        var change = basis.Change()
            .Write(tx => SessionRecord.WriteDeleted(tx, cmd.UserId, cmd.SessionId, clock.GetUtcNow()))
            .Raise(new SessionDeleted(cmd.UserId, cmd.SessionId));
        var remaining = await SessionPurge.NextBatch(db, change, state);
        return (new DeleteSessionOutcome(true), change, remaining > 0 ? rest : null);
    }
}

public sealed class DeleteSessionEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionRoutes().MapDelete("/{sessionId}", async (string sessionId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                (await bus.InvokeAsync<DeleteSessionOutcome>(new DeleteSession(sessionId) { UserId = caller.UserId }, ct)).Deleted
                    ? TypedResults.Ok(new MessageResponse("Session deleted."))
                    : throw ApiProblem.NotFound("session"))
            .WithName("DeleteSession")
            .Example(null, new MessageResponse("Session deleted."))
            .WithSummary("Delete a session (soft): gone from lists, reads and search; its images released")
            .Produces<MessageResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
