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

    // --- global claims (SET NX), values are user ids ---
    public static string EmailClaim(string normalizedEmail) => $"{Prefix}:email:{normalizedEmail}";
    public static string UsernameClaim(string normalizedUsername) => $"{Prefix}:username:{normalizedUsername}";

    // --- abuse counters ---
    public static string LoginFailuresForAccount(string normalizedEmail) => $"{Prefix}:loginfail:acct:{normalizedEmail}";
    public static string LoginFailuresForAddress(string address) => $"{Prefix}:loginfail:ip:{address}";
    public const string RateLimitPrefix = Prefix + ":rl:";
}
