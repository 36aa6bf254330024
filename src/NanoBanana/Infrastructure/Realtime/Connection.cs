using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;

namespace NanoBanana.Infrastructure.Realtime;

/// <summary>Close codes of the hub (4000-4999 is the application range of RFC 6455).</summary>
public static class CloseCodes
{
    public const WebSocketCloseStatus Unauthorized = (WebSocketCloseStatus)4401;
    public const WebSocketCloseStatus SessionNotFound = (WebSocketCloseStatus)4404;
    /// <summary>A slow consumer, or a client that keeps sending past its frame budget.</summary>
    public const WebSocketCloseStatus SlowConsumer = (WebSocketCloseStatus)4008;
    public const WebSocketCloseStatus TooManyConnections = (WebSocketCloseStatus)4429;
}

/// <summary>
/// One open socket of one user: the sessions it joined, its bounded send queue and the sender
/// that drains it, the live-event buffer used while it catches up, and its client-frame budget.
/// An idle socket holds no task, timer, buffer or cancellation source of its own: the sender runs
/// only while frames are queued, and a frame is read into a rented buffer only once it arrives.
/// Every live event of the user is offered here; this class decides whether the socket gets it
/// (session scope) and never lets a seq through twice. Seqs go out in order, except that a join
/// replays the joined session's missed events (lower seqs) before its live ones: each session's
/// events, and the user-wide ones, stay in seq order.
/// </summary>
public sealed class Connection
{
    /// <summary>Tells this socket's own typing apart from its user's other sockets, on every instance.</summary>
    public Guid Id { get; } = Guid.NewGuid();
    public string UserId { get; }
    /// <summary>The device sign-in (refresh family) the socket lives by; <c>auth</c> may move it to another of the user's.</summary>
    public string DeviceId { get => Volatile.Read(ref _deviceId); set => Volatile.Write(ref _deviceId, value); }
    string _deviceId;

    readonly WebSocket _socket;
    readonly EventLog _log;
    readonly RealtimeSettings _settings;
    readonly TimeProvider _clock;
    readonly Lock _gate = new();
    readonly HashSet<string> _sessions = new(StringComparer.Ordinal);
    readonly SemaphoreSlim _catchUps = new(1, 1);

    // Guarded by _gate.
    Queue<ReadOnlyMemory<byte>>? _pending; // frames not yet written; null when none
    bool _sending;                         // a sender drains _pending (or writes the close frame); false while there is nothing to send
    TaskCompletionSource? _closeWritten;   // made when a close is requested; done once the last sender has written (or given up on) it
    TaskCompletionSource? _room;           // a catch-up waiting for room in a full queue
    CancellationTokenSource? _dropTimer;   // armed once our close frame is out: the peer answers or is dropped
    List<EventFrame>? _buffer;          // not null while catching up: live events wait here
    long _lastSeq;                      // the last seq this socket has passed (delivered or out of scope)
    long _resumePoint;                  // the since it was opened or last resumed with: a join replays from here
    Dictionary<string, long>? _leftAt;  // sessions it left: their events up to this seq were sent
    (WebSocketCloseStatus Status, string Reason)? _close;

    // Client-frame token bucket; only the read loop touches it.
    double _tokens;
    long _refilledAt = Stopwatch.GetTimestamp();
    long _rateErrorAt;
    // Dropped frames in the current flood window; past FloodDropLimit the socket is closed with 4008.
    int _dropped;
    long _dropWindowAt = Stopwatch.GetTimestamp();

    // A client that sends back to back makes every read complete at once, and a read loop that never awaits
    // anything pending keeps its pool thread: 32 flooding sockets held every thread while requests queued for
    // seconds. Every few reads the loop gives the thread back (Task.Yield queues it behind waiting work); after a
    // frame it skipped (past the budget, or closing) at once, so a request queued behind flooders waits for one
    // frame of each, not sixteen.
    const int ReadsBetweenYields = 16;
    int _reads;

    // A peer that answers our close sends at most the frames it had in flight; one that sends on is not closing
    // (a flooder kept the loop reading its flood, and itself sending, until the send timeout): past this many
    // frames after our close the request ends once the close frame is out, and the server closes the connection.
    public const int FramesReadAfterClose = 64;
    int _readAfterClose;

