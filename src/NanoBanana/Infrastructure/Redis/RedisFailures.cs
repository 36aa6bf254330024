using StackExchange.Redis;

namespace NanoBanana.Infrastructure.Redis;

/// <summary>Which Redis failures mean "the database is away for now" (answer 503, retry later) rather than a bug.</summary>
public static class RedisFailures
{
    // Replies of a server that is there but cannot serve yet: loading its data after a restart, busy
    // with a long script, a replica set or cluster in the middle of a failover.
    static readonly string[] TransientReplies = ["LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY", "NOREPLICAS"];

    public static bool IsUnavailable(Exception e) => e switch
    {
        RedisConnectionException or RedisTimeoutException => true,
        RedisServerException s => TransientReplies.Any(reply =>
            s.Message.StartsWith(reply, StringComparison.Ordinal) && (s.Message.Length == reply.Length || s.Message[reply.Length] == ' ')),
        _ => false,
    };
}
