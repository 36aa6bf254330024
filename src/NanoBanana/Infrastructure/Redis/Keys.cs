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
    /// existence and moves <c>refCount</c> with HINCRBY in the same commit as the message change.
    /// </summary>
    public static string Image(string userId, string imageId) => User(userId, $"img:{imageId}");
    /// <summary>ZSET of a session's image ids, scored by createdAt (unix ms).</summary>
    public static string SessionImages(string userId, string sessionId) => User(userId, $"s:{sessionId}:imgs");
    /// <summary>HASH of a session's image counts by type: <c>uploaded</c>, <c>generated</c>, <c>edited</c>.</summary>
    public static string SessionImageCounts(string userId, string sessionId) => User(userId, $"s:{sessionId}:imgcount");
    /// <summary>ZSET of all the user's image ids, scored by createdAt (unix ms).</summary>
    public static string UserImages(string userId) => User(userId, "imgs");
    /// <summary>
    /// Global ZSET of every image's blob folder (<c>userId/sessionId/imageId/ext</c>), scored by the time it
    /// was staged (unix ms): written before the first blob, removed after the last one is deleted, so
    /// the garbage collector finds every blob, also those of an upload that died half-way.
    /// </summary>
    public const string ImageBlobIndex = Prefix + ":images:blobs";

    // --- sessions, messages, search (Features/Sessions, Features/Messages, Features/Search) ---
    // The Lua scripts of those features build per-message, per-term and per-image keys from
    // UserScope(userId) + the suffixes "m:", "ix:" and "img:" (Message, SearchTerm, Image): same hash tag, same slot.
    /// <summary>The prefix every key of the user starts with (<c>nb:{u:&lt;id&gt;}:</c>).</summary>
    public static string UserScope(string userId) => User(userId, "");
    /// <summary>
    /// A session record: HASH id, title, createdAt, updatedAt (unix ms), messageCount, seq, titled, and
    /// deletedAt (unix ms) once deleted. Live = exists without deletedAt. (The images slice reads it too.)
    /// </summary>
    public static string Session(string userId, string sessionId) => User(userId, $"session:{sessionId}");
    /// <summary>ZSET of the user's live session ids, scored by updatedAt (unix ms).</summary>
    public static string Sessions(string userId) => User(userId, "sessions");
    /// <summary>HASH: each live session's id -> the session as the API writes it (a list page is one HMGET; absent for sessions written before it existed).</summary>
    public static string SessionsJson(string userId) => User(userId, "sessions:json");
    /// <summary>ZSET of a session's live message ids, scored by a per-session sequence (chat order).</summary>
    public static string SessionMessages(string userId, string sessionId) => User(userId, $"s:{sessionId}:msgs");
    /// <summary>HASH: each message id of a session -> the message as the API writes it (a page is one HMGET; absent for messages written before it existed).</summary>
    public static string SessionMessagesJson(string userId, string sessionId) => User(userId, $"s:{sessionId}:json");
    /// <summary>HASH: id, sessionId, role, text, params, imageIds (comma-separated), createdAt, updatedAt, textAt, editedOf, terms, seq, n; json (the message as the API writes it) only in records written before <see cref="SessionMessagesJson"/>.</summary>
    public static string Message(string userId, string messageId) => User(userId, $"m:{messageId}");
    /// <summary>LIST of earlier versions of a message's text: pairs (editedAt unix ms, text), oldest first.</summary>
    public static string MessageRevisions(string userId, string messageId) => User(userId, $"m:{messageId}:revs");
    /// <summary>HASH: the short number naming each message in the search index (field n -> message id), and the counter <c>next</c>.</summary>
    public static string SearchNumbers(string userId) => User(userId, "ixn");
    /// <summary>ZSET of the numbers (see SearchNumbers) of the user's live messages containing a search term, scored by that number (newest highest).</summary>
    public static string SearchTerm(string userId, string term) => User(userId, $"ix:{term}");
    /// <summary>ZSET (all scores 0) of every word and CJK term in the user's index, for prefix expansion with ZRANGEBYLEX.</summary>
    public static string SearchVocabulary(string userId) => User(userId, "ixv");
    /// <summary>STRING: a create request's Idempotency-Key: <c>body fingerprint \n id of what it created</c>, 24 h.</summary>
    public static string Idempotency(string userId, string scope, string key) => User(userId, $"idem:{scope}:{key}");

    /// <summary>STRING: the id of the user's last committed change (the basis a decision is checked against).</summary>
    public static string UserVersion(string userId) => User(userId, "ver");

    // --- realtime: the per-user event log ---
    /// <summary>STRING counter: the user's last assigned event seq. Never expires, so seq only grows.</summary>
    public static string EventSeq(string userId) => User(userId, "ev:seq");
    /// <summary>STREAM of the user's events, entry id <c>&lt;seq&gt;-&lt;unix ms&gt;</c>, fields t (type), s (session scope), p (payload JSON); trimmed by age.</summary>
    public static string EventLog(string userId) => User(userId, "ev:log");
    /// <summary>Pub/sub channel carrying the user's live events and typing to every instance holding one of the user's sockets.</summary>
    public static string EventChannel(string userId) => User(userId, "ev:live");
    /// <summary>ZSET of the user's open sockets on every instance (connection ids), scored by when their lease lapses (unix ms); the socket cap counts it.</summary>
    public static string UserSockets(string userId) => User(userId, "ws");

    // --- global claims (SET NX), values are user ids ---
    public static string EmailClaim(string normalizedEmail) => $"{Prefix}:email:{normalizedEmail}";
    public static string UsernameClaim(string normalizedUsername) => $"{Prefix}:username:{normalizedUsername}";

    /// <summary>Global pub/sub channel: a user id whose sign-ins changed (a device ended, the account went); every instance listens.</summary>
    public const string SignInsChannel = Prefix + ":signins";

    // --- generation ---
    /// <summary>A generation record: HASH <c>status</c>, <c>sessionId</c> and <c>json</c> (the generation as the API writes it).</summary>
    public static string Generation(string userId, string generationId) => User(userId, $"gen:{generationId}");
    /// <summary>ZSET of a session's generation ids, scored by createdAt (unix ms).</summary>
    public static string SessionGenerations(string userId, string sessionId) => User(userId, $"s:{sessionId}:gens");
    /// <summary>ZSET of the user's provider calls under way, scored by when their claim lapses (unix ms), so a crashed call frees its place.</summary>
    public static string GenerationsRunning(string userId) => User(userId, "gen:running");
    /// <summary>Counter of the generations the user started on one UTC day (<c>yyyyMMdd</c>).</summary>
    public static string GenerationsOnDay(string userId, string day) => User(userId, $"gen:day:{day}");

    // --- leased background work (Infrastructure/Work), per scope: a hash tag such as the user's u:<id> ---
    /// <summary>ZSET of the scope's work ids, scored by when their lease lapses (unix ms): due ones are taken over.</summary>
    public static string WorkLeases(string scope) => $"{Prefix}:{{{scope}}}:work";
    /// <summary>HASH work id -> the message (<c>type\nJSON</c>).</summary>
    public static string WorkMessages(string scope) => $"{Prefix}:{{{scope}}}:work:msg";
    /// <summary>HASH work id -> the instance holding its lease (absent: nobody; a postponed work).</summary>
    public static string WorkOwners(string scope) => $"{Prefix}:{{{scope}}}:work:owner";
    /// <summary>HASH work id -> how many times it was taken over from a lapsed lease (poison work is dropped past a limit).</summary>
    public static string WorkTakeovers(string scope) => $"{Prefix}:{{{scope}}}:work:takeovers";
    /// <summary>Global ZSET of the scopes that may hold work, scored by their last enqueue (unix ms); every instance sweeps them.</summary>
    public const string WorkScopes = Prefix + ":work:scopes";

    // --- abuse counters ---
    public static string LoginFailuresForAccount(string normalizedEmail) => $"{Prefix}:loginfail:acct:{normalizedEmail}";
    public static string LoginFailuresForAddress(string address) => $"{Prefix}:loginfail:ip:{address}";
    public static string LoginFailuresForAccountFrom(string normalizedEmail, string address) => $"{Prefix}:loginfail:pair:{address}:{normalizedEmail}";
    public const string RateLimitPrefix = Prefix + ":rl:";
}
