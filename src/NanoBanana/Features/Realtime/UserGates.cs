using Wolverine;

namespace NanoBanana.Features.Realtime;

/// <summary>One gate per user with commands in flight on this instance; a user without any holds nothing.</summary>
public sealed class UserGates
{
    sealed class Gate
    {
        public readonly SemaphoreSlim Lock = new(1, 1);
        public int Holders;
    }

    readonly Dictionary<string, Gate> _gates = new(StringComparer.Ordinal);

    public async Task<IDisposable> Enter(string userId, CancellationToken ct)
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
        return new Lease(this, userId, gate);
    }

    void Leave(string userId, Gate gate, bool entered)
    {
        if (entered) gate.Lock.Release();
        lock (_gates)
            if (--gate.Holders == 0) _gates.Remove(userId);
    }

    sealed class Lease(UserGates gates, string userId, Gate gate) : IDisposable
    {
        int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0) gates.Leave(userId, gate, entered: true);
        }
    }
}

/// <summary>Wolverine middleware (<see cref="CommitChanges.CommitReturnedChanges"/>): a user's changes decided one at a time per instance.</summary>
public static class OneChangeAtATime
{
    public static Task<IDisposable> BeforeAsync(Envelope envelope, UserGates gates, CancellationToken ct) =>
        gates.Enter(((IChangesUserData)envelope.Message!).UserId, ct);

    public static void Finally(IDisposable lease) => lease.Dispose();
}
