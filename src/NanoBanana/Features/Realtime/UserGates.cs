using Wolverine;

namespace NanoBanana.Features.Realtime;

/// <summary>One gate per user with commands in flight on this instance; a user without any holds nothing.</summary>
public sealed class UserGates
{
    sealed class Gate
    {
        public readonly SemaphoreSlim Lock = new(1, 1);
        public int Holders;
        // Lives as long as the gate: only while the user's commands follow one another on this instance.
        public (CarriedChange Change, int Epoch)? Carried;
        // Moved by each failed commit: a turn that entered before it may have decided on what that commit carried,
        // and what such a turn carries on is not handed out (else one failure could doom every post after it).
        public int Epoch;
    }

    readonly Dictionary<string, Gate> _gates = new(StringComparer.Ordinal);

    /// <summary>Waits for the user's turn on this instance; the turn ends when ended or disposed (the first end counts).</summary>
    public async Task<UserTurn> Enter(string userId, CancellationToken ct)
    {
        Gate gate;
        lock (_gates)
        {
            if (!_gates.TryGetValue(userId, out gate!)) _gates[userId] = gate = new Gate();
            gate.Holders++;
        }
        try { await gate.Lock.WaitAsync(ct); }
        catch
        {
            Leave(userId, gate, entered: false);
            throw;
        }
        return new Turn(this, userId, gate, Volatile.Read(ref gate.Epoch));
    }

    void Leave(string userId, Gate gate, bool entered)
    {
        if (entered) gate.Lock.Release();
        lock (_gates)
            if (--gate.Holders == 0) _gates.Remove(userId);
    }

    /// <summary>One command's turn at a user's data on this instance.</summary>
    sealed class Turn(UserGates gates, string userId, Gate gate, int epoch) : UserTurn
    {
        int _left;

        public override CarriedChange? Carried =>
            gate.Carried is var (change, since) && since == epoch && epoch == Volatile.Read(ref gate.Epoch) ? change : null;

        internal override void End(CarriedChange? carried)
        {
            if (Interlocked.Exchange(ref _left, 1) != 0) return;
            gate.Carried = carried is null ? null : (carried, epoch);
            gates.Leave(userId, gate, entered: true);
        }

        public override void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0) gates.Leave(userId, gate, entered: true);
        }

        internal override void Forget() => Interlocked.Increment(ref gate.Epoch);
    }
}

/// <summary>Wolverine middleware (<see cref="CommitChanges.CommitReturnedChanges"/>): a user's changes decided one at a time per instance.</summary>
public static class OneChangeAtATime
{
    public static Task<UserTurn> BeforeAsync(Envelope envelope, UserGates gates, CancellationToken ct) =>
        gates.Enter(((IChangesUserData)envelope.Message!).UserId, ct);

    /// <summary>Ends the turn if the commit did not already (<see cref="CommitChanges.CommitInTurn"/>).</summary>
    public static void Finally(UserTurn turn) => turn.Dispose();
}
