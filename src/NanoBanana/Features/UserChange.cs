using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Work;
using StackExchange.Redis;

namespace NanoBanana.Features;

/// <summary>
/// What a decision about one user's data was made on: the user's change version (every committed
/// <see cref="UserChange"/> moves it) and the seq of the user's last event. A slice reads it first,
/// then loads what it decides on; the change it returns commits only if no other change of that user
/// committed in between (else the handler runs again on fresh data).
/// </summary>
public readonly record struct UserBasis(string UserId, long Version, long LastSeq)
{
    public static async Task<UserBasis> Read(IDatabaseAsync db, string userId)
    {
        var v = await db.StringGetAsync([Keys.UserVersion(userId), Keys.EventSeq(userId)]);
        return new(userId, (long?)v[0] ?? 0, (long?)v[1] ?? 0);
    }

    /// <summary>A change of this user's data, decided on this basis.</summary>
    public UserChange Change() => new(this);
}

/// <summary>
/// A slice's decision about one user's data: the writes and the events they raise. The handler returns
/// it with its response; the realtime edge commits the writes and appends the events in one Redis
/// script (all keys in the user's slot), conditioned on the user's version being the basis's.
/// </summary>
public sealed class UserChange(UserBasis basis)
{
    readonly List<Action<RedisWrites>> _writes = [];
    readonly List<IUserEvent> _events = [];
    readonly List<IUserWork> _work = [];

    public UserBasis Basis => basis;
    public IReadOnlyList<Action<RedisWrites>> Writes => _writes;
    public IReadOnlyList<IUserEvent> Events => _events;
    public IReadOnlyList<IUserWork> Work => _work;

    /// <summary>A write of the change, recorded among the commit's writes (e.g. <c>tx => tx.HashSet(...)</c>).</summary>
    public UserChange Write(Action<RedisWrites> write)
    {
        _writes.Add(write);
        return this;
    }

    /// <summary>An event the change raises; events are appended in the order raised.</summary>
    public UserChange Raise(IUserEvent e)
    {
        if (e.UserId != basis.UserId) throw new ArgumentException("A change raises events of its own user only.", nameof(e));
        _events.Add(e);
        return this;
    }

    /// <summary>
    /// Background work the change creates: its lease is written by the change's transaction (so the work exists
    /// exactly when the change does), held by this instance, which runs it once committed; see <see cref="WorkLeases"/>.
    /// </summary>
    public UserChange Enqueue(IUserWork work)
    {
        if (work.UserId != basis.UserId) throw new ArgumentException("A change enqueues work of its own user only.", nameof(work));
        _work.Add(work);
        return this;
    }
}

/// <summary>
/// A command whose handler decides a <see cref="UserChange"/> of <see cref="UserId"/>. On one instance such
/// commands of one user run one at a time (from the basis read until the commit is sent), so they only meet
/// moved data when another instance or a command outside this rule changed the user's data meanwhile.
/// </summary>
public interface IChangesUserData
{
    string UserId { get; }
}
