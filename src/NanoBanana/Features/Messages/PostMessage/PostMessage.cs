using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Messages.PostMessage;

public sealed record PostMessage(string Role, string? Text, string[]? ImageIds, JsonNode? Params, string? EditedOf)
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
    /// One script does everything: checks (session live, images usable, editedOf in the session),
    /// then the counter, the order, the message, the search entries, the image references, the auto
    /// title and the idempotency record. 50 concurrent posts give 50 messages and a count of 50.
    /// With an Idempotency-Key the events go as <see cref="OnceEvents"/>, from the first request and
    /// from every retry: they reach the log once, also when the first request's append failed.
    /// </summary>
    public static async Task<(MessagePostedResponse, MessageCreated?, SessionUpdated?, OnceEvents?)> Handle(
        PostMessage cmd, IDatabase db, TimeProvider clock)
    {
        var (userId, sessionId) = (cmd.UserId, cmd.SessionId);
        var id = Ids.New();
        var text = cmd.Text ?? "";
        var key = cmd.IdempotencyKey ?? "-";
        var fingerprint = cmd.IdempotencyKey is null ? null : Idempotency.Fingerprint("message:" + sessionId, cmd);
        var r = await ChatStore.Run(db, ChatStore.PostMessageScript,
            [Keys.Session(userId, sessionId), Keys.SessionMessages(userId, sessionId), Keys.Sessions(userId),
             Keys.Message(userId, id), Keys.Idempotency(userId, "message", key), Keys.SearchNumbers(userId),
             Keys.IdempotencyUnsent(userId, "message", key)],
            Keys.UserScope(userId), id, sessionId, cmd.Role, text, MessageRules.ParamsJson(cmd.Params),
            string.Join(',', cmd.ImageIds ?? []), ChatStore.Ms(clock.GetUtcNow()), cmd.EditedOf ?? "",
            MessageRules.Terms(text), cmd.Role == "user" ? SessionTitles.Auto(text) : "",
            fingerprint is null ? "" : Idempotency.Record(fingerprint, id), (long)Idempotency.Lifetime.TotalMilliseconds);

        MessageDto message;
        SessionDto session;
        switch ((string)r[0]!)
        {
            case "idem":
                // A retry of a post that succeeded: the message it created and its session, as they are now.
                var first = await ChatStore.LiveMessage(db, userId, Idempotency.FirstResourceOrThrow((string)r[1]!, fingerprint!));
                message = ChatStore.ToMessage(first);
                session = await ChatStore.LiveSession(db, userId, message.SessionId);
                break;
            case "ok":
                message = ChatStore.ToMessage(ChatStore.Fields(r[1]));
                session = ChatStore.ToSession(userId, ChatStore.Fields(r[2]));
                break;
            default:
                throw ChatStore.Refusal(r);
        }
        var (created, updated) = (new MessageCreated(userId, message), new SessionUpdated(userId, session));
        var answer = new MessagePostedResponse("Message created.", message);
        return cmd.IdempotencyKey is null
            ? (answer, created, updated, null)
            : (answer, null, null, new OnceEvents(Keys.IdempotencyUnsent(userId, "message", key), [created, updated]));
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
            .WithSummary("Add a message to a session; accepts Idempotency-Key")
            .Produces<MessagePostedResponse>(201)
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404).ProducesProblem(422);
}
