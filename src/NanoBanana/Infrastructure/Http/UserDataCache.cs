using System.Buffers;
using System.Collections.Concurrent;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Security;

namespace NanoBanana.Infrastructure.Http;

/// <summary>
/// Hot reads of a user's own data (a session, the session list, a page of messages) answered from
/// memory while that user's data has not changed. Every change to a user's data appends an event to the
/// user's log before the change is acknowledged (the realtime contract: other devices learn of every
/// change from it), so the log's seq is a version of everything the user can read. A kept answer is
/// found by the user, that seq, the path and the query: one Redis GET tells whether it still holds, and
/// the answer after any acknowledged write, on any instance, is read afresh. Answers are kept at most
/// <c>READ_CACHE_SECONDS</c> (a bound for the rare change whose event could not be appended, and for a
/// Redis that lost its last second of writes and hands out a seq again), in at most <c>READ_CACHE_MB</c>
/// per instance; only 200 answers are kept, from their second read (see <see cref="SecondReadAdmission"/>).
/// docs/decisions.md, "Read cache".
/// </summary>
public static class UserDataCache
{
    public static IServiceCollection AddUserDataCache(this IServiceCollection services, ReadCacheSettings settings)
    {
        services.AddSingleton(sp => new UserAnswers(settings, sp.GetRequiredService<TimeProvider>()));
        return services;
    }

    /// <summary>After authorization: an answer is only ever looked up for its own, signed-in user.</summary>
    public static IApplicationBuilder UseUserDataCache(this IApplicationBuilder app) => app.UseMiddleware<Middleware>();

    /// <summary>Marks a GET route whose answer depends only on the caller's own data and the request.</summary>
    public static TBuilder CachedPerUserVersion<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(Marker.Instance);

    sealed class Marker
    {
        public static readonly Marker Instance = new();
    }

    sealed class Middleware(RequestDelegate next, UserAnswers answers, EventLog events)
    {
        public async Task InvokeAsync(HttpContext http)
        {
            if (!answers.Enabled || !HttpMethods.IsGet(http.Request.Method) || http.User.Identity?.IsAuthenticated != true
                || http.GetEndpoint()?.Metadata.GetMetadata<Marker>() is null)
            {
                await next(http);
                return;
            }

            var userId = http.User.UserId();
            var path = http.Request.Path.Value ?? "";
            var query = http.Request.QueryString.Value ?? "";
            // Read before the route reads its data: what the route then reads is at least this version.
            var seqRead = events.LastSeq(userId);
            if (!answers.MayHold(userId, path, query))
            {
                // Neither kept nor read before at any seq: this read is not answered or kept whatever the seq is, so
                // the route reads at once (one round trip less); the seq only marks the read for admission.
                await next(http);
                answers.Admits(userId, await seqRead, path, query);
                return;
            }
            var seq = await seqRead;
            if (answers.Find(userId, seq, path, query) is { } kept)
            {
                var response = http.Response;
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = kept.ContentType;
                response.ContentLength = kept.Body.Length;
                await response.BodyWriter.WriteAsync(kept.Body, http.RequestAborted);
                return;
            }
            if (!answers.Admits(userId, seq, path, query))
            {
                await next(http);
                return;
            }

            // The answer is held until the route is done, then sent with its length and kept if it is a 200.
            // If the route throws, nothing was sent: the exception handler answers on the real body.
            var body = http.Response.Body;
            using var capture = new CaptureStream();
            http.Response.Body = capture;
            try
            {
                await next(http);
                // Whatever the route left in the body's pipe reaches the capture (not the feature's
                // CompleteAsync: that would start the real response before its length is known).
                await http.Response.BodyWriter.CompleteAsync();
            }
            finally
            {
                http.Response.Body = body;
            }
            var written = capture.Written;
            if (http.Response.StatusCode == StatusCodes.Status200OK && http.Response.ContentType is { } contentType)
                answers.Keep(userId, seq, path, query, new Answer(written.ToArray(), contentType));
            http.Response.ContentLength = written.Length;
            await http.Response.BodyWriter.WriteAsync(written, http.RequestAborted);
        }
    }

    /// <summary>A kept 200 answer: its bytes and content type (the routes set no other header of their own).</summary>
    public sealed record Answer(byte[] Body, string ContentType);

    /// <summary>
    /// The kept answers, per user: only those of the user's current version (the first answer kept at a new
    /// seq drops the older version's at once), each version for at most the lifetime, all of them within
    /// the size limit (a full store keeps nothing more until expired versions are swept).
    /// </summary>
    public sealed class UserAnswers : IDisposable
    {
        const int Overhead = 200; // the entry, its key and the dictionary's node, roughly
        const int LargestAnswer = 1024 * 1024;

        readonly ConcurrentDictionary<string, Version> _users = new(StringComparer.Ordinal);
        readonly SecondReadAdmission _admission = new();
        readonly TimeProvider _clock;
        readonly long _limit;
        readonly TimeSpan _lifetime;
        readonly ITimer? _sweeper;
        long _bytes;

        public UserAnswers(ReadCacheSettings settings, TimeProvider clock)
        {
            _clock = clock;
            _limit = settings.Megabytes * 1024L * 1024;
            _lifetime = TimeSpan.FromSeconds(Math.Max(1, settings.Seconds));
            if (Enabled) _sweeper = clock.CreateTimer(_ => Sweep(), null, _lifetime, _lifetime);
        }

        public bool Enabled => _limit > 0;

        /// <summary>Bytes held now (answers and a rough per-entry overhead).</summary>
        public long Bytes => Interlocked.Read(ref _bytes);