    /// <param name="sessionId">The session of the URL, joined from the start (the open catch-up covers it).</param>
    public Connection(WebSocket socket, string userId, string deviceId, string sessionId, EventLog log, RealtimeSettings settings, TimeProvider clock)
    {
        _socket = socket;
        _log = log;
        UserId = userId;
        _deviceId = deviceId;
        _settings = settings;
        _clock = clock;
        _tokens = settings.FrameBurst;
        _sessions.Add(sessionId);
        // Starts buffering: nothing live is written before the open handshake and catch-up are done.
        _buffer = [];
    }

    public DateTimeOffset Now => _clock.GetUtcNow();

    public (WebSocketCloseStatus Status, string Reason)? CloseRequested { get { lock (_gate) return _close; } }

    // --- sessions ---

    /// <summary>
    /// Joins a session: replays its logged events that this socket was not sent, after the point it
    /// resumed from (or, for a session it left, after the point it left it), then sends
    /// <paramref name="joined"/>, then the session's live events. Live events raised meanwhile wait
    /// in the buffer, as in <see cref="CatchUp"/>. False when the socket has joined too many sessions.
    /// </summary>
    public async Task<bool> Join(string sessionId, ReadOnlyMemory<byte> joined)
    {
        var tooMany = false;
        await CatchUp(() =>
        {
            if (_sessions.Contains(sessionId)) return new Replay(0, 0, sessionId, joined); // complete already: nothing to replay
            if (_sessions.Count >= _settings.MaxJoinedSessions)
            {
                tooMany = true;
                return null;
            }
            _sessions.Add(sessionId);
            var from = _resumePoint;
            if (_leftAt is not null && _leftAt.Remove(sessionId, out var left) && left > from) from = left;
            // Its events after _lastSeq are still to come live (into the buffer, delivered now that it is joined).
            return new Replay(from, _lastSeq, sessionId, joined);
        });
        return !tooMany;
    }

    public void Leave(string sessionId)
    {
        lock (_gate)
        {
            if (!_sessions.Remove(sessionId)) return;
            // A session joined here was complete from the resume point on; up to _lastSeq it was sent.
            _leftAt ??= new(StringComparer.Ordinal);
            if (_leftAt.Count >= _settings.MaxJoinedSessions && !_leftAt.ContainsKey(sessionId))
            {
                // Bounded: forget the one left earliest (joining it again may repeat some of its frames).
                var earliest = _leftAt.MinBy(l => l.Value).Key;
                _leftAt.Remove(earliest);
            }
            _leftAt[sessionId] = _lastSeq;
        }
    }

    public bool HasJoined(string sessionId) { lock (_gate) return _sessions.Contains(sessionId); }

    // --- outgoing ---

    /// <summary>A live event of this socket's user (from the pub/sub subscriber, in seq order).</summary>
    public void Offer(EventFrame e)
    {
        lock (_gate)
        {
            if (_close is not null) return;
            if (_buffer is not null)
            {
                // A live burst bigger than a few queues while catching up: this client cannot keep up.
                if (_buffer.Count >= _settings.SendQueueCapacity * 4) RequestCloseLocked(CloseCodes.SlowConsumer, "slow consumer");
                else _buffer.Add(e);
            }
            else DeliverLocked(e);
        }
        StartSender();
    }

    /// <summary>A frame without seq (typing, pong, error, notices). A full queue closes the socket.</summary>
    public void Send(ReadOnlyMemory<byte> frame)
    {
        lock (_gate)
        {
            if (_close is not null) return;
            EnqueueLocked(frame);
        }
        StartSender();
    }

    void DeliverLocked(EventFrame e)
    {
        if (e.Seq <= _lastSeq) return;
        _lastSeq = e.Seq;
        if (e.Scope is null || _sessions.Contains(e.Scope)) EnqueueLocked(e.Bytes);
    }

    void EnqueueLocked(ReadOnlyMemory<byte> frame)
    {
        _pending ??= new Queue<ReadOnlyMemory<byte>>();
        if (_pending.Count >= _settings.SendQueueCapacity)
        {
            RequestCloseLocked(CloseCodes.SlowConsumer, "slow consumer");
            return;
        }
        _pending.Enqueue(frame);
    }

