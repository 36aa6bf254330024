using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Messages.MessageImages;

// Three small use cases on one resource, the message's image list: read it, add one, remove one.
// Adding and removing are message updates (MessageUpdates), so refCount moves with the list, in one commit.

public sealed record ListMessageImages(string MessageId)
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<ListMessageImages>
    {
        public Validator() => RuleFor(x => x.MessageId).ValidId();
    }
}

public sealed record AttachImage(string ImageId) : IChangesUserData
{
    [JsonIgnore] public string UserId { get; init; } = "";
    [JsonIgnore] public string MessageId { get; init; } = "";

    public sealed class Validator : AbstractValidator<AttachImage>
    {
        public Validator()
        {
            RuleFor(x => x.MessageId).ValidId();
            RuleFor(x => x.ImageId).NotNull().WithMessage("'imageId' is required.").ValidId();
        }
    }
}

public sealed record DetachImage(string MessageId, string ImageId) : IChangesUserData
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<DetachImage>
    {
        public Validator()
        {
            RuleFor(x => x.MessageId).ValidId();
            RuleFor(x => x.ImageId).ValidId();
        }
    }
}

public static class ListMessageImagesHandler
{
    public static async Task<MessageImagesResponse> Handle(ListMessageImages query, IDatabase db, IImageDescriptions images, CancellationToken ct)
    {
        var (message, _) = await MessageRecord.Live(db, query.UserId, query.MessageId);
        return new MessageImagesResponse(await images.Describe(query.UserId, message.Message.ImageIds, ct));
    }
}

public static class AttachImageHandler
{
    /// <summary>Attaching an image the message already shows changes nothing (and answers 200).</summary>
    public static Task<(MessageDataResponse, UserChange?)> Handle(AttachImage cmd, IDatabase db, TimeProvider clock) =>
        MessageUpdates.Decide(db, clock, cmd.UserId, cmd.MessageId, new MessageEdit.Attach(cmd.ImageId));
}

public static class DetachImageHandler
{
    /// <summary>Detaching an image the message does not show answers 404.</summary>
    public static Task<(MessageDataResponse, UserChange?)> Handle(DetachImage cmd, IDatabase db, TimeProvider clock) =>
        MessageUpdates.Decide(db, clock, cmd.UserId, cmd.MessageId, new MessageEdit.Detach(cmd.ImageId));
}

public sealed class MessageImagesEndpoints : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var messages = app.MessageRoutes();
        messages.MapGet("/{messageId}/images", async (string messageId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<MessageImagesResponse>(new ListMessageImages(messageId) { UserId = caller.UserId }, ct)))
            .WithName("ListMessageImages")
            .Example(null, new MessageImagesResponse([ApiExamples.Image]))
            .WithSummary("The images a message references")
            .Produces<MessageImagesResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);

        messages.MapPost("/{messageId}/images", async (string messageId, AttachImage body, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<MessageDataResponse>(body with { UserId = caller.UserId, MessageId = messageId }, ct)))
            .WithName("AttachMessageImage")
            .Example(new AttachImage(ApiExamples.ImageId), new MessageDataResponse(ApiExamples.Message))
            .WithSummary("Attach one of the caller's images to a message (its refCount grows)")
            .Produces<MessageDataResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);

        messages.MapDelete("/{messageId}/images/{imageId}", async (string messageId, string imageId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<MessageDataResponse>(new DetachImage(messageId, imageId) { UserId = caller.UserId }, ct)))
            .WithName("DetachMessageImage")
            .Example(null, new MessageDataResponse(ApiExamples.Message with { ImageIds = [] }))
            .WithSummary("Detach an image from a message (its refCount shrinks)")
            .Produces<MessageDataResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
    }
}