        sealed class Version(long seq, long created)
        {
            public readonly long Seq = seq;
            public readonly long Created = created;
            public readonly ConcurrentDictionary<(string Path, string Query), Answer> Answers = new();
            public long Bytes; // under lock (this)
            public bool Retired; // under lock (this): swept or replaced; nothing more is added
        }

        bool Expired(Version v) => _clock.GetElapsedTime(v.Created) >= _lifetime;

        public Answer? Find(string userId, long seq, string path, string query) =>
            _users.TryGetValue(userId, out var v) && v.Seq == seq && !Expired(v) && v.Answers.TryGetValue((path, query), out var a) ? a : null;

        public bool Admits(string userId, long seq, string path, string query) => _admission.ReadBefore(userId, seq, path, query);

        /// <summary>
        /// False when no answer to this read is kept at any seq and it was not read recently: then neither
        /// <see cref="Find"/> nor <see cref="Admits"/> can say yes, whatever the user's seq is.
        /// </summary>
        public bool MayHold(string userId, string path, string query) =>
            _users.TryGetValue(userId, out var v) && v.Answers.ContainsKey((path, query)) || _admission.Seen(userId, path, query);

        public void Keep(string userId, long seq, string path, string query, Answer answer)
        {
            long size = answer.Body.Length + 2L * (path.Length + query.Length + answer.ContentType.Length) + Overhead;
            if (answer.Body.Length > LargestAnswer || Bytes + size > _limit) return; // full: the sweep makes room as versions expire
            while (true)
            {
                var now = _clock.GetTimestamp();
                var v = _users.GetOrAdd(userId, static (_, s) => new Version(s.seq, s.now), (seq, now));
                if (v.Seq != seq || Expired(v))
                {
                    // A slower request's older version never replaces a newer one that is still current.
                    if (seq < v.Seq && !Expired(v)) return;
                    var next = new Version(seq, now);
                    if (!_users.TryUpdate(userId, next, v)) continue;
                    Retire(v);
                    v = next;
                }
                lock (v)
                {
                    if (v.Retired) continue; // replaced or swept meanwhile: try again
                    if (!v.Answers.TryAdd((path, query), answer)) return;
                    v.Bytes += size;
                    Interlocked.Add(ref _bytes, size);
                    return;
                }
            }
        }

        void Retire(Version v)
        {
            lock (v)
            {
                if (v.Retired) return;
                v.Retired = true;
                Interlocked.Add(ref _bytes, -v.Bytes);
            }
        }

        /// <summary>Drops every expired version (each timer tick: one lifetime).</summary>
        public void Sweep()
        {
            foreach (var (userId, v) in _users)
                if (Expired(v) && _users.TryRemove(KeyValuePair.Create(userId, v)))
                    Retire(v);
        }

        public void Dispose() => _sweeper?.Dispose();
    }

    /// <summary>
    /// Admits an answer on its second read at the same version, never on its first. Most answers of a
    /// user who is changing things are read once: the next change makes them stale before anyone asks
    /// again. Kept, each would stay in memory up to <c>READ_CACHE_SECONDS</c> for nothing, long enough to
    /// reach the collector's oldest generation and die there, which grows the process (docs/BENCHMARKS.md,
    /// "Soak: memory with the read cache"). An answer read twice at one version (a reload, a second
    /// device, a client polling) is likely to be read again. Remembers fingerprints of recent reads in a
    /// fixed table: no allocation, 512 KB, and a collision only costs one more miss or an early
    /// admission, never a wrong answer (an answer is found by its exact user, seq, path and query).
    /// </summary>
    internal sealed class SecondReadAdmission
    {
        const int Slots = 1 << 16; // a power of two
        // A read's slot and fingerprint come from its user, path and query; the slot holds the fingerprint (high half)
        // and the seq it was read at (low half), so a read is found at any seq (Seen) or at its own (ReadBefore).
        readonly long[] _seen = new long[Slots];

        /// <summary>True when this exact read was seen recently at this seq; remembers it otherwise.</summary>
        public bool ReadBefore(string userId, long seq, string path, string query)
        {
            var hash = Hash(userId, path, query);
            var entry = (long)Fingerprint(hash) << 32 | (uint)seq;
            ref var slot = ref _seen[hash & (Slots - 1)];
            if (Volatile.Read(ref slot) == entry) return true;
            Volatile.Write(ref slot, entry);
            return false;
        }

        /// <summary>True when this read was seen recently, at any seq.</summary>
        public bool Seen(string userId, string path, string query)
        {
            var hash = Hash(userId, path, query);
            return (int)(Volatile.Read(ref _seen[hash & (Slots - 1)]) >>> 32) == Fingerprint(hash);
        }

        // string.GetHashCode is seeded per process: fingerprints cannot be aimed at each other from outside.
        static int Hash(string userId, string path, string query) => HashCode.Combine(userId, path, query);

        static int Fingerprint(int hash) => hash == 0 ? 1 : hash; // 0 marks an empty slot
    }

    /// <summary>Holds a route's answer in pooled buffers until it is complete.</summary>
    sealed class CaptureStream : Stream
    {
        byte[] _buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        int _length;

        public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

        public override void Write(ReadOnlySpan<byte> data)
        {
            if (_length + data.Length > _buffer.Length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + data.Length));
                _buffer.AsSpan(0, _length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = bigger;
            }
            data.CopyTo(_buffer.AsSpan(_length));
            _length += data.Length;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            Write(data.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override void Flush() { }
        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        protected override void Dispose(bool disposing)
        {
            if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            base.Dispose(disposing);
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
