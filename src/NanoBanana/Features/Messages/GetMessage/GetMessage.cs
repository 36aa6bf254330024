using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Messages.GetMessage;

public sealed record GetMessage(string MessageId)
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<GetMessage>
    {
        public Validator() => RuleFor(x => x.MessageId).ValidId();
    }
}

public static class GetMessageHandler
{
    public static async Task<MessageDataResponse> Handle(GetMessage query, IDatabase db) =>
        new((await MessageRecord.Live(db, query.UserId, query.MessageId)).Message.Message);
}

public sealed class GetMessageEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MessageRoutes().MapGet("/{messageId}", async (string messageId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<MessageDataResponse>(new GetMessage(messageId) { UserId = caller.UserId }, ct)))
            .WithName("GetMessage")
            .Example(null, new MessageDataResponse(ApiExamples.Message))
            .WithSummary("One of the caller's messages")
            .Produces<MessageDataResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
