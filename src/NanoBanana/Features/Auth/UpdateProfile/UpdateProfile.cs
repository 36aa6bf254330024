using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Auth.Register;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Auth.UpdateProfile;

/// <summary>
/// Changes the username and/or the avatar. An absent (or null) field stays as it is; an empty
/// <c>avatar</c> removes the avatar.
/// </summary>
public sealed record UpdateProfile(string? Username = null, string? Avatar = null)
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public const int MaxAvatarLength = 2048;

    public sealed class Validator : AbstractValidator<UpdateProfile>
    {
        public Validator()
        {
            RuleFor(x => x.Username).ValidUsername().When(x => x.Username is not null);
            RuleFor(x => x.Avatar!)
                .MaximumLength(MaxAvatarLength).WithMessage($"Avatar must be at most {MaxAvatarLength} characters.")
                .Must(IsAvatarAddress).WithMessage("Avatar must be an http(s) URL or a path on this service.")
                .When(x => !string.IsNullOrEmpty(x.Avatar));
        }

        // A browser loads the avatar as an image: only web addresses, never javascript: or other schemes.
        static bool IsAvatarAddress(string avatar) =>
            avatar.StartsWith('/') && !avatar.StartsWith("//")
            || Uri.TryCreate(avatar, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);
    }
}

public static class UpdateProfileHandler
{
    public static async Task<UserResponse> Handle(UpdateProfile cmd, IDatabase db, TimeProvider clock)
    {
        var user = await Users.Get(db, cmd.UserId);
        var updated = user;

        string? releaseKey = null, claimedKey = null;
        if (cmd.Username is { } wanted && wanted.Trim() != user.Username)
        {
            wanted = wanted.Trim();
            var newKey = Keys.UsernameClaim(User.NormalizeUsername(wanted));
            var oldKey = Keys.UsernameClaim(User.NormalizeUsername(user.Username));
            // A change of case only keeps the same claim; another name is claimed atomically (SET NX).
            if (newKey != oldKey)
            {
                if (!await db.StringSetAsync(newKey, user.Id, when: When.NotExists)
                    && await db.StringGetAsync(newKey) != user.Id)
                    throw ApiProblem.Conflict("username_taken", "This username is already taken.");
                (claimedKey, releaseKey) = (newKey, oldKey);
            }
            updated = updated with { Username = wanted };
        }
        if (cmd.Avatar is { } avatar)
            updated = updated with { Avatar = avatar.Length == 0 ? null : avatar };

        if (updated != user)
        {
            var (username, newAvatar, now) = (updated.Username, updated.Avatar, clock.GetUtcNow());
            try
            {
                updated = await Users.Update(db, user.Id, u => u with { Username = username, Avatar = newAvatar, UpdatedAt = now });
            }
            catch when (claimedKey is not null)
            {
                // The account still names the old username: give the new one back.
                await RegisterHandler.ReleaseClaim(db, claimedKey, user.Id);
                throw;
            }
        }
        // Only once the account names the new username; and only if the old claim is still ours.
        if (releaseKey is not null) await RegisterHandler.ReleaseClaim(db, releaseKey, user.Id);
        return new UserResponse(updated.ToDto());
    }
}

public sealed class UpdateProfileEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.AuthRoutes().MapPut("/me", async (UpdateProfile body, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<UserResponse>(body with { UserId = caller.UserId }, ct)))
            .WithName("UpdateProfile")
            .Example(new UpdateProfile(Username: "ada_l"), new UserResponse(ApiExamples.User with { Username = "ada_l" }))
            .WithSummary("Change the username and/or avatar")
            .Produces<UserResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401)
            .ProducesProblem(409);
}
