using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using NanoBanana.Features.Images;
using NanoBanana.Features.Messages;
using NanoBanana.Infrastructure.Generation;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.OpenApi;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Generation.CreateGeneration;

public sealed record CreateGeneration(string? Provider, string? Prompt, string[]? ImageIds, string? MaskImageId, string? Size,
    int? N, long? Seed, JsonNode? Params, string? MessageId) : IChangesUserData
{
    [JsonIgnore] public string UserId { get; init; } = "";
    [JsonIgnore] public string SessionId { get; init; } = "";
    [JsonIgnore] public string? IdempotencyKey { get; init; }
    /// <summary>Fixed when the request arrives: a decision run again on moved data keeps its id (and its place in the quota).</summary>
    [JsonIgnore] public string GenerationId { get; init; } = Ids.New();

    public sealed class Validator : AbstractValidator<CreateGeneration>
    {
        public Validator()
        {
            RuleFor(x => x.SessionId).ValidId();
            RuleFor(x => x.Prompt).Must(p => !string.IsNullOrWhiteSpace(p)).WithMessage("'prompt' is required.");
            RuleFor(x => x.Prompt).ValidText().OverridePropertyName("prompt");
            RuleFor(x => x.Provider).MaximumLength(40).WithMessage("'provider' names one of GET /api/generation/providers.");
            RuleFor(x => x.ImageIds).ValidImageIds();
            RuleFor(x => x.MaskImageId!).ValidId().When(x => x.MaskImageId is not null);
            RuleFor(x => x.MaskImageId).Null().When(x => x.ImageIds is null or { Length: 0 })
                .WithMessage("'maskImageId' needs a picture to edit in 'imageIds'.");
            RuleFor(x => x.Size).Matches("^[A-Za-z0-9*]{1,20}$").When(x => x.Size is not null)
                .WithMessage("'size' is WIDTHxHEIGHT (e.g. 1024x1024) or a provider's word such as auto.");
            RuleFor(x => x.N).InclusiveBetween(1, 4).When(x => x.N is not null).WithMessage("'n' must be 1 to 4.");
            RuleFor(x => x.Params).ValidParams();
            RuleFor(x => x.MessageId!).ValidId().When(x => x.MessageId is not null);
        }
    }
}

public sealed record GenerationResponse(GenerationDto Generation);

