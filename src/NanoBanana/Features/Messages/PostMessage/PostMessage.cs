using NanoBanana.Infrastructure.OpenApi;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using NanoBanana.Features.Search;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Messages.PostMessage;

public sealed record PostMessage(
    [property: AllowedValues("user", "assistant", "system")] string Role,
    string? Text = null, string[]? ImageIds = null, JsonNode? Params = null, string? EditedOf = null) : IChangesUserData
{
    [JsonIgnore] public string UserId { get; init; } = "";
    [JsonIgnore] public string SessionId { get; init; } = "";
    [JsonIgnore] public string? IdempotencyKey { get; init; }

    public sealed class Validator : AbstractValidator<PostMessage>
    {
        public Validator()
        {
            RuleFor(x => x.SessionId).ValidId();
            RuleFor(x => x.Role).Must(r => MessageRules.Roles.Contains(r)).WithMessage("'role' must be user, assistant or system.");
            RuleFor(x => x.Text).ValidText();
            RuleFor(x => x.Text).Must(t => !string.IsNullOrWhiteSpace(t))
                .When(x => x.ImageIds is null or { Length: 0 })
                .WithMessage("'text' is required when no image is attached.");
            RuleFor(x => x.ImageIds).ValidImageIds();
            RuleFor(x => x.Params).ValidParams();
            RuleFor(x => x.EditedOf!).ValidId().When(x => x.EditedOf is not null);
        }
    }
}

public static class PostMessageHandler
{
    /// <summary>
    /// Loads the session, the images and the index counter (with the basis, in one round trip), refuses early,
    /// then decides the whole post: the session's count, order and auto title, the message, its search entries,
    /// its images' refCounts and the Idempotency-Key's record, with message_created and session_updated.
    /// Concurrent posts of one user each commit on fresh data (the commit runs a post that met a moved
    /// version again), so 50 concurrent posts give 50 messages and a count of 50. A retry under a key whose
    /// first request committed gets that message as it is now, and changes nothing. A plain post (no key, image or
    /// editedOf) that follows this instance's post to the same session in the user's turn decides on what that one
    /// committed, without reading (docs/decisions.md, "Posts in a row").
    /// </summary>
    public static async Task<(MessagePostedResponse, UserChange?)> Handle(PostMessage cmd, IDatabase db, TimeProvider clock, UserTurn turn)
    {
        var (userId, sessionId) = (cmd.UserId, cmd.SessionId);
        var images = cmd.ImageIds ?? [];
        if (cmd is { IdempotencyKey: null, EditedOf: null } && images.Length == 0
            && turn.Carried is { State: NewMessage.Added added } carried && added.Session.Session.Id == sessionId)
        {
            var (at, number) = NewMessage.Next(added, clock.GetUtcNow());
            return Decide(cmd, carried.Basis, added.Session, at, number, fingerprint: null);
        }

        var fingerprint = cmd.IdempotencyKey is null ? null : Idempotency.Fingerprint("message:" + sessionId, cmd);
        var read = db.CreateBatch();
        var basisRead = UserBasis.Read(read, userId);
        var earlierRead = cmd.IdempotencyKey is null ? Task.FromResult(RedisValue.Null)
            : read.StringGetAsync(Keys.Idempotency(userId, "message", cmd.IdempotencyKey));
        var newMessage = NewMessage.Read(read, userId, sessionId, clock.GetUtcNow());
        var editedOfRead = cmd.EditedOf is null ? Task.FromResult(RedisValue.Null)
            : read.HashGetAsync(Keys.Message(userId, cmd.EditedOf), "sessionId");
        var statusReads = images.Select(i => read.HashGetAsync(Keys.Image(userId, i), "status")).ToList();
        read.Execute();
        var basis = await basisRead;

        if (await earlierRead is { HasValue: true } earlier)
        {
            var (first, _) = await MessageRecord.Live(db, userId, Idempotency.FirstResourceOrThrow(earlier!, fingerprint!));
            return (new MessagePostedResponse("Message created.", first.Message), null);
        }
        var before = await newMessage.Session ?? throw ApiProblem.NotFound("session");
        if (cmd.EditedOf is not null && await editedOfRead != sessionId)
            throw ApiProblem.Validation("editedOf", "'editedOf' must be an earlier message of the same session.");
        for (var i = 0; i < images.Length; i++)
            if ((string?)await statusReads[i] is not ("processing" or "ready"))
                throw ApiProblem.Validation("imageIds", $"Image '{images[i]}' was not found among your images, or it is not ready or processing.");
        return Decide(cmd, basis, before, await newMessage.At, await newMessage.Number, fingerprint);
    }

    static (MessagePostedResponse, UserChange) Decide(PostMessage cmd, UserBasis basis, StoredSession before, DateTimeOffset at, long number,
        string? fingerprint)
    {
        var change = basis.Change();
        var (message, added) = NewMessage.Add(change, before, at, number,
            cmd.Role, cmd.Text ?? "", cmd.ImageIds ?? [], cmd.Params as JsonObject, cmd.EditedOf);
        if (cmd.IdempotencyKey is { } key)
            change.Write(tx => tx.StringSet(Keys.Idempotency(basis.UserId, "message", key),
                Idempotency.Record(fingerprint!, message.Id), Idempotency.Lifetime));
        return (new MessagePostedResponse("Message created.", message), change.Carry(added));
    }
}

public sealed class PostMessageEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionMessageRoutes().MapPost("", async (string sessionId, PostMessage body,
                [FromHeader(Name = Idempotency.Header)] string? idempotencyKey, Caller caller, IMessageBus bus, CancellationToken ct) =>
            {
                var cmd = body with { UserId = caller.UserId, SessionId = sessionId, IdempotencyKey = Idempotency.Checked(idempotencyKey) };
                var answer = await bus.InvokeAsync<MessagePostedResponse>(cmd, ct);
                return TypedResults.Created($"/api/messages/{answer.MessageData.Id}", answer);
            })
            .WithName("PostMessage")
            .Example(new PostMessage("user", ApiExamples.Message.Text, [ApiExamples.ImageId], ApiExamples.Message.Params), new MessagePostedResponse("Message created.", ApiExamples.Message))
            .WithSummary("Add a message to a session")
            .Produces<MessagePostedResponse>(201)
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404).ProducesProblem(422);
}
