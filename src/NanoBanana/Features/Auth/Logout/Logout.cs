using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Security;
using Wolverine;

namespace NanoBanana.Features.Auth.Logout;

/// <summary>Ends one device: the refresh family of the given token when it is the caller's, else the access token's device.</summary>
public sealed record Logout(string? RefreshToken = null)
{
    [JsonIgnore] public string UserId { get; init; } = "";
    [JsonIgnore] public string DeviceId { get; init; } = "";

    // Wolverine logs a failed message with ToString(): never the token.
    bool PrintMembers(System.Text.StringBuilder b)
    {
        b.Append("RefreshToken = ").Append(RefreshToken is null ? "null" : "***").Append(", UserId = ").Append(UserId);
        return true;
    }

    public sealed class Validator : AbstractValidator<Logout>
    {
        public Validator() =>
            RuleFor(x => x.RefreshToken).MaximumLength(512).WithMessage("Refresh token must be at most 512 characters.");
    }
}

public static class LogoutHandler
{
    public static async Task<MessageResponse> Handle(Logout cmd, RefreshTokens refresh)
    {
        var family = (cmd.RefreshToken is { Length: > 0 } token ? RefreshTokens.FamilyOf(token, cmd.UserId) : null) ?? cmd.DeviceId;
        if (family.Length > 0) await refresh.EndDevice(cmd.UserId, family);
        return new MessageResponse("Signed out.");
    }
}

public sealed class LogoutEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.AuthRoutes().MapPost("/logout", async (HttpContext http, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<MessageResponse>(
                    (await Json.ReadOptionalBody<Logout>(http) ?? new Logout(null)) with { UserId = caller.UserId, DeviceId = caller.DeviceId }, ct)))
            .WithName("Logout")
            .Example(new Logout(ApiExamples.RefreshToken), new MessageResponse("Signed out."))
            .WithSummary("Sign out this device (or the device of the given refresh token)")
            .Accepts<Logout>(isOptional: true, "application/json")
            .Produces<MessageResponse>()
            .ProducesProblem(401);
}
