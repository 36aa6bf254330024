using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace NanoBanana.Tests;

/// <summary>Hand-made access tokens for the cases the service must refuse.</summary>
public static class TestTokens
{
    public static string Signed(string userId, string deviceId, DateTime issued, DateTime expires, string secret = AppFixture.JwtSecret) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "nanobanana",
            Audience = "nanobanana-api",
            IssuedAt = issued,
            NotBefore = issued,
            Expires = expires,
            Subject = new ClaimsIdentity([new Claim("sub", userId), new Claim("did", deviceId)]),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256),
        });

    /// <summary>The same claims as a real token, with <c>alg: none</c> and no signature.</summary>
    public static string Unsigned(string validToken)
    {
        var payload = validToken.Split('.')[1];
        return $"{Base64Url("{\"alg\":\"none\",\"typ\":\"JWT\"}")}.{payload}.";
    }

    /// <summary>A real token whose payload was changed (another subject) without re-signing.</summary>
    public static string Tampered(string validToken, string otherUserId)
    {
        var parts = validToken.Split('.');
        var json = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1]));
        var changed = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        changed["sub"] = otherUserId;
        return $"{parts[0]}.{Base64Url(changed.ToJsonString())}.{parts[2]}";
    }

    public static string DeviceOf(string validToken) =>
        new JsonWebToken(validToken).GetClaim("did").Value;

    static string Base64Url(string s) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(s));
}
