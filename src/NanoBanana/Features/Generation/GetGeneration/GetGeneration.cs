using Carter;
using FluentValidation;
using NanoBanana.Features.Generation.CreateGeneration;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.OpenApi;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Generation.GetGeneration;

public sealed record GetGeneration(string UserId, string GenerationId)
{
    public sealed class Validator : AbstractValidator<GetGeneration>
    {
        public Validator() => RuleFor(x => x.GenerationId).ValidId();
    }
}

public static class GetGenerationHandler
{
    /// <summary>The caller's generation in a live session; 404 otherwise (another user's id included).</summary>
    public static async Task<GenerationResponse> Handle(GetGeneration query, IDatabase db)
    {
        var generation = await GenerationRecord.Find(db, query.UserId, query.GenerationId);
        if (generation is null || !await SessionRecord.IsLive(db, query.UserId, generation.SessionId))
            throw ApiProblem.NotFound("generation");
        return new GenerationResponse(generation);
    }
}

public sealed class GetGenerationEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.GenerationsRoutes().MapGet("/{generationId}", async (string generationId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<GenerationResponse>(new GetGeneration(caller.UserId, generationId), ct)))
            .WithName("GetGeneration")
            .Example(null, new GenerationResponse(ApiExamples.Generation))
            .WithSummary("One generation: its status, and once it succeeded its images and assistant message")
            .Produces<GenerationResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
