using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Sessions.CreateSession;

public sealed record CreateSession(string? Title = null) : IChangesUserData
{
    [JsonIgnore] public string UserId { get; init; } = "";
    [JsonIgnore] public string? IdempotencyKey { get; init; }

    public sealed class Validator : AbstractValidator<CreateSession>
    {
        public Validator()
        {
            RuleFor(x => x.Title!).Must(t => !string.IsNullOrWhiteSpace(t)).WithMessage("'title' must not be blank.")
                .MaximumLength(SessionTitles.MaxLength).When(x => x.Title is not null);
        }
    }
}

public static class CreateSessionHandler
{
    /// <summary>
    /// A retry under an Idempotency-Key whose first request committed gets that session as it is now, and changes nothing.
    /// Concurrent first requests with one key both decide a create; only one commits, the other runs again and finds it.
    /// </summary>
    public static async Task<(SessionResponse, UserChange?)> Handle(CreateSession cmd, IDatabase db, TimeProvider clock)
    {
        var basis = await UserBasis.Read(db, cmd.UserId);
        var fingerprint = cmd.IdempotencyKey is null ? null : Idempotency.Fingerprint("session", cmd);
        var earlier = cmd.IdempotencyKey is null ? RedisValue.Null
            : await db.StringGetAsync(Keys.Idempotency(cmd.UserId, "session", cmd.IdempotencyKey));
        if (earlier.HasValue)
            return (new SessionResponse((await SessionRecord.Live(db, cmd.UserId, Idempotency.FirstResourceOrThrow(earlier!, fingerprint!)))?.Session
                ?? throw ApiProblem.NotFound("session")), null);

        var at = await SessionOrder.Newest(db, cmd.UserId, clock.GetUtcNow());
        var session = new SessionDto(Ids.New(), cmd.UserId, StoredText.AsStored(cmd.Title?.Trim() ?? SessionRecord.DefaultTitle), at, at, 0, null);
        var change = basis.Change()
            .Write(tx => SessionRecord.Write(tx, new StoredSession(session, Titled: false, MessageSeq: 0)))
            .Raise(new SessionCreated(cmd.UserId, session));
        if (cmd.IdempotencyKey is { } key)
            change.Write(tx => tx.StringSet(Keys.Idempotency(cmd.UserId, "session", key),
                Idempotency.Record(fingerprint!, session.Id), Idempotency.Lifetime));
        return (new SessionResponse(session), change);
    }
}

public sealed class CreateSessionEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionRoutes().MapPost("", async (HttpRequest request, [FromHeader(Name = Idempotency.Header)] string? idempotencyKey,
                Caller caller, IMessageBus bus, CancellationToken ct) =>
            {
                var cmd = await Body(request, ct) with { UserId = caller.UserId, IdempotencyKey = Idempotency.Checked(idempotencyKey) };
                var answer = await bus.InvokeAsync<SessionResponse>(cmd, ct);
                return TypedResults.Created($"/api/sessions/{answer.Session.Id}", answer);
            })
            .Accepts<CreateSession>(isOptional: true, "application/json")
            .WithName("CreateSession")
            .Example(new CreateSession("Make the sky purple"), new SessionResponse(ApiExamples.Session with { MessageCount = 0 }))
            .WithSummary("Start a session (title defaults to \"New Chat\")")
            .Produces<SessionResponse>(201)
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(422);

    /// <summary>The body is optional (every field is): no body at all means the defaults; a body must be JSON.</summary>
    static async Task<CreateSession> Body(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength is null or 0 && !request.Headers.ContentType.Any() && !request.Headers.TransferEncoding.Any())
            return new CreateSession(null);
        if (!request.HasJsonContentType())
            throw new ApiProblem(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Send this request as application/json.");
        if (request.ContentLength == 0) return new CreateSession(null);
        return await request.ReadFromJsonAsync<CreateSession>(ct) ?? new CreateSession(null);
    }
}
