using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace HostileSweep;

/// <summary>
/// Access tokens a hostile client could present: unsigned (alg none), signed with a guessed secret,
/// a real token with its payload edited, and (when the sweep knows the app's secret, as an insider or
/// a leaked old secret would) expired, wrong-audience or wrong-algorithm tokens.
/// </summary>
public static class Tokens
{
    public const string Issuer = "nanobanana";
    public const string Audience = "nanobanana-api";

    public static string Encode(object header, JsonObject payload, byte[]? key, string alg = "HS256")
    {
        var head = B64(JsonSerializer.SerializeToUtf8Bytes(header));
        var body = B64(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        var signingInput = $"{head}.{body}";
        if (key is null) return signingInput + ".";
        var sig = alg switch
        {
            "HS512" => HMACSHA512.HashData(key, Encoding.ASCII.GetBytes(signingInput)),
            "HS384" => HMACSHA384.HashData(key, Encoding.ASCII.GetBytes(signingInput)),
            _ => HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(signingInput)),
        };
        return signingInput + "." + B64(sig);
    }

    public static JsonObject Claims(string sub, string did, DateTimeOffset issued, TimeSpan lifetime,
        string issuer = Issuer, string audience = Audience) => new()
    {
        ["sub"] = sub,
        ["did"] = did,
        ["jti"] = Guid.NewGuid().ToString("N"),
        ["iss"] = issuer,
        ["aud"] = audience,
        ["iat"] = issued.ToUnixTimeSeconds(),
        ["nbf"] = issued.ToUnixTimeSeconds(),
        ["exp"] = (issued + lifetime).ToUnixTimeSeconds(),
    };

    /// <summary>The claims of a real token (its middle part), to edit and re-encode.</summary>
    public static JsonObject ReadClaims(string token) =>
        JsonNode.Parse(Unb64(token.Split('.')[1]))!.AsObject();

    /// <summary>Forged tokens that name <paramref name="victimId"/>; every one must be refused (401).</summary>
    public static IEnumerable<(string Name, string Header)> Forged(string victimId, string victimDevice, string victimToken, string? secret)
    {
        var now = DateTimeOffset.UtcNow;
        var claims = Claims(victimId, victimDevice, now, TimeSpan.FromMinutes(15));
        yield return ("alg none", Bearer(Encode(new { alg = "none", typ = "JWT" }, claims, null)));
        yield return ("alg None", Bearer(Encode(new { alg = "None", typ = "JWT" }, claims, null)));
        yield return ("guessed secret", Bearer(Encode(new { alg = "HS256", typ = "JWT" }, claims, Encoding.UTF8.GetBytes("secret"))));
        yield return ("empty secret signature", Bearer(Encode(new { alg = "HS256", typ = "JWT" }, claims, new byte[32])));
        // A real token of the victim with its payload edited (lifetime extended by a day): the signature no longer matches.
        var parts = victimToken.Split('.');
        var edited = ReadClaims(victimToken);
        edited["exp"] = now.AddDays(1).ToUnixTimeSeconds();
        yield return ("edited payload", Bearer($"{parts[0]}.{B64(Encoding.UTF8.GetBytes(edited.ToJsonString()))}.{parts[2]}"));
        yield return ("signature stripped", Bearer($"{parts[0]}.{parts[1]}."));
        yield return ("header alg none on real token", Bearer($"{B64("{\"alg\":\"none\",\"typ\":\"JWT\"}"u8.ToArray())}.{parts[1]}."));
        yield return ("garbage", Bearer("not-a-token"));
        yield return ("empty bearer", "Bearer ");
        yield return ("scheme only", "Bearer");
        yield return ("basic auth", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{victimId}:password")));
        yield return ("20 KB token", Bearer(new string('A', 20_000)));
        yield return ("token with NUL", Bearer(parts[0] + "%00." + parts[1] + "." + parts[2]));
        if (secret is null) yield break;
        var key = Encoding.UTF8.GetBytes(secret);
        yield return ("expired", Bearer(Encode(new { alg = "HS256", typ = "JWT" }, Claims(victimId, victimDevice, now.AddHours(-2), TimeSpan.FromMinutes(15)), key)));
        yield return ("not yet valid", Bearer(Encode(new { alg = "HS256", typ = "JWT" }, Claims(victimId, victimDevice, now.AddHours(2), TimeSpan.FromMinutes(15)), key)));
        yield return ("wrong audience", Bearer(Encode(new { alg = "HS256", typ = "JWT" }, Claims(victimId, victimDevice, now, TimeSpan.FromMinutes(15), audience: "other-api"), key)));
        yield return ("wrong issuer", Bearer(Encode(new { alg = "HS256", typ = "JWT" }, Claims(victimId, victimDevice, now, TimeSpan.FromMinutes(15), issuer: "evil"), key)));
        yield return ("HS512 with the real secret", Bearer(Encode(new { alg = "HS512", typ = "JWT" }, claims, key, "HS512")));
        var noExp = Claims(victimId, victimDevice, now, TimeSpan.FromMinutes(15));
        noExp.Remove("exp");
        yield return ("no expiry", Bearer(Encode(new { alg = "HS256", typ = "JWT" }, noExp, key)));
    }

    /// <summary>Well-signed tokens (the app's secret) whose subject is hostile: the app must not trust a sub to be a well-formed id.</summary>
    public static IEnumerable<(string Name, string Header)> HostileSubjects(string secret)
    {
        var key = Encoding.UTF8.GetBytes(secret);
        var now = DateTimeOffset.UtcNow;
        foreach (var sub in new[] { "*", "}:x{", "{u:x}", "../../etc", "\r\nFLUSHALL\r\n", new string('a', 5000), "nonexistent0000000000000000000000" })
            yield return ($"signed sub {Probe.Shorten(sub.Replace("\r\n", "\\r\\n"), 20)}",
                Bearer(Encode(new { alg = "HS256", typ = "JWT" }, Claims(sub, "d", now, TimeSpan.FromMinutes(15)), key)));
    }

    static string Bearer(string token) => "Bearer " + token;

    public static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static byte[] Unb64(string s)
    {
        s = s.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s + new string('=', (4 - s.Length % 4) % 4));
    }
}
