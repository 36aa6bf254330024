using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Http;

namespace NanoBanana.Infrastructure.Security;

public static class AuthSetup
{
    public static IServiceCollection AddTokenAuth(this IServiceCollection services, JwtSettings jwt)
    {
        services.AddSingleton(jwt);
        services.AddSingleton<AccessTokens>();
        services.AddSingleton<PasswordHasher>();
        var validation = new AccessTokens(jwt, TimeProvider.System).ValidationParameters();
        var verified = new VerifiedTokens(TimeProvider.System, validation.ClockSkew);
        services.AddSingleton(verified);
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme)
            .AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters = validation;
                o.Events = new JwtBearerEvents
                {
                    // A token this instance verified before and that is still valid skips the verification.
                    OnMessageReceived = ctx =>
                    {
                        if (BearerToken(ctx.Request) is { IsEmpty: false } token && verified.Find(token) is { } principal)
                        {
                            ctx.Principal = principal;
                            ctx.Success();
                        }
                        return Task.CompletedTask;
                    },
                    OnTokenValidated = ctx =>
                    {
                        if (ctx.SecurityToken is JsonWebToken token && ctx.Principal?.Identity is ClaimsIdentity identity)
                            verified.Remember(token.EncodedToken, identity, token.ValidTo);
                        return Task.CompletedTask;
                    },
                    OnChallenge = async ctx =>
                    {
                        ctx.HandleResponse();
                        var expired = ctx.AuthenticateFailure is Microsoft.IdentityModel.Tokens.SecurityTokenExpiredException;
                        ctx.Response.Headers.WWWAuthenticate = "Bearer";
                        await ProblemHandling.Write(ctx.HttpContext, 401,
                            expired ? "token_expired" : ctx.AuthenticateFailure is null ? "unauthorized" : "invalid_token",
                            expired ? "The access token has expired. Refresh it or sign in again."
                            : ctx.AuthenticateFailure is null ? "Sign in to continue: this route needs an access token."
                            : "The access token is not valid. Sign in again.");
                    },
                };
            });
        services.AddAuthorization();
        return services;
    }

    /// <summary>The token of an <c>Authorization: Bearer</c> header, read as the JWT handler reads it (without copying it).</summary>
    static ReadOnlySpan<char> BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.Count == 1 ? request.Headers.Authorization[0].AsSpan() : default;
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : default;
    }
}
