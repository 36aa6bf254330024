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
        services.AddSingleton(sp =>
        {
            var limits = sp.GetRequiredService<Settings>().Limits;
            return new PasswordHasher(limits.PasswordHashIterations, limits.PasswordHashConcurrency);
        });
        services.AddSingleton<SignIns>();
        services.AddHostedService(sp => sp.GetRequiredService<SignIns>());
        services.AddSingleton(sp => new VerifiedTokens(sp.GetRequiredService<TimeProvider>(), AccessTokens.ClockSkew));
        // The validation parameters come from the container's AccessTokens: token lifetimes follow the app's clock.
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<AccessTokens>((o, tokens) => o.TokenValidationParameters = tokens.ValidationParameters());
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme)
            .AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                o.Events = new JwtBearerEvents
                {
                    // A token this instance verified before and that is still valid skips the verification.
                    OnMessageReceived = async ctx =>
                    {
                        var verified = ctx.HttpContext.RequestServices.GetRequiredService<VerifiedTokens>();
                        if (BearerToken(ctx.Request) is not { IsEmpty: false } token || verified.Find(token) is not { } principal) return;
                        if (await StillSignedIn(ctx.HttpContext, principal))
                        {
                            ctx.Principal = principal;
                            ctx.Success();
                        }
                        else ctx.Fail(new SignInEndedException());
                    },
                    OnTokenValidated = async ctx =>
                    {
                        if (ctx.Principal is null || !await StillSignedIn(ctx.HttpContext, ctx.Principal))
                        {
                            ctx.Fail(new SignInEndedException());
                            return;
                        }
                        if (ctx.SecurityToken is JsonWebToken token && ctx.Principal.Identity is ClaimsIdentity identity)
                            ctx.HttpContext.RequestServices.GetRequiredService<VerifiedTokens>().Remember(token.EncodedToken, identity, token.ValidTo);
                    },
                    OnChallenge = async ctx =>
                    {
                        ctx.HandleResponse();
                        ctx.Response.Headers.WWWAuthenticate = "Bearer";
                        var (code, message) = ctx.AuthenticateFailure switch
                        {
                            null => ("unauthorized", "Sign in to continue: this route needs an access token."),
                            Microsoft.IdentityModel.Tokens.SecurityTokenExpiredException => ("token_expired", "The access token has expired. Refresh it or sign in again."),
                            SignInEndedException => ("signed_out", "This device has been signed out, or the account no longer exists. Sign in again."),
                            _ => ("invalid_token", "The access token is not valid. Sign in again."),
                        };
                        await ProblemHandling.Write(ctx.HttpContext, 401, code, message);
                    },
                };
            });
        services.AddAuthorization();
        return services;
    }

    static Task<bool> StillSignedIn(HttpContext http, ClaimsPrincipal principal) =>
        http.RequestServices.GetRequiredService<SignIns>().IsSignedIn(principal.FindFirstValue(JwtRegisteredClaimNames.Sub) ?? "", principal.DeviceId());

    /// <summary>The token of an <c>Authorization: Bearer</c> header, read as the JWT handler reads it (without copying it).</summary>
    static ReadOnlySpan<char> BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.Count == 1 ? request.Headers.Authorization[0].AsSpan() : default;
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : default;
    }
}

/// <summary>A well-signed token whose device was signed out, or whose account was deleted or disabled.</summary>
public sealed class SignInEndedException() : Exception("The device sign-in of this token has ended.");
