using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Sessions.RenameSession;

public sealed record RenameSession(string Title)
{
    [JsonIgnore] public string UserId { get; init; } = "";
    [JsonIgnore] public string SessionId { get; init; } = "";

    public sealed class Validator : AbstractValidator<RenameSession>
    {
        public Validator()
        {
            RuleFor(x => x.SessionId).ValidId();
            RuleFor(x => x.Title).NotNull().WithMessage("'title' is required.")
                .Must(t => !string.IsNullOrWhiteSpace(t)).WithMessage("'title' must not be blank.")
                .MaximumLength(SessionTitles.MaxLength);
        }
    }
}

public static class RenameSessionHandler
{
    public static async Task<(SessionResponse, SessionUpdated)> Handle(RenameSession cmd, IDatabase db, TimeProvider clock)
    {
        var r = await ChatStore.Run(db, ChatStore.RenameSessionScript,
            [Keys.Session(cmd.UserId, cmd.SessionId), Keys.Sessions(cmd.UserId)],
            Keys.UserScope(cmd.UserId), cmd.Title.Trim(), ChatStore.Ms(clock.GetUtcNow()));
        if ((string)r[0]! != "ok") throw ChatStore.Refusal(r);
        var session = ChatStore.ToSession(cmd.UserId, ChatStore.Fields(r[1]));
        return (new SessionResponse(session), new SessionUpdated(cmd.UserId, session));
    }
}

public sealed class RenameSessionEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapMethods("/api/sessions/{sessionId}", ["PUT", "PATCH"],
                async (string sessionId, RenameSession body, HttpContext http, IMessageBus bus, CancellationToken ct) =>
                    TypedResults.Ok(await bus.InvokeAsync<SessionResponse>(
                        body with { UserId = http.User.UserId(), SessionId = sessionId }, ct)))
            .RequireAuthorization()
            .WithName("RenameSession").WithTags("Sessions")
            .WithSummary("Rename a session (PUT or PATCH)")
            .Accepts<RenameSession>("application/json")
            .Produces<SessionResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
