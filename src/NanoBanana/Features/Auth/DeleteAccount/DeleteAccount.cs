using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using NanoBanana.Features.Auth.Register;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Auth.DeleteAccount;

/// <summary><c>DELETE /api/auth/me {password}</c>: the account and everything it owns go; every device and socket ends.</summary>
public sealed record DeleteAccount(string Password)
{
    [JsonIgnore] public string UserId { get; init; } = "";
    [JsonIgnore] public string? ClientAddress { get; init; }

    // Wolverine logs a failed message with ToString(): never the password.
    bool PrintMembers(System.Text.StringBuilder b)
    {
        b.Append("UserId = ").Append(UserId);
        return true;
    }

    public sealed class Validator : AbstractValidator<DeleteAccount>
    {
        public Validator() =>
            RuleFor(x => x.Password).NotEmpty().WithMessage("Password is required.")
                .MaximumLength(AuthRules.MaxPasswordLength).WithMessage($"Password must be at most {AuthRules.MaxPasswordLength} characters.");
    }
}

public static class DeleteAccountHandler
{
    public static async Task<MessageResponse> Handle(DeleteAccount cmd, IDatabase db, IConnectionMultiplexer redis,
        PasswordHasher hasher, LoginAttempts attempts, SignIns signIns, IObjectStorage storage, CancellationToken ct)
    {
        var user = await Users.Get(db, cmd.UserId);
        // A stolen access token must not become a way to guess the password: same counters as sign-in.
        await attempts.EnsureAllowed(user.Email, cmd.ClientAddress, ct);
        if (!await hasher.VerifyAsync(cmd.Password, user.PasswordHash, ct))
        {
            await attempts.RecordFailure(user.Email, cmd.ClientAddress);
            // 400, not 401: a 401 makes clients sign the person out.
            throw new ApiProblem(StatusCodes.Status400BadRequest, "invalid_credentials", "The password is not correct.",
                new Dictionary<string, string[]> { ["password"] = ["The password is not correct."] });
        }

        // First the sign-ins: from here every token of the account is refused and its sockets close.
        await db.KeyDeleteAsync([Keys.UserRecord(user.Id), Keys.RefreshFamilies(user.Id)]);
        await signIns.Changed(user.Id);

        await AccountErasure.EraseKeys(redis, db, user.Id);
        await Task.WhenAll(
            RegisterHandler.ReleaseClaim(db, Keys.EmailClaim(User.NormalizeEmail(user.Email)), user.Id),
            RegisterHandler.ReleaseClaim(db, Keys.UsernameClaim(User.NormalizeUsername(user.Username)), user.Id),
            db.KeyDeleteAsync(Keys.LoginFailuresForAccount(User.NormalizeEmail(user.Email))));
        await AccountErasure.EraseBlobs(storage, db, user.Id, ct);
        // A request of the account that was already past its sign-in check may have written meanwhile.
        await AccountErasure.EraseKeys(redis, db, user.Id);
        return new MessageResponse("Account deleted. Everything it held is gone.");
    }
}

/// <summary>
/// Removes what a user owns without knowing the key layout of each feature: every key under the user's
/// hash tag, and every blob under the user's storage folder (with its entries in the global blob indexes).
/// </summary>
public static class AccountErasure
{
    public static async Task EraseKeys(IConnectionMultiplexer redis, IDatabase db, string userId)
    {
        // One hash tag is one slot, on one primary; the scan asks every primary and only one has keys.
        // The second pattern: the general rate limit's per-user counters (a tag of their own).
        string[] patterns = [RedisGlob(Keys.UserScope(userId)) + "*", RedisGlob($"{Keys.RateLimitPrefix}{{user:{userId}}}") + "*"];
        foreach (var server in redis.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        foreach (var pattern in patterns)
        {
            var batch = new List<RedisKey>(500);
            await foreach (var key in server.KeysAsync(db.Database, pattern, pageSize: 1000))
            {
                batch.Add(key);
                if (batch.Count == 500) { await db.KeyDeleteAsync([.. batch]); batch.Clear(); }
            }
            if (batch.Count > 0) await db.KeyDeleteAsync([.. batch]);
        }
    }

    public static async Task EraseBlobs(IObjectStorage storage, IDatabase db, string userId, CancellationToken ct)
    {
        var keys = await storage.ListAsync(BlobKeys.UserPrefix(userId), ct);
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct },
            async (key, token) => await storage.DeleteAsync(key, token));
        // The garbage collector's entries name the user's blobs by "userId/...".
        var pattern = RedisGlob(userId) + "/*";
        var indexed = new List<RedisValue>();
        await foreach (var entry in db.SortedSetScanAsync(Keys.ImageBlobIndex, pattern, 1000)) indexed.Add(entry.Element);
        if (indexed.Count > 0) await db.SortedSetRemoveAsync(Keys.ImageBlobIndex, [.. indexed]);
    }

    /// <summary>Escapes the glob characters of a SCAN pattern.</summary>
    static string RedisGlob(string literal)
    {
        var b = new System.Text.StringBuilder(literal.Length + 8);
        foreach (var c in literal)
        {
            if (c is '*' or '?' or '[' or ']' or '\\') b.Append('\\');
            b.Append(c);
        }
        return b.ToString();
    }
}

public sealed class DeleteAccountEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.AuthRoutes().MapDelete("/me", async ([FromBody] DeleteAccount body, Caller caller, HttpContext http, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<MessageResponse>(
                    body with { UserId = caller.UserId, ClientAddress = NanoBanana.Infrastructure.Http.ClientAddress.Of(http) }, ct)))
            .WithName("DeleteAccount")
            .Example(new DeleteAccount("correct horse battery"), new MessageResponse("Account deleted. Everything it held is gone.")).RequireRateLimiting(RateLimiting.PasswordRoutes)
            .WithSummary("Delete the account and everything it owns; every device and socket ends")
            .Produces<MessageResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401)
            .ProducesProblem(429)
            .ProducesProblem(503);
}
