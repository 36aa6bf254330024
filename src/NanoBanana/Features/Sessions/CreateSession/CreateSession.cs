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

public sealed record CreateSession(string? Title)
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
    /// Without a key, <c>session_created</c> is returned as such. With one, it goes as <see cref="OnceEvents"/>, from the
    /// first request and from every retry: it reaches the log once, also when the first request's append failed.
    /// </summary>
    public static async Task<(SessionResponse, SessionCreated?, OnceEvents?)> Handle(CreateSession cmd, IDatabase db, TimeProvider clock)
    {
        var id = ChatStore.NewId();
        var title = cmd.Title?.Trim() ?? ChatStore.DefaultTitle;
        var key = cmd.IdempotencyKey ?? "-";
        var fingerprint = cmd.IdempotencyKey is null ? null : Idempotency.Fingerprint("session", cmd);
        var r = await ChatStore.Run(db, ChatStore.CreateSessionScript,
            [Keys.Session(cmd.UserId, id), Keys.Sessions(cmd.UserId), Keys.Idempotency(cmd.UserId, "session", key),
             Keys.IdempotencyUnsent(cmd.UserId, "session", key)],
            Keys.UserScope(cmd.UserId), id, title, ChatStore.Ms(clock.GetUtcNow()),
            fingerprint is null ? "" : Idempotency.Record(fingerprint, id), (long)Idempotency.Lifetime.TotalMilliseconds);

        var session = (string)r[0]! == "idem"
            // A retry: the session the first request created, as it is now.
            ? await ChatStore.LiveSession(db, cmd.UserId, Idempotency.FirstResourceOrThrow((string)r[1]!, fingerprint!))
            : ChatStore.ToSession(cmd.UserId, ChatStore.Fields(r[1]));
        var created = new SessionCreated(cmd.UserId, session);
        return cmd.IdempotencyKey is null
            ? (new SessionResponse(session), created, null)
            : (new SessionResponse(session), null, new OnceEvents(Keys.IdempotencyUnsent(cmd.UserId, "session", key), [created]));
    }
}

public sealed class CreateSessionEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapPost("/api/sessions", async (HttpRequest request, [FromHeader(Name = Idempotency.Header)] string? idempotencyKey,
                IMessageBus bus, CancellationToken ct) =>
            {
                var cmd = await Body(request, ct) with { UserId = request.HttpContext.User.UserId(), IdempotencyKey = Idempotency.Checked(idempotencyKey) };
                var answer = await bus.InvokeAsync<SessionResponse>(cmd, ct);
                return TypedResults.Created($"/api/sessions/{answer.Session.Id}", answer);
            })
            .Accepts<CreateSession>(isOptional: true, "application/json")
            .RequireAuthorization()
            .WithName("CreateSession").WithTags("Sessions")
            .WithSummary("Start a session (title defaults to \"New Chat\"); accepts Idempotency-Key")
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
