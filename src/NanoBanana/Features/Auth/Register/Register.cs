using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.OpenApi;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Auth.Register;

public sealed record Register(string Email, string Username, string Password)
{
    // Wolverine logs a failed message with ToString(): never the password.
    bool PrintMembers(System.Text.StringBuilder b)
    {
        b.Append("Email = ").Append(Email).Append(", Username = ").Append(Username);
        return true;
    }

    public sealed class Validator : AbstractValidator<Register>
    {
        public Validator()
        {
            RuleFor(x => x.Email).ValidEmail();
            RuleFor(x => x.Username).ValidUsername();
            RuleFor(x => x.Password).ValidPassword();
        }
    }
}

public static class RegisterHandler
{
    // A claim lives this long before the account behind it is written; if the process dies in
    // between, the email and username free themselves instead of staying taken forever.
    static readonly TimeSpan PendingClaim = TimeSpan.FromMinutes(2);

    public static async Task<AuthResponse> Handle(
        Register cmd, IDatabase db, PasswordHasher hasher, AccessTokens tokens, RefreshTokens refresh, TimeProvider clock)
    {
        var userId = Guid.CreateVersion7().ToString("N");
        var emailKey = Keys.EmailClaim(User.NormalizeEmail(cmd.Email));
        var usernameKey = Keys.UsernameClaim(User.NormalizeUsername(cmd.Username));

        // Global uniqueness: SET NX is atomic, so of two concurrent registrations exactly one claims.
        if (!await db.StringSetAsync(emailKey, userId, PendingClaim, When.NotExists))
            throw ApiProblem.Conflict("email_taken", "An account with this email already exists.");
        if (!await db.StringSetAsync(usernameKey, userId, PendingClaim, When.NotExists))
        {
            await ReleaseClaim(db, emailKey, userId);
            throw ApiProblem.Conflict("username_taken", "This username is already taken.");
        }

        string passwordHash;
        try
        {
            passwordHash = await hasher.HashAsync(cmd.Password);
        }
        catch
        {
            await Task.WhenAll(ReleaseClaim(db, emailKey, userId), ReleaseClaim(db, usernameKey, userId));
            throw;
        }
        var now = clock.GetUtcNow();
        var user = new User
        {
            Id = userId,
            Email = cmd.Email.Trim(),
            Username = cmd.Username.Trim(),
            PasswordHash = passwordHash,
            CreatedAt = now,
            UpdatedAt = now,
            LastLoginAt = now,
        };
        await Users.Save(db, user);
        await Task.WhenAll(db.KeyPersistAsync(emailKey), db.KeyPersistAsync(usernameKey));

        var device = await refresh.StartDevice(userId);
        var (token, expiresAt) = tokens.Issue(userId, device.FamilyId);
        return new AuthResponse("Account created.", user.ToDto(), token, device.Token, expiresAt);
    }

    static readonly LuaScript ReleaseIfOwner = LuaScript.Prepare(
        "if redis.call('GET', @key) == @owner then return redis.call('DEL', @key) end return 0");

    public static Task ReleaseClaim(IDatabase db, string key, string owner) =>
        ReleaseIfOwner.EvaluateAsync(db, new { key = (RedisKey)key, owner });
}

public sealed class RegisterEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.AuthRoutes().MapPost("/register", async (Register body, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Created("/api/auth/me", await bus.InvokeAsync<AuthResponse>(body, ct)))
            .WithName("Register")
            .Example(new Register("ada@example.com", "ada", "correct horse battery"), new AuthResponse("Account created.", ApiExamples.User, ApiExamples.Token, ApiExamples.RefreshToken, ApiExamples.TokenExpiresAt)).AllowAnonymous().RequireRateLimiting(RateLimiting.PasswordRoutes)
            .WithSummary("Create an account and sign in this device")
            .Produces<AuthResponse>(201)
            .ProducesValidationProblem()
            .ProducesProblem(409)
            .ProducesProblem(429)
            .ProducesProblem(503);
}
