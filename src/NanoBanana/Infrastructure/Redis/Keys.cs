namespace NanoBanana.Infrastructure.Redis;

/// <summary>
/// Every Redis key of the service. A key that belongs to a user carries the user's hash tag
/// <c>{u:&lt;userId&gt;}</c>, so all of one user's data lives in one cluster slot and the
/// multi-key scripts and transactions that keep it consistent work under Redis Cluster.
/// Only the uniqueness claims and the abuse counters are global.
/// </summary>
public static class Keys
{
    public const string Prefix = "nb";

    static string User(string userId, string rest) => $"{Prefix}:{{u:{userId}}}:{rest}";

    // --- accounts ---
    public static string UserRecord(string userId) => User(userId, "user");
    public static string RefreshFamily(string userId, string familyId) => User(userId, $"rtf:{familyId}");
    public static string RefreshFamilies(string userId) => User(userId, "rtfs");

    // --- images: the contract between the images slice and the messages slice ---
    /// <summary>
    /// An image record: a HASH with at least the fields <c>sessionId</c>, <c>type</c>
    /// (uploaded|generated|edited), <c>status</c> (processing|ready|failed), <c>refCount</c> (an integer:
    /// live messages that reference it) and <c>createdAt</c> (unix ms). The messages slice checks
    /// existence and moves <c>refCount</c> with HINCRBY inside its own scripts, atomically with the message change.
    /// </summary>
    public static string Image(string userId, string imageId) => User(userId, $"img:{imageId}");
    /// <summary>ZSET of a session's image ids, scored by createdAt (unix ms).</summary>
    public static string SessionImages(string userId, string sessionId) => User(userId, $"s:{sessionId}:imgs");
    /// <summary>HASH of a session's image counts by type: <c>uploaded</c>, <c>generated</c>, <c>edited</c>.</summary>
    public static string SessionImageCounts(string userId, string sessionId) => User(userId, $"s:{sessionId}:imgcount");
    /// <summary>ZSET of all the user's image ids, scored by createdAt (unix ms).</summary>
    public static string UserImages(string userId) => User(userId, "imgs");

    // --- sessions (owned by the sessions slice; the realtime hub only reads it) ---
    /// <summary>A session record. Live when the key exists and its record has no (non-empty) <c>deletedAt</c>.</summary>
    public static string Session(string userId, string sessionId) => User(userId, $"session:{sessionId}");

    // --- realtime: the per-user event log ---
    /// <summary>STRING counter: the user's last assigned event seq. Never expires, so seq only grows.</summary>
    public static string EventSeq(string userId) => User(userId, "ev:seq");
    /// <summary>STREAM of the user's events, entry id <c>&lt;seq&gt;-&lt;unix ms&gt;</c>, fields t (type), s (session scope), p (payload JSON); trimmed by age.</summary>
    public static string EventLog(string userId) => User(userId, "ev:log");
    /// <summary>Pub/sub channel carrying the user's live events and typing to every instance holding one of the user's sockets.</summary>
    public static string EventChannel(string userId) => User(userId, "ev:live");

    // --- global claims (SET NX), values are user ids ---
    public static string EmailClaim(string normalizedEmail) => $"{Prefix}:email:{normalizedEmail}";
    public static string UsernameClaim(string normalizedUsername) => $"{Prefix}:username:{normalizedUsername}";

    // --- abuse counters ---
    public static string LoginFailuresForAccount(string normalizedEmail) => $"{Prefix}:loginfail:acct:{normalizedEmail}";
    public static string LoginFailuresForAddress(string address) => $"{Prefix}:loginfail:ip:{address}";
    public const string RateLimitPrefix = Prefix + ":rl:";
}
