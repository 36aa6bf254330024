using NanoBanana.Infrastructure.OpenApi;
using System.Globalization;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Messages.GetRevisions;

public sealed record GetRevisions(string MessageId)
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<GetRevisions>
    {
        public Validator() => RuleFor(x => x.MessageId).ValidId();
    }
}

public static class GetRevisionsHandler
{
    /// <summary>Every version of the text, oldest first; the current one last, dated when it was written.</summary>
    public static async Task<RevisionsResponse> Handle(GetRevisions query, IDatabase db)
    {
        var (message, _) = await MessageRecord.Live(db, query.UserId, query.MessageId);
        var stored = await db.ListRangeAsync(Keys.MessageRevisions(query.UserId, query.MessageId));
        var revisions = new List<Revision>(stored.Length / 2 + 1);
        for (int i = 0; i + 1 < stored.Length; i += 2)
            revisions.Add(new Revision(stored[i + 1].ToString(), At(stored[i].ToString())));
        revisions.Add(new Revision(message.Message.Text, message.TextAt));
        return new RevisionsResponse(revisions);
    }

    static DateTimeOffset At(string ms) => DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(ms, CultureInfo.InvariantCulture));
}

public sealed class GetRevisionsEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MessageRoutes().MapGet("/{messageId}/revisions", async (string messageId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<RevisionsResponse>(new GetRevisions(messageId) { UserId = caller.UserId }, ct)))
            .WithName("GetMessageRevisions")
            .Example(null, new RevisionsResponse([new Revision("Make the sky purple", ApiExamples.Message.CreatedAt), new Revision("Make the sky violet", ApiExamples.Message.CreatedAt.AddMinutes(1))]))
            .WithSummary("Every version of a message's text, oldest first, the current one last")
            .Produces<RevisionsResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
