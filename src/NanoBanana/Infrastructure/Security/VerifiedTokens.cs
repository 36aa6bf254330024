using System.Collections.Concurrent;
using System.Security.Claims;

namespace NanoBanana.Infrastructure.Security;

/// <summary>
/// Access tokens this instance has already verified (signature, issuer, audience, lifetime), kept until
/// they expire: a device sends the same token with every call for up to 15 minutes, and verifying it
/// each time was a fifth of the CPU of a simple read. Only the exact token string is recognised, and an
/// entry ends when the token would fail lifetime validation (its expiry plus the same clock skew), so
/// the answer is the one the validator would give. The cache is bounded: when it is full, expired
/// entries are swept, and a token that still finds no room is simply verified again next time.
/// </summary>
public sealed class VerifiedTokens(TimeProvider clock, TimeSpan clockSkew, int capacity = 100_000)
{
    readonly ConcurrentDictionary<string, Entry> _byToken = new(StringComparer.Ordinal);
    ConcurrentDictionary<string, Entry>.AlternateLookup<ReadOnlySpan<char>> ByTokenSpan => _byToken.GetAlternateLookup<ReadOnlySpan<char>>();

    sealed record Entry(ClaimsIdentity Identity, DateTimeOffset ValidUntil);

    public int Count => _byToken.Count;

    /// <summary>
    /// The caller of a token verified earlier and still valid: a principal of its own around the identity the
    /// validator made, which is shared and read only (nothing in this app adds claims to a caller).
    /// </summary>
    public ClaimsPrincipal? Find(ReadOnlySpan<char> token)
    {
        if (!ByTokenSpan.TryGetValue(token, out var key, out var entry)) return null;
        if (entry.ValidUntil > clock.GetUtcNow()) return new ClaimsPrincipal(entry.Identity);
        _byToken.TryRemove(new KeyValuePair<string, Entry>(key, entry));
        return null;
    }

    public void Remember(string token, ClaimsIdentity identity, DateTime expiresUtc)
    {
        var validUntil = new DateTimeOffset(DateTime.SpecifyKind(expiresUtc, DateTimeKind.Utc)) + clockSkew;
        if (_byToken.Count >= capacity)
        {
            var now = clock.GetUtcNow();
            foreach (var (key, entry) in _byToken)
                if (entry.ValidUntil <= now) _byToken.TryRemove(key, out _);
            if (_byToken.Count >= capacity) return;
        }
        _byToken[token] = new Entry(identity, validUntil);
    }
}
