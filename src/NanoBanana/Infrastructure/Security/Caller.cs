using System.Security.Claims;
using NanoBanana.Infrastructure.Http;

namespace NanoBanana.Infrastructure.Security;

/// <summary>
/// The signed-in user a request comes from and the device (refresh family) it signed in with,
/// bound once from the access token's claims: an endpoint takes a <c>Caller</c> parameter.
/// </summary>
public sealed record Caller(string UserId, string DeviceId)
{
    /// <summary>Minimal APIs' binding hook. A request without a signed-in user answers 401 problem details.</summary>
    public static ValueTask<Caller?> BindAsync(HttpContext http) => ValueTask.FromResult<Caller?>(From(http.User));

    public static Caller From(ClaimsPrincipal user) =>
        user.FindUserId() is { } userId
            ? new Caller(userId, user.DeviceId())
            : throw ApiProblem.Unauthorized("unauthorized", "Sign in to continue: this route needs an access token.");
}
