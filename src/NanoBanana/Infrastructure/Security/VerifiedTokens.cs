using System.Collections.Concurrent;
using System.Security.Claims;

namespace NanoBanana.Infrastructure.Security;

/// <summary>
/// Access tokens this instance has already verified (signature, issuer, audience, lifetime), kept for a
/// short while: a device sends the same token with every call, and verifying it each time was a fifth of
/// the CPU of a simple read. Only the exact token string is recognised, and an entry ends at the latest
/// when the token would fail lifetime validation (its expiry plus the same clock skew), so the answer is
/// the one the validator would give. An entry is kept at most <c>keepFor</c> (2 minutes) and then verified
/// again: the set holds the tokens of the last two minutes (it stops growing after two minutes of steady
/// traffic), each as a slim copy of its claims (about 2 KB, not the parsed token). It is bounded: when it
/// is full, expired entries are swept, and a token that still finds no room is simply verified each time.
/// </summary>
public sealed class VerifiedTokens(TimeProvider clock, TimeSpan clockSkew, int capacity = 10_000, TimeSpan? keepFor = null)
{
    readonly TimeSpan _keepFor = keepFor ?? TimeSpan.FromMinutes(2);

    readonly ConcurrentDictionary<string, Entry> _byToken = new(StringComparer.Ordinal);
    ConcurrentDictionary<string, Entry>.AlternateLookup<ReadOnlySpan<char>> ByTokenSpan => _byToken.GetAlternateLookup<ReadOnlySpan<char>>();

    sealed record Entry(ClaimsIdentity Identity, DateTimeOffset ValidUntil);

    long _nextSweepTicks;

    public int Count => _byToken.Count;

    /// <summary>
    /// The caller of a token verified earlier and still valid: a principal of its own around the remembered
    /// identity, which is shared and read only (nothing in this app adds claims to a caller).
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
        var now = clock.GetUtcNow();
        var validUntil = new DateTimeOffset(DateTime.SpecifyKind(expiresUtc, DateTimeKind.Utc)) + clockSkew;
        if (validUntil > now + _keepFor) validUntil = now + _keepFor;
        // Expired entries of tokens that never come back are swept once per keepFor, and whenever the set is full.
        if (_byToken.Count >= capacity || now >= new DateTimeOffset(Interlocked.Read(ref _nextSweepTicks), TimeSpan.Zero))
        {
            Interlocked.Exchange(ref _nextSweepTicks, (now + _keepFor).UtcTicks);
            foreach (var (key, entry) in _byToken)
                if (entry.ValidUntil <= now) _byToken.TryRemove(key, out _);
            if (_byToken.Count >= capacity) return;
        }
        // The claims alone: the validator's identity also holds the parsed token (its header, payload, raw text).
        var slim = new ClaimsIdentity(identity.Claims.Select(c => new Claim(c.Type, c.Value, c.ValueType, c.Issuer, c.OriginalIssuer)),
            identity.AuthenticationType, identity.NameClaimType, identity.RoleClaimType);
        _byToken[token] = new Entry(slim, validUntil);
    }
}
