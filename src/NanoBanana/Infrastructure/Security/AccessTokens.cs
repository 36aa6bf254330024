using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using NanoBanana.Infrastructure.Configuration;

namespace NanoBanana.Infrastructure.Security;

/// <summary>
/// Short-lived access tokens: JWT, HS256 with the configured secret. The token names the user
/// (<c>sub</c>) and the device (<c>did</c>, the refresh-token family it was issued with).
/// </summary>
public sealed class AccessTokens(JwtSettings settings, TimeProvider clock)
{
    public const string Audience = "nanobanana-api";
    public const string DeviceClaim = "did";

    readonly SymmetricSecurityKey _key = new(Encoding.UTF8.GetBytes(settings.Secret));
    readonly JsonWebTokenHandler _handler = new();

    public TimeSpan Lifetime => TimeSpan.FromMinutes(settings.AccessTokenMinutes);

    /// <summary>How far a token's times may be off the app's clock.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(5);

    public (string Token, DateTimeOffset ExpiresAt) Issue(string userId, string deviceId, DateTimeOffset? notAfter = null)
    {
        var now = clock.GetUtcNow();
        var expires = now + Lifetime;
        if (notAfter is { } limit && limit < expires) expires = limit;
        var token = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.Issuer,
            Audience = Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            Subject = new ClaimsIdentity([
                new Claim(JwtRegisteredClaimNames.Sub, userId),
                new Claim(DeviceClaim, deviceId),
                new Claim(JwtRegisteredClaimNames.Jti, Guid.NewGuid().ToString("N")),
            ]),
            SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.HmacSha256),
        });
        return (token, expires);
    }

    public TokenValidationParameters ValidationParameters() => new()
    {
        ValidIssuer = settings.Issuer,
        ValidAudience = Audience,
        IssuerSigningKey = _key,
        // Only HS256: "none" and every other algorithm are refused.
        ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
        ValidateIssuer = true,
        ValidateAudience = true,
        ValidateLifetime = true,
        ValidateIssuerSigningKey = true,
        RequireExpirationTime = true,
        RequireSignedTokens = true,
        ClockSkew = ClockSkew,
        // The lifetime is judged by the app's clock (TimeProvider), with the exceptions of the default check.
        LifetimeValidator = ValidLifetime,
        NameClaimType = JwtRegisteredClaimNames.Sub,
    };

    bool ValidLifetime(DateTime? notBefore, DateTime? expires, SecurityToken _, TokenValidationParameters p)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        if (expires is not { } end) throw new SecurityTokenNoExpirationException("The token has no expiry.");
        if (notBefore is { } start && start > now + p.ClockSkew)
            throw new SecurityTokenNotYetValidException("The token is not valid yet.") { NotBefore = start };
        if (end < now - p.ClockSkew) throw new SecurityTokenExpiredException("The token has expired.") { Expires = end };
        return true;
    }

    /// <summary>Validates a token outside the HTTP auth pipeline (the WebSocket query token).</summary>
    public async Task<ClaimsPrincipal?> Validate(string? token)
    {
        if (string.IsNullOrEmpty(token)) return null;
        var result = await _handler.ValidateTokenAsync(token, ValidationParameters());
        return result.IsValid ? new ClaimsPrincipal(result.ClaimsIdentity) : null;
    }
}

public static class CallerExtensions
{
    /// <summary>The signed-in caller's user id. Only reached behind RequireAuthorization.</summary>
    public static string UserId(this ClaimsPrincipal user) =>
        user.FindUserId() ?? throw new InvalidOperationException("No authenticated user on this request.");

    public static string? FindUserId(this ClaimsPrincipal user) =>
        user.FindFirstValue(JwtRegisteredClaimNames.Sub) ?? user.FindFirstValue(ClaimTypes.NameIdentifier);

    public static string DeviceId(this ClaimsPrincipal user) =>
        user.FindFirstValue(AccessTokens.DeviceClaim) ?? "";
}
