using System.Globalization;
using Microsoft.AspNetCore.OutputCaching;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Security;

namespace NanoBanana.Infrastructure.Http;

/// <summary>
/// Hot reads of a user's own data (a session, the session list, a page of messages) answered from
/// memory while that user's data has not changed. Every change to a user's data appends an event to the
/// user's log before the change is acknowledged (the realtime contract: other devices learn of every
/// change from it), so the log's seq is a version of everything the user can read. A cached answer is
/// keyed by the user, the route, its query and that seq: one Redis GET tells whether it still holds, and
/// the answer after any acknowledged write, on any instance, is read afresh. Answers are kept at most
/// <c>READ_CACHE_SECONDS</c> (a bound for the rare change whose event could not be appended, and for a
/// Redis that lost its last second of writes and reuses a seq), in at most <c>READ_CACHE_MB</c> per
/// instance; only 200 answers are kept.
/// </summary>
public static class UserDataCache
{
    public const string Policy = "user-data";

    public static IServiceCollection AddUserDataCache(this IServiceCollection services, ReadCacheSettings settings)
    {
        services.AddOutputCache(o =>
        {
            o.SizeLimit = Math.Max(1, settings.Megabytes) * 1024L * 1024;
            o.MaximumBodySize = 1024 * 1024;
            o.DefaultExpirationTimeSpan = TimeSpan.FromSeconds(settings.Seconds);
            o.AddPolicy(Policy, new VersionedByUserLog(settings.Megabytes > 0, TimeSpan.FromSeconds(settings.Seconds), new SecondReadAdmission()));
        });
        return services;
    }

    /// <summary>Marks a GET route whose answer depends only on the caller's own data and the request.</summary>
    public static TBuilder CachedPerUserVersion<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.CacheOutput(Policy);

    sealed class VersionedByUserLog(bool enabled, TimeSpan lifetime, SecondReadAdmission admission) : IOutputCachePolicy
    {
        public async ValueTask CacheRequestAsync(OutputCacheContext context, CancellationToken cancellation)
        {
            var http = context.HttpContext;
            if (!enabled || !HttpMethods.IsGet(http.Request.Method) || http.User.Identity?.IsAuthenticated != true) return;
            var userId = http.User.UserId();
            // Read before the route reads its data: what the route then reads is at least this version.
            var seq = await http.RequestServices.GetRequiredService<EventLog>().LastSeq(userId);
            context.EnableOutputCaching = true;
            context.AllowCacheLookup = true;
            // Stored from its second read at this version: see SecondReadAdmission.
            context.AllowCacheStorage = admission.ReadBefore(userId, seq, http.Request.Path, http.Request.QueryString);
            // No request coalescing: it puts every hit of a key through a shared dispatcher (one
            // user's concurrent reads queued behind a lock), to spare at most a few of that user's misses.
            context.AllowLocking = false;
            context.ResponseExpirationTimeSpan = lifetime;
            context.CacheVaryByRules.QueryKeys = "*";
            context.CacheVaryByRules.VaryByValues["user"] = userId;
            context.CacheVaryByRules.VaryByValues["seq"] = seq.ToString(CultureInfo.InvariantCulture);
        }

        public ValueTask ServeFromCacheAsync(OutputCacheContext context, CancellationToken cancellation) => ValueTask.CompletedTask;

        public ValueTask ServeResponseAsync(OutputCacheContext context, CancellationToken cancellation)
        {
            if (context.HttpContext.Response.StatusCode != StatusCodes.Status200OK) context.AllowCacheStorage = false;
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// Admits an answer into the cache on its second read at the same version, never on its first. Most
    /// answers of a user who is changing things are read once: the next change makes them stale before
    /// anyone asks again. Stored, each would stay in memory up to <c>READ_CACHE_SECONDS</c> for nothing,
    /// long enough to reach the collector's oldest generation and die there, which grows the process
    /// (docs/BENCHMARKS.md, "Soak: memory with the read cache"). An answer read twice at one version
    /// (a reload, a second device, a client polling) is likely to be read again. Remembers fingerprints
    /// of recent reads in a fixed table: no allocation, a few hundred KB, and a collision only costs one
    /// more miss or an early admission, never a wrong answer (the cache key itself is exact).
    /// </summary>
    internal sealed class SecondReadAdmission
    {
        const int Slots = 1 << 16; // a power of two
        readonly int[] _seen = new int[Slots];

        /// <summary>True when this exact read was seen recently; remembers it otherwise.</summary>
        public bool ReadBefore(string userId, long seq, PathString path, QueryString query)
        {
            // string.GetHashCode is seeded per process: fingerprints cannot be aimed at each other from outside.
            var hash = HashCode.Combine(userId, seq, path.Value, query.Value);
            var fingerprint = hash == 0 ? 1 : hash; // 0 marks an empty slot
            ref var slot = ref _seen[hash & (Slots - 1)];
            if (Volatile.Read(ref slot) == fingerprint) return true;
            Volatile.Write(ref slot, fingerprint);
            return false;
        }
    }
}
