using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Work;
using StackExchange.Redis;

namespace NanoBanana.Features;

/// <summary>
/// What a decision about one user's data was made on: the user's change version (every committed
/// <see cref="UserChange"/> moves it) and the seq of the user's last event. A slice reads it first,
/// then loads what it decides on; the change it returns commits only if no other change of that user
/// committed in between (else the handler runs again on fresh data).
/// The version is the id of the commit that set it (empty: none yet), so a decision carried over from an earlier
/// commit (<see cref="CarriedChange"/>) only commits if that very commit applied.
/// </summary>
public readonly record struct UserBasis(string UserId, string Version, long LastSeq)
{
    public static async Task<UserBasis> Read(IDatabaseAsync db, string userId)
    {
        var v = await db.StringGetAsync([Keys.UserVersion(userId), Keys.EventSeq(userId)]);
        return new(userId, (string?)v[0] ?? "", (long?)v[1] ?? 0);
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

    /// <summary>What the change leaves for the user's next decision in its turn (<see cref="Carry"/>), or null.</summary>
    public object? Carries { get; private set; }

    /// <summary>
    /// The data this change writes that the user's next command on this instance would read (<see cref="UserTurn.Carried"/>):
    /// it must be exactly what a read after the commit returns.
    /// </summary>
    public UserChange Carry(object state)
    {
        Carries = state;
        return this;
    }

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

/// <summary>
/// A command's turn at its user's data on this instance (<see cref="IChangesUserData"/>): from its reads until its commit is sent.
/// </summary>
public abstract class UserTurn : IDisposable
{
    /// <summary>
    /// What the previous change in this user's turns committed (<see cref="UserChange.Carry"/>) with the basis it left, while
    /// the turns follow one another and that commit is not known to have failed. A decision on it needs no read; its
    /// commit applies only if that commit did (the basis's version is that commit's id).
    /// </summary>
    public abstract CarriedChange? Carried { get; }

    /// <summary>Ends the turn as its commit is sent, leaving <paramref name="carried"/> to the next turn.</summary>
    internal abstract void End(CarriedChange? carried);

    /// <summary>The turn's commit failed or its outcome is unknown: nothing is carried on (the next turn reads).</summary>
    internal abstract void Forget();

    /// <summary>Ends the turn if its commit did not (a turn without a commit leaves what is carried as it is).</summary>
    public abstract void Dispose();
}

/// <summary>The basis a sent commit leaves (its id as the version, its last seq) and the state it carries on.</summary>
public sealed record CarriedChange(UserBasis Basis, object State);
