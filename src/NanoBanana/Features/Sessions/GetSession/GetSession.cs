using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Sessions.GetSession;

public sealed record GetSession(string SessionId)
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<GetSession>
    {
        public Validator() => RuleFor(x => x.SessionId).ValidId();
    }
}

public static class GetSessionHandler
{
    public static async Task<SessionResponse> Handle(GetSession query, IDatabase db) =>
        new((await SessionRecord.Live(db, query.UserId, query.SessionId))?.Session ?? throw ApiProblem.NotFound("session"));
}

public sealed class GetSessionEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionRoutes().MapGet("/{sessionId}", async (string sessionId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<SessionResponse>(new GetSession(sessionId) { UserId = caller.UserId }, ct)))
            .CachedPerUserVersion()
            .WithName("GetSession")
            .Example(null, new SessionResponse(ApiExamples.Session))
            .WithSummary("One of the caller's sessions")
            .Produces<SessionResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
