using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Auth.ChangePassword;

public sealed record ChangePassword(string CurrentPassword, string NewPassword)
{
    [JsonIgnore] public string UserId { get; init; } = "";
    [JsonIgnore] public string DeviceId { get; init; } = "";
    [JsonIgnore] public string? ClientAddress { get; init; }

    // Wolverine logs a failed message with ToString(): never a password.
    bool PrintMembers(System.Text.StringBuilder b)
    {
        b.Append("UserId = ").Append(UserId);
        return true;
    }

    public sealed class Validator : AbstractValidator<ChangePassword>
    {
        public Validator()
        {
            RuleFor(x => x.CurrentPassword).NotEmpty().WithMessage("Current password is required.")
                .MaximumLength(AuthRules.MaxPasswordLength).WithMessage($"Current password must be at most {AuthRules.MaxPasswordLength} characters.");
            RuleFor(x => x.NewPassword).ValidPassword("New password")
                .NotEqual(x => x.CurrentPassword).WithMessage("New password must differ from the current one.");
        }
    }
}

public static class ChangePasswordHandler
{
    public static async Task<MessageResponse> Handle(
        ChangePassword cmd, IDatabase db, PasswordHasher hasher, RefreshTokens refresh, LoginAttempts attempts, TimeProvider clock)
    {
        var user = await Users.Get(db, cmd.UserId);
        // A stolen access token must not become a way to guess the password: same counter as sign-in.
        await attempts.EnsureAllowed(user.Email, cmd.ClientAddress);
        if (!await hasher.VerifyAsync(cmd.CurrentPassword, user.PasswordHash))
        {
            await attempts.RecordFailure(user.Email, cmd.ClientAddress);
            // 400, not 401: a 401 makes clients sign the person out.
            throw new ApiProblem(StatusCodes.Status400BadRequest, "invalid_credentials", "The current password is not correct.",
                new Dictionary<string, string[]> { ["currentPassword"] = ["The current password is not correct."] });
        }

        var now = clock.GetUtcNow();
        var hash = await hasher.HashAsync(cmd.NewPassword);
        await Users.Update(db, user.Id, u => u with { PasswordHash = hash, UpdatedAt = now });
        // Every other device signs in again; this one stays signed in.
        await refresh.EndEveryDeviceBut(user.Id, cmd.DeviceId);
        return new MessageResponse("Password changed. Other devices have been signed out.");
    }
}

public sealed class ChangePasswordEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.AuthRoutes().MapPut("/password", async (ChangePassword body, Caller caller, HttpContext http, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<MessageResponse>(
                    body with { UserId = caller.UserId, DeviceId = caller.DeviceId, ClientAddress = ClientAddress.Of(http) }, ct)))
            .WithName("ChangePassword")
            .Example(new ChangePassword("correct horse battery", "a longer passphrase here"), new MessageResponse("Password changed. Other devices have been signed out.")).RequireRateLimiting(RateLimiting.PasswordRoutes)
            .WithSummary("Change the password; every other device is signed out")
            .Produces<MessageResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401)
            .ProducesProblem(429)
            .ProducesProblem(503);
}
