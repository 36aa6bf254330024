using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Sessions.RenameSession;

public sealed record RenameSession(string Title) : IChangesUserData
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
    public static async Task<(SessionResponse, UserChange)> Handle(RenameSession cmd, IDatabase db, TimeProvider clock)
    {
        var basis = await UserBasis.Read(db, cmd.UserId);
        var before = await SessionRecord.Live(db, cmd.UserId, cmd.SessionId) ?? throw ApiProblem.NotFound("session");
        var at = await SessionOrder.Newest(db, cmd.UserId, Later(clock.GetUtcNow(), before.Session.UpdatedAt));
        var renamed = before.Session with { Title = StoredText.AsStored(cmd.Title.Trim()), UpdatedAt = at };
        var change = basis.Change()
            .Write(tx => SessionRecord.Write(tx, before with { Session = renamed, Titled = true }))
            .Raise(new SessionUpdated(cmd.UserId, renamed));
        return (new SessionResponse(renamed), change);
    }

    static DateTimeOffset Later(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}

public sealed class RenameSessionEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionRoutes().MapMethods("/{sessionId}", ["PUT", "PATCH"],
                async (string sessionId, RenameSession body, Caller caller, IMessageBus bus, CancellationToken ct) =>
                    TypedResults.Ok(await bus.InvokeAsync<SessionResponse>(
                        body with { UserId = caller.UserId, SessionId = sessionId }, ct)))
            .WithName("RenameSession")
            .Example(new RenameSession("Purple sky"), new SessionResponse(ApiExamples.Session with { Title = "Purple sky" }))
            .WithSummary("Rename a session (PUT or PATCH)")
            .Accepts<RenameSession>("application/json")
            .Produces<SessionResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