public static class CreateGenerationHandler
{
    /// <summary>
    /// Loads the session, the inputs and the named message (with the basis, in one round trip), refuses early, claims a
    /// place in the user's quota, then decides: the generation, queued, and unless the caller named its message, the
    /// prompt as a user message with the inputs, with message_created, session_updated and generation_queued in one
    /// commit, which also enqueues the run as leased work. A retry under a key whose first request committed gets that
    /// generation as it is now, and changes nothing.
    /// </summary>
    public static async Task<(GenerationResponse, UserChange?)> Handle(CreateGeneration cmd, IDatabase db,
        ImageProviders providers, GenerationQuota quota, TimeProvider clock)
    {
        var (userId, sessionId) = (cmd.UserId, cmd.SessionId);
        var fingerprint = cmd.IdempotencyKey is null ? null : Idempotency.Fingerprint("generation:" + sessionId, cmd);
        var inputs = cmd.ImageIds ?? [];
        string[] pictures = cmd.MaskImageId is null ? inputs : [.. inputs, cmd.MaskImageId];

        var read = db.CreateBatch();
        var basisRead = UserBasis.Read(read, userId);
        var earlierRead = cmd.IdempotencyKey is null ? Task.FromResult(RedisValue.Null)
            : read.StringGetAsync(Keys.Idempotency(userId, "generation", cmd.IdempotencyKey));
        var newMessage = NewMessage.Read(read, userId, sessionId, clock.GetUtcNow());
        var statusReads = pictures.Select(i => read.HashGetAsync(Keys.Image(userId, i), "status")).ToList();
        var promptRead = cmd.MessageId is null ? Task.FromResult<RedisValue[]>([])
            : read.HashGetAsync(Keys.Message(userId, cmd.MessageId), ["sessionId", "role"]);
        read.Execute();
        var basis = await basisRead;

        if (await earlierRead is { HasValue: true } earlier)
        {
            var first = await GenerationRecord.Find(db, userId, Idempotency.FirstResourceOrThrow(earlier!, fingerprint!))
                        ?? throw ApiProblem.NotFound("generation");
            return (new GenerationResponse(first), null);
        }
        var before = await newMessage.Session ?? throw ApiProblem.NotFound("session");
        var provider = cmd.Provider is null ? providers.Default
            : providers.Find(cmd.Provider) ?? throw ApiProblem.Validation("provider",
                $"'{cmd.Provider}' is not a provider of this server: pick one of {string.Join(", ", providers.All.Select(p => p.Id))}.");
        if (!ImageProviders.Available(provider, mock: false))
            throw new ApiProblem(400, "provider_not_configured",
                $"The {provider.Id} provider is not configured on this server. Ask its operator to set its key, or pick another provider.");
        for (var i = 0; i < pictures.Length; i++)
            if ((string?)await statusReads[i] != ImageStatus.Ready)
                throw ApiProblem.Validation(i < inputs.Length ? "imageIds" : "maskImageId",
                    $"Image '{pictures[i]}' was not found among your images, or it is not ready.");
        if (cmd.MessageId is not null && await promptRead is var m && (m[0] != sessionId || m[1] != "user"))
            throw ApiProblem.Validation("messageId", "'messageId' must name a user message of this session.");

        await quota.Acquire(userId, cmd.GenerationId);

        var change = basis.Change();
        var at = await newMessage.At;
        var promptMessageId = cmd.MessageId ?? NewMessage.Add(change, before, at, await newMessage.Number,
            "user", cmd.Prompt!, inputs, cmd.Params as JsonObject, editedOf: null).Message.Id;
        var generation = new GenerationDto(cmd.GenerationId, sessionId, userId, provider.Id, provider.DefaultModel,
            inputs.Length == 0 ? "generate" : "edit", StoredText.AsStored(cmd.Prompt!), inputs, cmd.MaskImageId, cmd.Size, cmd.N ?? 1,
            cmd.Seed, GenerationStatus.Queued, Error: null, ResultImageIds: [], promptMessageId, MessageId: null, Attempts: 0,
            CreatedAt: at, StartedAt: null, FinishedAt: null);
        change.Write(tx => GenerationRecord.Write(tx, generation)).Raise(new GenerationQueued(userId, generation))
            .Enqueue(new RunGeneration.RunGeneration(userId, generation.Id));
        if (cmd.IdempotencyKey is { } key)
            change.Write(tx => tx.StringSet(Keys.Idempotency(userId, "generation", key),
                Idempotency.Record(fingerprint!, generation.Id), Idempotency.Lifetime));
        return (new GenerationResponse(generation), change);
    }
}

public sealed class CreateGenerationEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionGenerationRoutes().MapPost("", async (string sessionId, CreateGeneration body,
                [FromHeader(Name = Idempotency.Header)] string? idempotencyKey, Caller caller, IMessageBus bus, CancellationToken ct) =>
            {
                var cmd = body with { UserId = caller.UserId, SessionId = sessionId, IdempotencyKey = Idempotency.Checked(idempotencyKey) };
                var answer = await bus.InvokeAsync<GenerationResponse>(cmd, ct);
                return TypedResults.Accepted($"/api/generations/{answer.Generation.Id}", answer);
            })
            .WithName("CreateGeneration")
            .Example(new CreateGeneration("local", "Make the sky purple", [ApiExamples.ImageId], null, "1024x1024", 1, 7, ApiExamples.Message.Params, null), new GenerationResponse(ApiExamples.Generation))
            .WithSummary("Queue a generation (no imageIds) or an edit of the session's pictures; its result arrives as an assistant message; accepts Idempotency-Key")
            .Produces<GenerationResponse>(202)
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404).ProducesProblem(422).ProducesProblem(429);
}
