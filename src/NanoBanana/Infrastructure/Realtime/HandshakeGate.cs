namespace NanoBanana.Infrastructure.Realtime;

/// <summary>
/// Socket handshakes in progress on this instance, a few per core at once. A burst of handshakes (300 sockets
/// opened at once) otherwise puts all its work in the thread pool's queue ahead of the requests that arrive
/// meanwhile; gated, the burst waits off the queue and a request waits behind a few handshakes, not all of them.
/// A handshake leaves the gate while it waits on its client (the first frame's token, a refusal's delay).
/// </summary>
public sealed class HandshakeGate
{
    readonly SemaphoreSlim _slots;

    public HandshakeGate() : this(Environment.ProcessorCount * 4) { }

    public HandshakeGate(int slots)
    {
        Slots = slots;
        _slots = new SemaphoreSlim(slots, slots);
    }

    public int Slots { get; }

    /// <summary>Handshakes holding a slot now.</summary>
    public int InProgress => Slots - _slots.CurrentCount;

    /// <summary>One handshake's place: taken and left as it goes; disposing leaves it. Used by one flow at a time.</summary>
    public Turn NewTurn() => new(_slots);

    public sealed class Turn(SemaphoreSlim slots) : IDisposable
    {
        bool _holding;

        /// <summary>Waits for a slot; false when <paramref name="ct"/> (the client gone) ends the wait.</summary>
        public async Task<bool> Take(CancellationToken ct)
        {
            if (_holding) return true;
            try { await slots.WaitAsync(ct); }
            catch (OperationCanceledException) { return false; }
            _holding = true;
            return true;
        }

        public void Leave()
        {
            if (!_holding) return;
            _holding = false;
            slots.Release();
        }

        public void Dispose() => Leave();
    }
}
