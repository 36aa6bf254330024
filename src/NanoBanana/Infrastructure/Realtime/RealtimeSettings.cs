using System.Globalization;

namespace NanoBanana.Infrastructure.Realtime;

/// <summary>
/// The realtime hub's knobs. Each value is read from an environment variable first, then from
/// appsettings (<c>Realtime:*</c>), then falls back to the default.
/// </summary>
public sealed class RealtimeSettings
{
    /// <summary>How long a user's events stay in the log for catch-up (REALTIME_RETENTION_HOURS, default 7 days).</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Frames waiting to be written to one socket; a socket whose queue is full is closed with 4008.</summary>
    public int SendQueueCapacity { get; init; } = 512;

    /// <summary>Server ping interval; a peer that does not answer within <see cref="KeepAliveTimeout"/> is dropped.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(20);
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>One frame write (or the closing handshake) that takes longer than this aborts the socket.</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Client frames allowed per second per socket (token bucket refill) and the burst on top.</summary>
    public int FramesPerSecond { get; init; } = 20;
    public int FrameBurst { get; init; } = 40;

    /// <summary>typing frames allowed per second per socket (and as a burst); more are dropped.</summary>
    public int TypingPerSecond { get; init; } = 3;

    /// <summary>A socket that has more than this many frames dropped within <see cref="FloodWindow"/> is closed with 4008.</summary>
    public int FloodDropLimit { get; init; } = 200;
    public TimeSpan FloodWindow { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Sockets one user may hold across all instances (<see cref="SocketLeases"/>); one more is refused with 4429.</summary>
    public int MaxConnectionsPerUser { get; init; } = 32;

    /// <summary>
    /// How long a refused handshake (4401, 4404, 4429) waits before its close: a client that reconnects
    /// at once after a refusal then loops at this pace, not as fast as the network allows.
    /// </summary>
    public TimeSpan RefusalDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A socket opened without a token in its address must send <c>auth {token}</c> first, within this time (WS_AUTH_TIMEOUT_SECONDS, default 10); else 4401.</summary>
    public TimeSpan AuthTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest client frame read; a bigger one answers an error frame and is dropped.</summary>
    public int MaxClientFrameBytes { get; init; } = 16 * 1024;

    /// <summary>Sessions one socket may join at once.</summary>
    public int MaxJoinedSessions { get; init; } = 64;

    /// <summary>Events read per Redis round trip during catch-up.</summary>
    public int CatchUpPageSize { get; init; } = 500;

    public static RealtimeSettings From(IConfiguration c)
    {
        string? Get(string env, string key) =>
            string.IsNullOrWhiteSpace(c[env]) ? (string.IsNullOrWhiteSpace(c[key]) ? null : c[key]) : c[env];
        int Int(string env, string key, int fallback) =>
            int.TryParse(Get(env, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;
        double Num(string env, string key, double fallback) =>
            double.TryParse(Get(env, key), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;

        return new RealtimeSettings
        {
            Retention = TimeSpan.FromHours(Num("REALTIME_RETENTION_HOURS", "Realtime:RetentionHours", 7 * 24)),
            SendQueueCapacity = Int("REALTIME_SEND_QUEUE", "Realtime:SendQueueCapacity", 512),
            KeepAliveInterval = TimeSpan.FromSeconds(Num("REALTIME_KEEPALIVE_SECONDS", "Realtime:KeepAliveSeconds", 20)),
            KeepAliveTimeout = TimeSpan.FromSeconds(Num("REALTIME_KEEPALIVE_TIMEOUT_SECONDS", "Realtime:KeepAliveTimeoutSeconds", 20)),
            SendTimeout = TimeSpan.FromSeconds(Num("REALTIME_SEND_TIMEOUT_SECONDS", "Realtime:SendTimeoutSeconds", 10)),
            FramesPerSecond = Int("REALTIME_FRAMES_PER_SECOND", "Realtime:FramesPerSecond", 20),
            FrameBurst = Int("REALTIME_FRAME_BURST", "Realtime:FrameBurst", 40),
            MaxClientFrameBytes = Int("REALTIME_MAX_FRAME_BYTES", "Realtime:MaxClientFrameBytes", 16 * 1024),
            MaxJoinedSessions = Int("REALTIME_MAX_JOINED_SESSIONS", "Realtime:MaxJoinedSessions", 64),
            TypingPerSecond = Int("REALTIME_TYPING_PER_SECOND", "Realtime:TypingPerSecond", 3),
            FloodDropLimit = Int("REALTIME_FLOOD_DROP_LIMIT", "Realtime:FloodDropLimit", 200),
            MaxConnectionsPerUser = Int("WS_MAX_CONNECTIONS_PER_USER", "Realtime:MaxConnectionsPerUser", 32),
            AuthTimeout = TimeSpan.FromSeconds(Num("WS_AUTH_TIMEOUT_SECONDS", "Realtime:AuthTimeoutSeconds", 10)),
            RefusalDelay = TimeSpan.FromMilliseconds(int.TryParse(Get("WS_REFUSAL_DELAY_MS", "Realtime:RefusalDelayMs"), out var delay) && delay >= 0 ? delay : 1000),
        };
    }
}
