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
    public static async Task<(SessionResponse, SessionCreated?)> Handle(CreateSession cmd, IDatabase db, TimeProvider clock)
    {
        var id = ChatStore.NewId();
        var title = cmd.Title?.Trim() ?? ChatStore.DefaultTitle;
        var fingerprint = cmd.IdempotencyKey is null ? null : Idempotency.Fingerprint("session", cmd);
        var r = await ChatStore.Run(db, ChatStore.CreateSessionScript,
            [Keys.Session(cmd.UserId, id), Keys.Sessions(cmd.UserId), Keys.Idempotency(cmd.UserId, "session", cmd.IdempotencyKey ?? "-")],
            Keys.UserScope(cmd.UserId), id, title, ChatStore.Ms(clock.GetUtcNow()),
            fingerprint is null ? "" : Idempotency.Record(fingerprint, id), (long)Idempotency.Lifetime.TotalMilliseconds);

        if ((string)r[0]! == "idem")
        {
            // A retry: answer with the session the first request created, raise nothing new.
            var firstId = Idempotency.FirstResourceOrThrow((string)r[1]!, fingerprint!);
            return (new SessionResponse(await ChatStore.LiveSession(db, cmd.UserId, firstId)), null);
        }
        var session = ChatStore.ToSession(cmd.UserId, ChatStore.Fields(r[1]));
        return (new SessionResponse(session), new SessionCreated(cmd.UserId, session));
    }
}

public sealed class CreateSessionEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapPost("/api/sessions", async (CreateSession? body, [FromHeader(Name = Idempotency.Header)] string? idempotencyKey,
                HttpContext http, IMessageBus bus, CancellationToken ct) =>
            {
                var cmd = (body ?? new CreateSession(null)) with { UserId = http.User.UserId(), IdempotencyKey = Idempotency.Checked(idempotencyKey) };
                var answer = await bus.InvokeAsync<SessionResponse>(cmd, ct);
                return TypedResults.Created($"/api/sessions/{answer.Session.Id}", answer);
            })
            .RequireAuthorization()
            .WithName("CreateSession").WithTags("Sessions")
            .WithSummary("Start a session (title defaults to \"New Chat\"); accepts Idempotency-Key")
            .Produces<SessionResponse>(201)
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(422);
}
