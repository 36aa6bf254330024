using StackExchange.Redis;

namespace NanoBanana.Infrastructure.Redis;

/// <summary>
/// Writes recorded as Redis commands, for one script to run together (the commit of a user's change, where they run
/// only if the change's conditions still hold). Named as StackExchange.Redis names them; only the writes the slices make.
/// Each command is laid out for the script as its name, its key count, its argument count and its arguments, its keys
/// in order in <see cref="KeyList"/>. Every key must be in one cluster slot (the user's hash tag).
/// </summary>
public sealed class RedisWrites
{
    readonly List<RedisKey> _keys = [];
    readonly List<RedisValue> _arguments = [];

    /// <summary>The commands' keys, in order.</summary>
    public IReadOnlyList<RedisKey> KeyList => _keys;

    /// <summary>Each command as name, key count, argument count and arguments, one after the other.</summary>
    public IReadOnlyList<RedisValue> Arguments => _arguments;

    public void StringSet(RedisKey key, RedisValue value, TimeSpan? expiry = null)
    {
        if (expiry is { } e) Command("SET", key, value, "PX", (long)e.TotalMilliseconds);
        else Command("SET", key, value);
    }

    // UNLINK, not DEL: a deleted session's page hash can hold 100,000 messages, and DEL frees it while every
    // client waits (34 ms measured); UNLINK frees it on a background thread.
    public void KeyDelete(RedisKey key) => Command("UNLINK", key);

    public void KeyDelete(RedisKey[] keys)
    {
        if (keys.Length == 0) return;
        Begin("UNLINK", keys.Length, 0);
        _keys.AddRange(keys);
    }

    public void KeyExpire(RedisKey key, TimeSpan expiry) => Command("PEXPIRE", key, (long)expiry.TotalMilliseconds);

    public void HashSet(RedisKey key, RedisValue field, RedisValue value) => Command("HSET", key, field, value);

    public void HashSet(RedisKey key, HashEntry[] fields)
    {
        if (fields.Length == 0) return;
        Begin("HSET", 1, 2 * fields.Length);
        _keys.Add(key);
        foreach (var f in fields)
        {
            _arguments.Add(f.Name);
            _arguments.Add(f.Value);
        }
    }

    public void HashIncrement(RedisKey key, RedisValue field, long value = 1) => Command("HINCRBY", key, field, value);

    public void HashDecrement(RedisKey key, RedisValue field, long value = 1) => HashIncrement(key, field, -value);

    public void HashDelete(RedisKey key, RedisValue field) => Command("HDEL", key, field);

    public void ListRightPush(RedisKey key, RedisValue[] values) => Many("RPUSH", key, values);

    public void SortedSetAdd(RedisKey key, RedisValue member, double score) => Command("ZADD", key, score, member);

    public void SortedSetAdd(RedisKey key, SortedSetEntry[] entries)
    {
        if (entries.Length == 0) return;
        Begin("ZADD", 1, 2 * entries.Length);
        _keys.Add(key);
        foreach (var e in entries)
        {
            _arguments.Add(e.Score);
            _arguments.Add(e.Element);
        }
    }

    public void SortedSetRemove(RedisKey key, RedisValue member) => Command("ZREM", key, member);

    public void SortedSetRemove(RedisKey key, RedisValue[] members) => Many("ZREM", key, members);

    /// <summary>An entry with the given id (<c>XADD key id field value ...</c>).</summary>
    public void StreamAdd(RedisKey key, NameValueEntry[] fields, RedisValue messageId)
    {
        Begin("XADD", 1, 1 + 2 * fields.Length);
        _keys.Add(key);
        _arguments.Add(messageId);
        foreach (var f in fields)
        {
            _arguments.Add(f.Name);
            _arguments.Add(f.Value);
        }
    }

    /// <summary>A message on a channel (not a key: any node of a cluster carries it to every subscriber).</summary>
    public void Publish(RedisChannel channel, RedisValue message)
    {
        Begin("PUBLISH", 0, 2);
        _arguments.Add((string?)channel);
        _arguments.Add(message);
    }

    void Command(string name, RedisKey key, params ReadOnlySpan<RedisValue> arguments)
    {
        Begin(name, 1, arguments.Length);
        _keys.Add(key);
        foreach (var a in arguments) _arguments.Add(a);
    }

    void Many(string name, RedisKey key, RedisValue[] values)
    {
        if (values.Length == 0) return;
        Begin(name, 1, values.Length);
        _keys.Add(key);
        _arguments.AddRange(values);
    }

    void Begin(string name, int keys, int arguments)
    {
        _arguments.Add(name);
        _arguments.Add(keys);
        _arguments.Add(arguments);
    }
}
