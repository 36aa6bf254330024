using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Realtime;
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
    /// <summary>The rename and its session_updated are one script: a rename is never stored unannounced.</summary>
    public static async Task<SessionResponse> Handle(RenameSession cmd, IDatabase db, EventLog log, TimeProvider clock)
    {
        var title = ChatStore.AsStored(cmd.Title.Trim());
        var holes = new PayloadHoles();
        var renamed = new SessionUpdated(cmd.UserId, ChatStore.SessionAfter(holes, 1, cmd.UserId, cmd.SessionId, title));
        var r = await ChatStore.Apply(log, ChatStore.RenameSession, [renamed],
            [Keys.Session(cmd.UserId, cmd.SessionId), Keys.Sessions(cmd.UserId)],
            [Keys.UserScope(cmd.UserId), title, ChatStore.Ms(clock.GetUtcNow())], holes);
        if ((string)r[0]! != "ok") throw ChatStore.Refusal(r);
        return new SessionResponse(ChatStore.ToSession(cmd.UserId, ChatStore.Fields(r[1])));
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
