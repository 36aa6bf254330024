using Carter;
using FluentValidation;
using NanoBanana.Features.Generation.CreateGeneration;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.OpenApi;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Generation.CancelGeneration;

public sealed record CancelGeneration(string UserId, string GenerationId) : IChangesUserData
{
    public sealed class Validator : AbstractValidator<CancelGeneration>
    {
        public Validator() => RuleFor(x => x.GenerationId).ValidId();
    }
}

public static class CancelGenerationHandler
{
    /// <summary>
    /// A queued or running generation becomes cancelled, with generation_cancelled, and gives its place in the quota
    /// back. The run notices (it watches the record) and abandons its provider call; a result that arrives anyway is
    /// discarded, because a generation's outcome commits only while it is running. 409 once it has ended.
    /// </summary>
    public static async Task<(GenerationResponse, UserChange)> Handle(CancelGeneration cmd, IDatabase db, TimeProvider clock)
    {
        var basis = await UserBasis.Read(db, cmd.UserId);
        var generation = await GenerationRecord.Find(db, cmd.UserId, cmd.GenerationId);
        if (generation is null || !await SessionRecord.IsLive(db, cmd.UserId, generation.SessionId))
            throw ApiProblem.NotFound("generation");
        if (GenerationStatus.Ended(generation.Status))
            throw ApiProblem.Conflict("generation_finished", $"This generation has already ended ({generation.Status}); there is nothing to cancel.");

        var cancelled = generation with { Status = GenerationStatus.Cancelled, FinishedAt = clock.GetUtcNow() };
        var change = basis.Change()
            .Write(tx => GenerationRecord.Write(tx, cancelled))
            .Write(tx => GenerationQuota.Release(tx, cmd.UserId, cmd.GenerationId))
            .Raise(new GenerationCancelled(cmd.UserId, cancelled));
        return (new GenerationResponse(cancelled), change);
    }
}

public sealed class CancelGenerationEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.GenerationsRoutes().MapDelete("/{generationId}", async (string generationId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<GenerationResponse>(new CancelGeneration(caller.UserId, generationId), ct)))
            .WithName("CancelGeneration")
            .Example(null, new GenerationResponse(ApiExamples.Generation with { Status = "cancelled", FinishedAt = ApiExamples.Generation.CreatedAt.AddSeconds(3) }))
            .WithSummary("Cancel a queued or running generation; nothing it would have made is stored")
            .Produces<GenerationResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404).ProducesProblem(409);
}