    // --- catch-up: buffer live events, replay the log, then flush the buffer skipping what was replayed ---

    /// <summary>
    /// What a catch-up replays: the logged events after <paramref name="From"/> (to the end of the log
    /// when <paramref name="UpTo"/> is null); with a <paramref name="Session"/> (a join) only that
    /// session's, then <paramref name="Then"/> (the join's answer) before the buffered live events.
    /// </summary>
    sealed record Replay(long From, long? UpTo, string? Session = null, ReadOnlyMemory<byte>? Then = null);

    /// <summary>
    /// Replays every logged event after <paramref name="since"/> (default: the last seq this socket
    /// passed) while live events wait in the buffer, then flushes the buffer skipping what the replay
    /// sent: no gap, no duplicate, seq order, also while new events keep arriving. A since the log no
    /// longer covers answers <c>resync_required {since, lastSeq}</c> and continues live after lastSeq.
    /// A given since is also the point later joins replay from.
    /// </summary>
    public Task CatchUp(long? since) =>
        CatchUp(() =>
        {
            var from = since ?? _lastSeq;
            _lastSeq = from;
            if (since is { } given)
            {
                // The client's own position: from here on the socket is as if opened with it.
                _resumePoint = given;
                _leftAt = null;
            }
            return new Replay(from, null);
        });

    /// <summary>
    /// The one catch-up mechanism, for opening, resume, recovery and join: <paramref name="begin"/>
    /// (under the lock) picks what to replay and the socket starts buffering live events before the
    /// log is read, so an event is either in the log when read or arrives into the buffer. The replay
    /// then pages through the log, and the buffer is flushed; every delivery skips a seq at or below
    /// the socket's last seq. Catch-ups of one socket run one at a time.
    /// </summary>
    async Task CatchUp(Func<Replay?> begin)
    {
        await _catchUps.WaitAsync();
        try
        {
            Replay replay;
            lock (_gate)
            {
                if (begin() is not { } r) return;
                replay = r;
                _buffer ??= [];
            }
            var cursor = replay.From;
            // A join with nothing to replay reads nothing; a since past the log's end still reads (resync).
            while (replay.UpTo is not { } upTo || cursor < upTo)
            {
                LogRead read;
                try
                {
                    read = await _log.Read(UserId, cursor, _settings.CatchUpPageSize);
                }
                catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
                {
                    // A catch-up that cannot finish must not pretend to be complete: the client reconnects with its since.
                    RequestClose(WebSocketCloseStatus.InternalServerError, "catch-up failed, reconnect with since");
                    EndCatchUp();
                    return;
                }
                if (read.ResyncRequired)
                {
                    await SendInOrder(Frames.Control("resync_required", w =>
                    {
                        w.WriteNumber("since", replay.From);
                        w.WriteNumber("lastSeq", read.LastSeq);
                    }, Now));
                    if (replay.Then is { } answer) await SendInOrder(answer);
                    EndCatchUp(skipTo: read.LastSeq);
                    return;
                }
                var more = replay is { Session: { } session, UpTo: { } end }
                    ? await ReplaySession(read.Events, session, end)
                    : await ReplayAll(read.Events);
                if (!more) break;
                if (read.Events.Count < _settings.CatchUpPageSize) break;
                cursor = read.Events[^1].Seq;
            }
            if (replay.Then is { } then) await SendInOrder(then);
            EndCatchUp();
        }
        finally
        {
            _catchUps.Release();
        }
    }

    /// <summary>Writes replayed events in order, waiting for queue room (a replay may be longer than the queue). False once the socket is closing.</summary>
    async Task<bool> ReplayAll(IEnumerable<LoggedEvent> events)
    {
        foreach (var e in events)
        {
            bool deliver;
            lock (_gate)
            {
                if (_close is not null) return false;
                if (e.Seq <= _lastSeq) continue;
                _lastSeq = e.Seq;
                deliver = e.Scope is null || _sessions.Contains(e.Scope);
            }
            // Only the catch-up writes events while buffering, so awaiting here keeps seq order.
            if (deliver && !await TryWriteWaiting(Frames.Event(e).Bytes)) return false;
        }
        return true;
    }

