namespace NanoBanana.Tests.Infrastructure.Realtime;

// The client end and the thread of a server socket made from a stream (WebSocket.CreateFromStream), for the Connection tests.

/// <summary>Reads a client's bytes prepared in advance (every read completes at once) and keeps what the server writes.</summary>
sealed class ReadyClient(byte[] fromClient) : Stream
{
    readonly MemoryStream _in = new(fromClient);
    readonly MemoryStream _out = new();
    public long Consumed => _in.Position;
    public byte[] Written { get { lock (_out) return _out.ToArray(); } }
    public override int Read(byte[] buffer, int offset, int count) => _in.Read(buffer, offset, count);
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => ValueTask.FromResult(_in.Read(buffer.Span));
    public override void Write(byte[] buffer, int offset, int count) { lock (_out) _out.Write(buffer, offset, count); }
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        lock (_out) _out.Write(buffer.Span);
        return ValueTask.CompletedTask;
    }
    public override void Flush() { }
    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>Keeps what is posted to it until the test runs it: nothing the read loop queued runs behind the test's back.</summary>
sealed class HeldWork : SynchronizationContext
{
    readonly System.Collections.Concurrent.BlockingCollection<(SendOrPostCallback Callback, object? State)> _posted = [];
    public override void Post(SendOrPostCallback d, object? state) => _posted.Add((d, state));

    /// <summary>How many posted callbacks ran: each is one turn of the queue.</summary>
    public int Ran { get; private set; }

    /// <summary>Runs what was posted (and what that posts) here until <paramref name="done"/> completes.</summary>
    public void RunUntil(Task done, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        var previous = Current;
        SetSynchronizationContext(this);
        try
        {
            while (!done.IsCompleted && DateTime.UtcNow < deadline)
                if (_posted.TryTake(out var work, TimeSpan.FromMilliseconds(50)))
                {
                    Ran++;
                    work.Callback(work.State);
                }
        }
        finally { SetSynchronizationContext(previous); }
    }
}
