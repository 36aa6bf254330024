using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Messages.EditMessage;

/// <summary>PUT <c>{text?, params?, imageIds?}</c>: only what is given changes; a new text keeps the old one as a revision.</summary>
public sealed record EditMessage(string? Text = null, JsonNode? Params = null, string[]? ImageIds = null) : IChangesUserData
{
    [JsonIgnore] public string UserId { get; init; } = "";
    [JsonIgnore] public string MessageId { get; init; } = "";

    public sealed class Validator : AbstractValidator<EditMessage>
    {
        public Validator()
        {
            RuleFor(x => x.MessageId).ValidId();
            RuleFor(x => x.Text).ValidText();
            RuleFor(x => x.Text).Must(t => !string.IsNullOrWhiteSpace(t)).When(x => x.Text is not null)
                .WithMessage("'text' must not be blank.");
            RuleFor(x => x.Params).ValidParams();
            RuleFor(x => x.ImageIds).ValidImageIds();
            RuleFor(x => x).Must(x => x.Text is not null || x.Params is not null || x.ImageIds is not null)
                .OverridePropertyName("body").WithMessage("Give at least one of 'text', 'params' or 'imageIds'.");
        }
    }
}

public static class EditMessageHandler
{
    public static Task<(MessageDataResponse, UserChange?)> Handle(EditMessage cmd, IDatabase db, TimeProvider clock) =>
        MessageUpdates.Decide(db, clock, cmd.UserId, cmd.MessageId,
            new MessageEdit.Set(cmd.ImageIds) { Text = cmd.Text, Params = cmd.Params as JsonObject });
}

public sealed class EditMessageEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MessageRoutes().MapPut("/{messageId}", async (string messageId, EditMessage body, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<MessageDataResponse>(body with { UserId = caller.UserId, MessageId = messageId }, ct)))
            .WithName("EditMessage")
            .Example(new EditMessage(Text: "Make the sky violet"), new MessageDataResponse(ApiExamples.Message with { Text = "Make the sky violet" }))
            .WithSummary("Edit a message's text, params or images; the previous text stays as a revision")
            .Produces<MessageDataResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
