using System.Security.Cryptography;
using System.Text;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;

namespace NanoBanana.Features.Auth;

/// <summary>
/// Long-lived refresh tokens, one family per signed-in device. A token reads
/// <c>&lt;userId&gt;.&lt;familyId&gt;.&lt;secret&gt;</c>; Redis keeps only its SHA-256, as the family's
/// <c>current</c> field. Every refresh rotates the token; presenting a token that was already
/// rotated out means it was copied, so the whole family (that device) is revoked.
/// The secret is a random nonce followed by a MAC of user, family and nonce under a key derived from
/// the JWT secret: only a token this service issued can trigger that revocation. The user and family
/// ids are not secret (the family is the access token's <c>did</c> claim), so without the MAC anybody
/// could sign any device out by presenting a made-up secret.
/// </summary>
public sealed class RefreshTokens(IDatabase db, JwtSettings settings, TimeProvider clock, SignIns signIns)
{
    const int NonceBytes = 24, MacBytes = 18;
    static readonly int NonceChars = Base64Url(new byte[NonceBytes]).Length, MacChars = Base64Url(new byte[MacBytes]).Length;

    readonly byte[] _macKey = HMACSHA256.HashData(Encoding.UTF8.GetBytes(settings.Secret), "nanobanana/refresh-tokens/v1"u8);

    public enum Outcome { Rotated, Unknown, Reused }

    public sealed record Issued(string Token, string FamilyId, DateTimeOffset ExpiresAt);

    // Compare-and-rotate in one step, so two racing refreshes with one token cannot both win.
    static readonly LuaScript RotateScript = LuaScript.Prepare("""
        local current = redis.call('HGET', @family, 'current')
        if not current then return 0 end
        if current ~= @presented then
          if @issued ~= '1' then return 0 end
          redis.call('DEL', @family)
          redis.call('SREM', @families, @familyId)
          return -1
        end
        redis.call('HSET', @family, 'current', @next, 'exp', @exp)
        redis.call('PEXPIREAT', @family, @exp)
        return 1
        """);

    TimeSpan Lifetime => TimeSpan.FromDays(settings.RefreshTokenDays);

    public async Task<Issued> StartDevice(string userId)
    {
        var familyId = Guid.CreateVersion7().ToString("N");
        var (token, hash) = NewToken(userId, familyId);
        var expires = clock.GetUtcNow() + Lifetime;
        var tx = db.CreateTransaction();
        _ = tx.HashSetAsync(Keys.RefreshFamily(userId, familyId), [
            new("current", hash), new("exp", expires.ToUnixTimeMilliseconds()),
            new("created", clock.GetUtcNow().ToUnixTimeMilliseconds())]);
        _ = tx.KeyExpireAsync(Keys.RefreshFamily(userId, familyId), expires.UtcDateTime);
        _ = tx.SetAddAsync(Keys.RefreshFamilies(userId), familyId);
        await tx.ExecuteAsync();
        return new Issued(token, familyId, expires);
    }

    public async Task<(Outcome, Issued?)> Rotate(string presented)
    {
        if (!TryParse(presented, out var userId, out var familyId)) return (Outcome.Unknown, null);
        var (next, nextHash) = NewToken(userId, familyId);
        var expires = clock.GetUtcNow() + Lifetime;
        var result = (int)await RotateScript.EvaluateAsync(db, new
        {
            family = (RedisKey)Keys.RefreshFamily(userId, familyId),
            families = (RedisKey)Keys.RefreshFamilies(userId),
            familyId,
            presented = Hash(presented),
            // Only a token we issued (its MAC holds) counts as a reuse; a made-up one is merely unknown.
            issued = IssuedHere(presented) ? "1" : "0",
            next = nextHash,
            exp = expires.ToUnixTimeMilliseconds(),
        });
        // A revoked family ends the device's sockets and access tokens too.
        if (result == -1) await signIns.Changed(userId);
        return result switch
        {
            1 => (Outcome.Rotated, new Issued(next, familyId, expires)),
            -1 => (Outcome.Reused, null),
            _ => (Outcome.Unknown, null),
        };
    }

    /// <summary>When the device's refresh family ends, or null when it was logged out or revoked.</summary>
    public async Task<DateTimeOffset?> DeviceExpiry(string userId, string familyId)
    {
        var exp = await db.HashGetAsync(Keys.RefreshFamily(userId, familyId), "exp");
        return exp.TryParse(out long ms) ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
    }

    /// <summary>The family a presented token belongs to, if it is the caller's.</summary>
    /// <summary>The user a presented token names (not yet proof of anything: <see cref="Rotate"/> checks it).</summary>
    public static string? UserOf(string token) => TryParse(token, out var userId, out _) ? userId : null;

    public static string? FamilyOf(string token, string userId) =>
        TryParse(token, out var owner, out var familyId) && owner == userId ? familyId : null;

    public async Task EndDevice(string userId, string familyId)
    {
        var tx = db.CreateTransaction();
        _ = tx.KeyDeleteAsync(Keys.RefreshFamily(userId, familyId));
        _ = tx.SetRemoveAsync(Keys.RefreshFamilies(userId), familyId);
        await tx.ExecuteAsync();
        await signIns.Changed(userId);
    }

    public async Task EndEveryDeviceBut(string userId, string keepFamilyId)
    {
        var families = await db.SetMembersAsync(Keys.RefreshFamilies(userId));
        var others = families.Select(f => f.ToString()).Where(f => f != keepFamilyId).ToArray();
        if (others.Length == 0) return;
        var tx = db.CreateTransaction();
        _ = tx.KeyDeleteAsync(others.Select(f => (RedisKey)Keys.RefreshFamily(userId, f)).ToArray());
        _ = tx.SetRemoveAsync(Keys.RefreshFamilies(userId), others.Select(f => (RedisValue)f).ToArray());
        await tx.ExecuteAsync();
        await signIns.Changed(userId);
    }

    (string Token, string Hash) NewToken(string userId, string familyId)
    {
        var nonce = Base64Url(RandomNumberGenerator.GetBytes(NonceBytes));
        var token = $"{userId}.{familyId}.{nonce}{Mac(userId, familyId, nonce)}";
        return (token, Hash(token));
    }

    string Mac(string userId, string familyId, string nonce) =>
        Base64Url(HMACSHA256.HashData(_macKey, Encoding.UTF8.GetBytes($"{userId}.{familyId}.{nonce}"))[..MacBytes]);

    /// <summary>True when the token's secret carries our MAC, i.e. this service issued it at some point.</summary>
    bool IssuedHere(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3 || parts[2].Length != NonceChars + MacChars) return false;
        var expected = Encoding.ASCII.GetBytes(Mac(parts[0], parts[1], parts[2][..NonceChars]));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(parts[2][NonceChars..]));
    }

    static bool TryParse(string token, out string userId, out string familyId)
    {
        userId = familyId = "";
        var parts = token.Split('.');
        if (parts.Length != 3 || !IsId(parts[0]) || !IsId(parts[1]) || parts[2].Length < 16) return false;
        (userId, familyId) = (parts[0], parts[1]);
        return true;
    }

    static bool IsId(string s) => s.Length is > 0 and <= 64 && s.All(char.IsAsciiLetterOrDigit);

    static string Hash(string token) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
