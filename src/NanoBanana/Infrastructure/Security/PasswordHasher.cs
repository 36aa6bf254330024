using System.Security.Cryptography;
using System.Text;
using NanoBanana.Infrastructure.Http;

namespace NanoBanana.Infrastructure.Security;

/// <summary>
/// PBKDF2-HMAC-SHA256, 600,000 iterations (OWASP's 2023 figure), 16-byte random salt, 32-byte key.
/// Stored as <c>pbkdf2-sha256$iterations$salt$key</c> so the cost can be raised later and old
/// hashes still verify. Comparisons are constant-time. The request paths hash through
/// <see cref="HashAsync"/> / <see cref="VerifyAsync"/>: at most <c>concurrency</c> hashes run at once (by default
/// half the cores) and a short line waits, so a flood of sign-ins cannot take every core; past that the caller gets
/// 503 with Retry-After. Each hash runs on a thread of its own, not the thread pool's: a quarter of a second of
/// CPU on a pool thread (of the two a 2-core machine starts with) left every other request waiting for the pool to grow.
/// </summary>
public sealed class PasswordHasher
{
    const string Scheme = "pbkdf2-sha256";
    const int SaltBytes = 16, KeyBytes = 32;
    public int Iterations { get; }

    readonly SemaphoreSlim _slots;
    readonly int _maxInLine;
    readonly TimeSpan _maxWait;
    int _inLine;

    // Checked in place of an unknown user's hash: deriving against it costs the same time as checking a real
    // user, so an unknown email cannot be told from a wrong password by timing. Its key is random bytes, not a
    // derivation: nothing derives to it, and start-up does not pay a full hash (a fifth of a second of CPU).
    readonly string _decoy;

    public PasswordHasher(int iterations = 600_000, int concurrency = 0, TimeSpan? maxWait = null)
    {
        Iterations = iterations;
        var slots = concurrency > 0 ? concurrency : Math.Max(1, Environment.ProcessorCount / 2);
        _slots = new SemaphoreSlim(slots, slots);
        _maxInLine = slots * 8;
        _maxWait = maxWait ?? TimeSpan.FromSeconds(2);
        _decoy = $"{Scheme}${Iterations}${Convert.ToBase64String(RandomNumberGenerator.GetBytes(SaltBytes))}${Convert.ToBase64String(RandomNumberGenerator.GetBytes(KeyBytes))}";
    }

    public async Task<string> HashAsync(string password, CancellationToken ct = default)
    {
        await EnterSlot(ct);
        try { return await OffThePool(() => Hash(password)); }
        finally { _slots.Release(); }
    }

    public async Task<bool> VerifyAsync(string password, string? stored, CancellationToken ct = default)
    {
        await EnterSlot(ct);
        try { return await OffThePool(() => Verify(password, stored)); }
        finally { _slots.Release(); }
    }

    // LongRunning: a thread of its own for the hash (a few at a time, each far longer than starting a thread).
    static Task<T> OffThePool<T>(Func<T> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    async Task EnterSlot(CancellationToken ct)
    {
        if (Interlocked.Increment(ref _inLine) > _maxInLine)
        {
            Interlocked.Decrement(ref _inLine);
            throw Busy();
        }
        try
        {
            if (!await _slots.WaitAsync(_maxWait, ct)) throw Busy();
        }
        finally
        {
            Interlocked.Decrement(ref _inLine);
        }
    }

    static ApiProblem Busy() =>
        new(StatusCodes.Status503ServiceUnavailable, "busy", "The service is busy checking passwords. Try again in a moment.")
        { RetryAfter = TimeSpan.FromSeconds(1), IsLoadShed = true };

    public string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var key = Derive(password, salt, Iterations);
        return $"{Scheme}${Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(key)}";
    }

    public bool Verify(string password, string? stored)
    {
        var parts = (stored ?? _decoy).Split('$');
        if (parts.Length != 4 || parts[0] != Scheme || !int.TryParse(parts[1], out var iterations))
        {
            parts = _decoy.Split('$');
            iterations = Iterations;
            stored = null;
        }
        var expected = Convert.FromBase64String(parts[3]);
        var actual = Derive(password, Convert.FromBase64String(parts[2]), iterations);
        return CryptographicOperations.FixedTimeEquals(actual, expected) && stored is not null;
    }

    static byte[] Derive(string password, byte[] salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, KeyBytes);
}
