using NanoBanana.Infrastructure.OpenApi;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using Microsoft.AspNetCore.Authentication;
using Microsoft.IdentityModel.Tokens;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Auth.Refresh;

/// <summary>
/// Two flows (SPEC section 3). With a refresh token: rotate it and answer a new pair. Without one
/// (the seed client's flow): the still-valid access token of a device gets a fresh access token for
/// the same device, never past the device's refresh expiry, and not once the device has ended.
/// </summary>
public sealed record Refresh(string? RefreshToken = null)
{
    /// <summary>Set by the endpoint from a valid access token, for the body-less flow only.</summary>
    [JsonIgnore] public string? UserId { get; init; }
    [JsonIgnore] public string? DeviceId { get; init; }

    // Wolverine logs a failed message with ToString(): never the token.
    bool PrintMembers(System.Text.StringBuilder b)
    {
        b.Append("RefreshToken = ").Append(RefreshToken is null ? "null" : "***").Append(", UserId = ").Append(UserId);
        return true;
    }

    public sealed class Validator : AbstractValidator<Refresh>
    {
        public Validator() =>
            RuleFor(x => x.RefreshToken).MaximumLength(512).WithMessage("Refresh token must be at most 512 characters.");
    }
}

/// <summary><c>{token, refreshToken, expiresAt}</c>; the body-less flow answers <c>{token, expiresAt}</c>.</summary>
public sealed record RefreshResponse(
    [property: JsonPropertyOrder(0)] string Token,
    [property: JsonPropertyOrder(2)] DateTimeOffset ExpiresAt)
{
    [JsonPropertyOrder(1), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? RefreshToken { get; init; }
}

public static class RefreshHandler
{
    public static async Task<RefreshResponse> Handle(Refresh cmd, IDatabase db, AccessTokens tokens, RefreshTokens refresh, TimeProvider clock)
    {
        if (!string.IsNullOrEmpty(cmd.RefreshToken))
        {
            var (outcome, issued) = await refresh.Rotate(cmd.RefreshToken);
            if (outcome == RefreshTokens.Outcome.Reused)
                throw ApiProblem.Unauthorized("token_reused",
                    "This refresh token was already used. For safety this device has been signed out; sign in again.");
            if (outcome != RefreshTokens.Outcome.Rotated || issued is null)
                throw ApiProblem.Unauthorized("invalid_token", "The refresh token is not valid or has expired. Sign in again.");
            var owner = RefreshTokens.UserOf(cmd.RefreshToken)!;
            await Users.Get(db, owner);
            var (token, expiresAt) = tokens.Issue(owner, issued.FamilyId, issued.ExpiresAt);
            return new RefreshResponse(token, expiresAt) { RefreshToken = issued.Token };
        }

        if (cmd.UserId is not { } userId || string.IsNullOrEmpty(cmd.DeviceId))
            throw ApiProblem.Unauthorized("unauthorized", "Send a refresh token, or a valid access token, to refresh.");
        var deviceEnds = await refresh.DeviceExpiry(userId, cmd.DeviceId);
        if (deviceEnds is not { } ends || ends <= clock.GetUtcNow())
            throw ApiProblem.Unauthorized("invalid_token", "This device has been signed out. Sign in again.");
        await Users.Get(db, userId);
        var (access, accessExpires) = tokens.Issue(userId, cmd.DeviceId, ends);
        return new RefreshResponse(access, accessExpires);
    }
}

public sealed class RefreshEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.AuthRoutes().MapPost("/refresh", async (HttpContext http, IMessageBus bus, CancellationToken ct) =>
            {
                var cmd = await Json.ReadOptionalBody<Refresh>(http) ?? new Refresh(null);
                if (string.IsNullOrEmpty(cmd.RefreshToken))
                {
                    var auth = await http.AuthenticateAsync();
                    if (auth.Failure is SecurityTokenExpiredException)
                        throw ApiProblem.Unauthorized("token_expired", "The access token has expired. Sign in again.");
                    if (auth.Failure is not null)
                        throw ApiProblem.Unauthorized("invalid_token", "The access token is not valid. Sign in again.");
                    if (auth.Principal is { Identity.IsAuthenticated: true } caller)
                        cmd = cmd with { UserId = caller.UserId(), DeviceId = caller.DeviceId() };
                }
                return TypedResults.Ok(await bus.InvokeAsync<RefreshResponse>(cmd, ct));
            })
            .WithName("Refresh")
            .Example(new Refresh(ApiExamples.RefreshToken), new RefreshResponse(ApiExamples.Token, ApiExamples.TokenExpiresAt) { RefreshToken = ApiExamples.RefreshToken }).AllowAnonymous()
            .WithSummary("Rotate a refresh token, or extend a still-valid access token (body-less)")
            .Accepts<Refresh>(isOptional: true, "application/json")
            .Produces<RefreshResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401);
}
