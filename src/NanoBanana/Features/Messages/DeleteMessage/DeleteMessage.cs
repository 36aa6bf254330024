using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Auth;
using NanoBanana.Features.Sessions;
using NanoBanana.Features.Search;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Messages.DeleteMessage;

public sealed record DeleteMessage(string MessageId) : IChangesUserData
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
    /// Gone from the session's order, its count and the search index; its images' references released; message_deleted
    /// and session_updated raised. A retry that finds it gone answers 404: its events went with the first delete.
    /// </summary>
    public static async Task<(MessageResponse, UserChange)> Handle(DeleteMessage cmd, IDatabase db, TimeProvider clock)
    {
        var (userId, messageId) = (cmd.UserId, cmd.MessageId);
        var read = db.CreateBatch();
        var basisRead = UserBasis.Read(read, userId);
        var messageRead = MessageRecord.Read(read, userId, messageId);
        read.Execute();
        var basis = await basisRead;
        var message = await messageRead ?? throw ApiProblem.NotFound("message");
        var sessionId = message.Message.SessionId;

        var load = db.CreateBatch();
        var sessionRead = SessionRecord.Live(load, userId, sessionId);
        var atRead = SessionOrder.Newest(load, userId, clock.GetUtcNow());
        var imagesExist = message.Message.ImageIds.Select(i => load.KeyExistsAsync(Keys.Image(userId, i))).ToList();
        var indexRead = SearchIndex.Load(load, userId, message.Number, message.Terms);
        load.Execute();
        var before = await sessionRead ?? throw ApiProblem.NotFound("message");
        var index = await indexRead;
        var session = before.Session with { MessageCount = before.Session.MessageCount - 1, UpdatedAt = await atRead };

        var change = basis.Change()
            .Write(tx => MessageRecord.Delete(tx, userId, sessionId, messageId))
            .Write(tx => tx.SortedSetRemove(Keys.SessionMessages(userId, sessionId), messageId))
            .Write(tx => SearchIndex.Remove(tx, userId, index))
            .Write(tx => SessionRecord.Write(tx, before with { Session = session }))
            .Raise(new MessageDeleted(userId, sessionId, messageId))
            .Raise(new SessionUpdated(userId, session));
        for (var i = 0; i < imagesExist.Count; i++)
            if (await imagesExist[i])
            {
                var image = message.Message.ImageIds[i];
                change.Write(tx => tx.HashDecrement(Keys.Image(userId, image), "refCount", 1));
            }
        return (new MessageResponse("Message deleted."), change);
    }
}

public sealed class DeleteMessageEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MessageRoutes().MapDelete("/{messageId}", async (string messageId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<MessageResponse>(new DeleteMessage(messageId) { UserId = caller.UserId }, ct)))
            .WithName("DeleteMessage")
            .Example(null, new MessageResponse("Message deleted."))
            .WithSummary("Delete a message: gone from lists, counts and search; its images released")
            .Produces<MessageResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
