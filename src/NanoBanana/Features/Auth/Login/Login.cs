using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Auth.Login;

public sealed record Login(string Email, string Password)
{
    /// <summary>The caller's address, set by the endpoint (never by the client): counted for brute-force protection.</summary>
    [JsonIgnore] public string? ClientAddress { get; init; }

    // Wolverine logs a failed message with ToString(): never the password.
    bool PrintMembers(System.Text.StringBuilder b)
    {
        b.Append("Email = ").Append(Email);
        return true;
    }

    public sealed class Validator : AbstractValidator<Login>
    {
        public Validator()
        {
            // Only the shape: a wrong password of any length must answer invalid_credentials, not tell rules apart.
            RuleFor(x => x.Email).NotEmpty().WithMessage("Email is required.")
                .MaximumLength(254).WithMessage("Email must be at most 254 characters.");
            RuleFor(x => x.Password).NotEmpty().WithMessage("Password is required.")
                .MaximumLength(AuthRules.MaxPasswordLength).WithMessage($"Password must be at most {AuthRules.MaxPasswordLength} characters.");
        }
    }
}

public static class LoginHandler
{
    public static async Task<AuthResponse> Handle(
        Login cmd, IDatabase db, PasswordHasher hasher, AccessTokens tokens, RefreshTokens refresh,
        LoginAttempts attempts, TimeProvider clock)
    {
        await attempts.EnsureAllowed(cmd.Email, cmd.ClientAddress);

        var userId = await Users.IdByEmail(db, cmd.Email);
        var user = userId is null ? null : await Users.Find(db, userId);
        // Unknown email or not: one hash check either way (the decoy for nobody), one answer either way.
        var valid = await hasher.VerifyAsync(cmd.Password, user?.PasswordHash);
        if (!valid || user is not { IsActive: true })
        {
            await attempts.RecordFailure(cmd.Email, cmd.ClientAddress);
            throw ApiProblem.Unauthorized("invalid_credentials", "The email or password is not correct.");
        }

        await attempts.Reset(cmd.Email, cmd.ClientAddress);
        user = await Users.RecordSignIn(db, user.Id, clock.GetUtcNow());

        var device = await refresh.StartDevice(user.Id);
        var (token, expiresAt) = tokens.Issue(user.Id, device.FamilyId);
        return new AuthResponse("Signed in.", user.ToDto(), token, device.Token, expiresAt);
    }
}

public sealed class LoginEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.AuthRoutes().MapPost("/login", async (Login body, HttpContext http, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<AuthResponse>(body with { ClientAddress = ClientAddress.Of(http) }, ct)))
            .WithName("Login")
            .Example(new Login("ada@example.com", "correct horse battery"), new AuthResponse("Signed in.", ApiExamples.User, ApiExamples.Token, ApiExamples.RefreshToken, ApiExamples.TokenExpiresAt)).AllowAnonymous().RequireRateLimiting(RateLimiting.PasswordRoutes)
            .WithSummary("Sign in this device with email and password")
            .Produces<AuthResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401)
            .ProducesProblem(429)
            .ProducesProblem(503);
}
