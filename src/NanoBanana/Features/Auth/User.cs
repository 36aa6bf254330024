using System.Text.Json;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Auth;

/// <summary>A stored account. The password hash never leaves the server: clients see <see cref="UserDto"/>.</summary>
public sealed record User
{
    public required string Id { get; init; }
    public required string Email { get; init; }
    public required string Username { get; init; }
    public string? Avatar { get; init; }
    public required string PasswordHash { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? LastLoginAt { get; init; }
    public bool IsActive { get; init; } = true;

    public UserDto ToDto() => new(Id, Email, Username, Avatar, CreatedAt, UpdatedAt, LastLoginAt, IsActive);

    public static string NormalizeEmail(string email) => email.Trim().ToLowerInvariant();
    public static string NormalizeUsername(string username) => username.Trim().ToLowerInvariant();
}

public sealed record UserDto(
    string Id, string Email, string Username, string? Avatar,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? LastLoginAt, bool IsActive);

/// <summary>The answer of register and login: <c>{message, user, token, refreshToken, expiresAt}</c>.</summary>
public sealed record AuthResponse(string Message, UserDto User, string Token, string RefreshToken, DateTimeOffset ExpiresAt);

public sealed record UserResponse(UserDto User);

/// <summary>Reads and writes account records.</summary>
public static class Users
{
    public static async Task<User?> Find(IDatabase db, string userId)
    {
        var raw = await db.StringGetAsync(Keys.UserRecord(userId));
        return raw.IsNullOrEmpty ? null : JsonSerializer.Deserialize<User>(raw.ToString(), Json.Storage);
    }

    public static async Task<User> Get(IDatabase db, string userId) =>
        await Find(db, userId) is { IsActive: true } user
            ? user
            : throw ApiProblem.Unauthorized("invalid_token", "This account no longer exists or is disabled. Sign in again.");

    public static Task Save(IDatabase db, User user) =>
        db.StringSetAsync(Keys.UserRecord(user.Id), JsonSerializer.Serialize(user, Json.Storage));

    /// <summary>
    /// Applies <paramref name="change"/> to the stored account and writes it only if nobody wrote it in
    /// between (else re-reads and re-applies): a sign-in recording lastLoginAt must never put back the
    /// password hash that a concurrent password change just replaced.
    /// </summary>
    public static async Task<User> Update(IDatabase db, string userId, Func<User, User> change)
    {
        var key = Keys.UserRecord(userId);
        for (var attempt = 1; ; attempt++)
        {
            var raw = await db.StringGetAsync(key);
            if (raw.IsNullOrEmpty || JsonSerializer.Deserialize<User>(raw.ToString(), Json.Storage) is not { IsActive: true } current)
                throw ApiProblem.Unauthorized("invalid_token", "This account no longer exists or is disabled. Sign in again.");
            var next = change(current);
            var tx = db.CreateTransaction();
            tx.AddCondition(Condition.StringEqual(key, raw));
            _ = tx.StringSetAsync(key, JsonSerializer.Serialize(next, Json.Storage));
            if (await tx.ExecuteAsync()) return next;
            if (attempt == 10) throw new InvalidOperationException($"The account {userId} kept changing during an update.");
        }
    }

    /// <summary>
    /// Records a sign-in's time. Concurrent sign-ins race on the record: when the compare-and-set keeps
    /// losing, the winner (another sign-in of this very moment) has written a time as good, so the
    /// record as it stands is the answer, never an error.
    /// </summary>
    public static async Task<User> RecordSignIn(IDatabase db, string userId, DateTimeOffset now)
    {
        var key = Keys.UserRecord(userId);
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var raw = await db.StringGetAsync(key);
            if (raw.IsNullOrEmpty || JsonSerializer.Deserialize<User>(raw.ToString(), Json.Storage) is not { IsActive: true } current)
                throw ApiProblem.Unauthorized("invalid_credentials", "The email or password is not correct.");
            if (current.LastLoginAt >= now) return current;
            var next = current with { LastLoginAt = now };
            var tx = db.CreateTransaction();
            tx.AddCondition(Condition.StringEqual(key, raw));
            _ = tx.StringSetAsync(key, JsonSerializer.Serialize(next, Json.Storage));
            if (await tx.ExecuteAsync()) return next;
        }
        return await Get(db, userId);
    }

    public static async Task<string?> IdByEmail(IDatabase db, string email)
    {
        var id = await db.StringGetAsync(Keys.EmailClaim(User.NormalizeEmail(email)));
        return id.IsNullOrEmpty ? null : id.ToString();
    }
}