    /// <summary>
    /// A join's replay: the session's events up to the socket's last seq at the join, which it passed
    /// without sending (not joined then); later ones come from the buffer. The last seq does not move.
    /// </summary>
    async Task<bool> ReplaySession(IEnumerable<LoggedEvent> events, string sessionId, long upTo)
    {
        foreach (var e in events)
        {
            if (e.Seq > upTo) return false;
            lock (_gate)
                if (_close is not null) return false;
            if (e.Scope == sessionId && !await TryWriteWaiting(Frames.Event(e).Bytes)) return false;
        }
        return true;
    }

    /// <summary>Sends a frame in the catch-up sequence (connected, resync notice), waiting for room.</summary>
    public Task<bool> SendInOrder(ReadOnlyMemory<byte> frame) => TryWriteWaiting(frame);

    /// <summary>Queues a frame, waiting while the queue is full; false once the socket is closing.</summary>
    async Task<bool> TryWriteWaiting(ReadOnlyMemory<byte> frame)
    {
        while (true)
        {
            Task room;
            lock (_gate)
            {
                if (_close is not null) return false;
                if (_pending is null || _pending.Count < _settings.SendQueueCapacity)
                {
                    EnqueueLocked(frame);
                    room = Task.CompletedTask;
                }
                else room = (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
            if (room.IsCompleted)
            {
                StartSender();
                return true;
            }
            await room;
        }
    }

    /// <summary>Ends the catch-up: buffered live events go out in order, the socket is live again.</summary>
    /// <param name="skipTo">After a resync notice: events up to this seq are covered by the client's reload.</param>
    void EndCatchUp(long? skipTo = null)
    {
        lock (_gate)
        {
            if (skipTo is { } s)
            {
                // The client reloads everything over REST: that is its new position, for joins too.
                if (s > _lastSeq) _lastSeq = s;
                _resumePoint = s;
                _leftAt = null;
            }
            var buffered = _buffer ?? [];
            _buffer = null;
            if (_close is null)
                foreach (var e in buffered) DeliverLocked(e);
        }
        StartSender();
    }

    // --- closing ---

    public void RequestClose(WebSocketCloseStatus status, string reason)
    {
        lock (_gate) RequestCloseLocked(status, reason);
        StartSender(); // the sender writes the close frame
    }

    /// <summary>Callers start the sender once they have left the lock (<see cref="StartSender"/>).</summary>
    void RequestCloseLocked(WebSocketCloseStatus status, string reason)
    {
        if (_close is not null) return;
        _close = (status, reason);
        _closeWritten = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending = null; // a closing socket skips its backlog: it will resume
        WakeRoomLocked();
    }

    void WakeRoomLocked()
    {
        if (_room is not { } room) return;
        _room = null;
        room.TrySetResult();
    }

    /// <summary>Drops the socket at once (a dead or stuck peer): a pending read or write fails.</summary>
    public void Abort()
    {
        RequestClose(WebSocketCloseStatus.InternalServerError, "aborted");
        _socket.Abort();
    }

    /// <summary>
    /// Starts the sender when something waits to be written and none runs. Called after the lock is left: the first
    /// writes usually complete at once (into the connection's output buffer), so the caller (often the pub/sub loop
    /// of the user's sockets) writes them itself, with no thread-pool hop per socket; a socket that pushes back
    /// leaves the rest to the sender, asynchronously.
    /// </summary>
    void StartSender()
    {
        lock (_gate)
        {
            if (_sending || (_close is null && _pending is not { Count: > 0 })) return;
            _sending = true;
        }
        _ = SendPending();
    }

    /// <summary>
    /// Writes the queued frames, then ends; once a close is requested it writes the close frame instead
    /// and stays the socket's last sender (no other starts after it).
    /// </summary>
    async Task SendPending()
    {
        CancellationTokenSource? timeout = null;
        try
        {
            while (true)
            {
                ReadOnlyMemory<byte> frame = default;
                (WebSocketCloseStatus Status, string Reason)? close;
                lock (_gate)
                {
                    close = _close;
                    if (close is null)
                    {
                        if (_pending is not { Count: > 0 } pending)
                        {
                            _pending = null;
                            _sending = false;
                            return;
                        }
                        frame = pending.Dequeue();
                        if (pending.Count < _settings.SendQueueCapacity) WakeRoomLocked();
                    }
                }

                timeout ??= new CancellationTokenSource();
                if (close is { } c)
                {
                    if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                    {
                        timeout.CancelAfter(_settings.SendTimeout);
                        await _socket.CloseOutputAsync(c.Status, c.Reason, timeout.Token);
                        // The peer answers our close frame or is dropped: the read loop is not left waiting.
                        lock (_gate)
                        {
                            _dropTimer = new CancellationTokenSource(_settings.SendTimeout);
                            _dropTimer.Token.UnsafeRegister(static s => ((WebSocket)s!).Abort(), _socket);
                        }
                    }
                    return;
                }
                var send = _socket.SendAsync(frame, WebSocketMessageType.Text, true, timeout.Token);
                if (send.IsCompletedSuccessfully)
                {
                    send.GetAwaiter().GetResult(); // releases a pooled operation behind the ValueTask
                    continue;
                }
                // Only a write the peer holds up arms the send timeout (no timer per frame).
                timeout.CancelAfter(_settings.SendTimeout);
                await send;
                if (!timeout.TryReset()) throw new OperationCanceledException();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException or IOException)
        {
            // A stuck or vanished peer: nothing more can be written to it. This sender stays the last one.
            lock (_gate) RequestCloseLocked(WebSocketCloseStatus.EndpointUnavailable, "going away");
            _socket.Abort();
        }
        finally
        {
            timeout?.Dispose();
            lock (_gate)
                if (_close is not null) _closeWritten!.TrySetResult();
        }
    }

    // --- incoming ---

    /// <summary>
    /// Reads client frames until the socket closes and hands each complete text message to
    /// <paramref name="onMessage"/>. Oversized, binary and over-budget frames answer error frames
    /// and the socket stays open. Returns once the socket is closed and the writer has finished.
    /// </summary>
    public async Task Run(Func<ReadOnlyMemory<byte>, Task> onMessage)
    {
        var sendsOn = false;
        try
        {
            var skipped = false;
            while (true)
            {
                // A zero-byte read waits for the next frame without holding a buffer: an idle socket keeps none.
                // No cancellation token: Abort (a dead peer, the close timeout) fails the read, registering nothing per socket.
                var result = await _socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
                if (YieldDue(now: skipped)) await Task.Yield();
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    RequestClose(WebSocketCloseStatus.NormalClosure, "");
                    break;
                }
                // Budget first: a frame of a closing socket or past the budget is skipped as it is read, not kept
                // (a flood's every frame once cost a buffer, hundreds of MB a second of garbage).
                var closing = CloseRequested is not null;
                var withinBudget = !closing && TakeToken();
                skipped = !withinBudget;
                var (rented, length, tooBig, closed) = result.EndOfMessage ? (null, 0, false, false) : await ReadMessage(keep: withinBudget);
                try
                {
                    if (closed)
                    {
                        RequestClose(WebSocketCloseStatus.NormalClosure, "");
                        break;
                    }

                    // A closing socket reads on until the peer answers the close (aborting now could drop the close frame),
                    // for a few frames: then it waits for the close frame to be written and drops the connection.
                    if (closing)
                    {
                        if (++_readAfterClose > FramesReadAfterClose)
                        {
                            sendsOn = true;
                            break;
                        }
                        continue;
                    }
                    if (!withinBudget)
                    {
                        if (Dropped()) continue;
                        // One notice per second at most, so a flood cannot fill our own queue with errors.
                        var now = Stopwatch.GetTimestamp();
                        if (Stopwatch.GetElapsedTime(_rateErrorAt, now) >= TimeSpan.FromSeconds(1))
                        {
                            _rateErrorAt = now;
                            Send(Frames.Error("rate_limited", $"Too many frames: at most {_settings.FramesPerSecond} per second. This frame was ignored.", Now));
                        }
                    }
                    else if (tooBig)
                        Send(Frames.Error("frame_too_large", $"A frame may hold at most {_settings.MaxClientFrameBytes} bytes.", Now));
                    else if (result.MessageType == WebSocketMessageType.Binary)
                        Send(Frames.Error("unsupported_frame", "Frames are JSON text: {\"type\": \"...\", \"payload\": {...}}.", Now));
                    else
                        await onMessage(rented is null ? ReadOnlyMemory<byte>.Empty : rented.AsMemory(0, length));
                }
                finally
                {
                    // The handler is done with the frame: it keeps nothing of it past its own await.
                    if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException or IOException)
        {
            // Peer gone (reset, keep-alive timeout) or the server is stopping.
            RequestClose(WebSocketCloseStatus.EndpointUnavailable, "going away");
        }

        // Let the sender write the closing frame; a peer that does not take it within the send timeout is dropped.
        Task closeWritten;
        lock (_gate) closeWritten = _closeWritten!.Task;
        if (await Task.WhenAny(closeWritten, Task.Delay(_settings.SendTimeout + TimeSpan.FromSeconds(1))) != closeWritten) Abort();
        await closeWritten;
        lock (_gate) _dropTimer?.Dispose();
        // Abort drops what is not yet written (it aborts the request): a peer that sends on past our close is left
        // its close frame, and the connection ends as the request does.
        if (_socket.State != WebSocketState.Closed && !(sendsOn && _socket.State == WebSocketState.CloseSent)) _socket.Abort();
        _socket.Dispose();
    }

    /// <summary>
    /// Reads the rest of the current message. Kept: into a rented buffer (the caller returns it), up to the frame
    /// limit, past which it is only skipped (too big). Not kept: skipped through a small rented buffer.
    /// </summary>
    async ValueTask<(byte[]? Rented, int Length, bool TooBig, bool Closed)> ReadMessage(bool keep)
    {
        var limit = _settings.MaxClientFrameBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(4096, limit + 1));
        var length = 0;
        var tooBig = false;
        try
        {
            while (true)
            {
                var kept = keep && !tooBig;
                if (kept && length == buffer.Length)
                {
                    // Grows up to one byte past the limit: a message that fills that much is too big.
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, limit + 1));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var result = await _socket.ReceiveAsync(kept ? buffer.AsMemory(length, Math.Min(buffer.Length, limit + 1) - length) : buffer.AsMemory(), CancellationToken.None);
                if (YieldDue()) await Task.Yield();
                if (result.MessageType == WebSocketMessageType.Close) return (null, 0, false, true);
                if (kept)
                {
                    length += result.Count;
                    tooBig = length > limit;
                }
                if (!result.EndOfMessage) continue;
                if (!keep || tooBig) return (null, 0, tooBig, false);
                var message = buffer;
                buffer = null!; // handed to the caller
                return (message, length, false, false);
            }
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Whether the read loop gives its thread back now: every <see cref="ReadsBetweenYields"/> reads, or <paramref name="now"/>.
    /// The caller awaits <see cref="Task.Yield"/> itself: a helper awaiting it would allocate a state machine per yield.
    /// </summary>
    bool YieldDue(bool now = false)
    {
        if (!now && ++_reads < ReadsBetweenYields) return false;
        _reads = 0;
        return true;
    }

    /// <summary>Counts a dropped client frame; true (and the socket closing with 4008) when it keeps flooding.</summary>
    public bool Dropped()
    {
        var now = Stopwatch.GetTimestamp();
        if (Stopwatch.GetElapsedTime(_dropWindowAt, now) >= _settings.FloodWindow)
        {
            _dropWindowAt = now;
            _dropped = 0;
        }
        if (++_dropped <= _settings.FloodDropLimit) return false;
        RequestClose(CloseCodes.SlowConsumer, "too many frames");
        return true;
    }

    bool TakeToken()
    {
        var now = Stopwatch.GetTimestamp();
        _tokens = Math.Min(_settings.FrameBurst, _tokens + Stopwatch.GetElapsedTime(_refilledAt, now).TotalSeconds * _settings.FramesPerSecond);
        _refilledAt = now;
        if (_tokens < 1) return false;
        _tokens -= 1;
        return true;
    }
}
