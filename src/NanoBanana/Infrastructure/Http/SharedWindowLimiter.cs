using System.Threading.RateLimiting;
using StackExchange.Redis;

namespace NanoBanana.Infrastructure.Http;

/// <summary>
/// A fixed one-minute window whose count lives in Redis, shared by every instance, taken by each instance
/// in growing batches rather than one round trip per request. The first request of a window reserves 1
/// permit in Redis, the next refill 2, then 4... (at most a twentieth of the limit at once); the instance
/// spends its reserved permits without asking Redis again. Redis counts reservations, so all instances
/// together never pass the limit; the price is that permits one instance reserved and did not use are
/// lost to the others for that minute (at most a twentieth of the limit per instance). Once Redis says
/// the window is spent, the instance refuses the rest of the minute without asking again, which keeps a
/// flood of refused requests off Redis too.
/// </summary>
public sealed class SharedWindowLimiter : RateLimiter
{
    static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    // INCRBY and, for a new window's key, its expiry, in one step: a key never outlives its window by much.
    static readonly LuaScript Reserve = LuaScript.Prepare(
        "local n = redis.call('INCRBY', @key, @batch) " +
        "if n == tonumber(@batch) then redis.call('PEXPIRE', @key, @ttl) end " +
        "return n");

    readonly string _keyPrefix;
    readonly int _limit;
    readonly int _maxBatch;
    readonly IConnectionMultiplexer _redis;
    readonly TimeProvider _clock;
    readonly object _gate = new();

    long _window = -1;        // the window (minutes since the epoch) the fields below belong to
    int _inHand;              // permits reserved in Redis and not used yet
    int _nextBatch = 1;
    bool _spent;              // Redis said this window has no permit left
    Task? _refill;            // the reservation in flight; concurrent requests wait for it
    long _lastUsed;

    /// <param name="keyPrefix">The partition's key; the window's number is appended (keep a hash tag in it).</param>
    public SharedWindowLimiter(string keyPrefix, int limit, IConnectionMultiplexer redis, TimeProvider clock)
    {
        _keyPrefix = keyPrefix;
        _limit = Math.Max(1, limit);
        _maxBatch = Math.Max(1, _limit / 20);
        _redis = redis;
        _clock = clock;
        _lastUsed = clock.GetTimestamp();
    }

    public override TimeSpan? IdleDuration => _clock.GetElapsedTime(Interlocked.Read(ref _lastUsed));

    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_gate) return new RateLimiterStatistics { CurrentAvailablePermits = _inHand };
    }

    /// <summary>Succeeds only with a permit already in hand; otherwise the caller goes on to <see cref="AcquireAsyncCore"/>.</summary>
    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        lock (_gate)
        {
            Interlocked.Exchange(ref _lastUsed, _clock.GetTimestamp());
            var window = CurrentWindow(out var retryAfter);
            if (_spent) return new Lease(false, retryAfter);
            if (_inHand >= permitCount) { _inHand -= permitCount; return Lease.Acquired; }
            return new Lease(false, null);
        }
    }

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        if (permitCount > _limit) return new Lease(false, Window);
        while (true)
        {
            Task refill;
            lock (_gate)
            {
                Interlocked.Exchange(ref _lastUsed, _clock.GetTimestamp());
                var window = CurrentWindow(out var retryAfter);
                if (_spent) return new Lease(false, retryAfter);
                if (_inHand >= permitCount) { _inHand -= permitCount; return Lease.Acquired; }
                if (_refill is null)
                {
                    refill = Refill(window, Math.Max(_nextBatch, permitCount));
                    // A reservation that finished at once (Redis refused it synchronously) has already
                    // cleared the field: keeping it would make every later request wait on a dead task.
                    if (!refill.IsCompleted) _refill = refill;
                }
                else refill = _refill;
            }
            await refill.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    async Task Refill(long window, int batch)
    {
        try
        {
            var key = $"{_keyPrefix}:{window}";
            var ttl = (long)(Window.TotalMilliseconds * 2);
            var total = (long)await _redis.GetDatabase().ScriptEvaluateAsync(Reserve, new { key = (RedisKey)key, batch, ttl }).ConfigureAwait(false);
            var granted = (int)Math.Clamp(_limit - (total - batch), 0, batch);
            lock (_gate)
            {
                if (_window != window) return; // the minute turned while Redis answered: that reservation is spent
                _inHand += granted;
                _spent = granted < batch;
                _nextBatch = Math.Min(batch * 2, _maxBatch);
            }
        }
        finally
        {
            lock (_gate) _refill = null;
        }
    }

    /// <summary>The current window's number; a new window starts with nothing in hand. Call under the gate.</summary>
    long CurrentWindow(out TimeSpan retryAfter)
    {
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        var windowMs = (long)Window.TotalMilliseconds;
        var window = now / windowMs;
        retryAfter = TimeSpan.FromMilliseconds(Math.Max(1000, (window + 1) * windowMs - now));
        if (window != _window)
        {
            _window = window;
            _inHand = 0;
            _nextBatch = 1;
            _spent = false;
        }
        return window;
    }

    sealed class Lease(bool acquired, TimeSpan? retryAfter) : RateLimitLease
    {
        public static readonly Lease Acquired = new(true, null);

        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = retryAfter;
            return retryAfter is not null && metadataName == MetadataName.RetryAfter.Name;
        }

        protected override void Dispose(bool disposing) { }
    }
}
