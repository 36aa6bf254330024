namespace NanoBanana.Infrastructure.Realtime;

/// <summary>This instance's open WebSocket connections, for /health.</summary>
public sealed class RealtimeStats
{
    int _active;
    public int ActiveConnections => Volatile.Read(ref _active);
    public void Opened() => Interlocked.Increment(ref _active);
    public void Closed() => Interlocked.Decrement(ref _active);
}
