using Microsoft.AspNetCore.Authentication.JwtBearer;
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
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme)
            .AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters = new AccessTokens(jwt, TimeProvider.System).ValidationParameters();
                o.Events = new JwtBearerEvents
                {
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
}
