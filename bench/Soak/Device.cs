using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Soak;

/// <summary>
/// One socket connection of a device, from open to close: the session it joined, the seq it
/// started after (the <c>since</c> it passed, or <c>lastSeq</c> of <c>connected</c>) and every seq it received,
/// in arrival order. The frames the server owed it are computed from the user's log at the end.
/// </summary>
sealed class Epoch(string sessionId, long? since)
{
    public string SessionId { get; } = sessionId;
    public long? Since { get; } = since;
    public long Start { get; set; } = since ?? -1;          // -1 until connected says lastSeq
    public long? End { get; set; }                          // the since of the next epoch; null for the last one
    public List<long> Seqs { get; } = [];
    public HashSet<long> Seen { get; } = [];
    public string? ClosedBy { get; set; }                   // an unexpected close from the server, or a read error
}

/// <summary>
/// A signed-in device of a user: its tokens (rotated by refresh) and its one socket, viewing one
/// session at a time as the seed client does (<c>/ws/:sessionId</c>). A reconnect passes the last
/// seq it received as <c>since</c>; switching to another session is a reconnect to that session.
/// </summary>
sealed class Device(User user, int index, string token, string refreshToken)
{
    public User User { get; } = user;
    public int Index { get; } = index;
    public string Token
    {
        get => Volatile.Read(ref _token);
        set { Volatile.Write(ref _token, value); TokenAt = System.Diagnostics.Stopwatch.GetTimestamp(); }
    }
    /// <summary>When the access token was issued (Stopwatch ticks): clients refresh before the 15 minutes run out.</summary>
    public long TokenAt { get; private set; } = System.Diagnostics.Stopwatch.GetTimestamp();
    public string RefreshToken { get => Volatile.Read(ref _refresh); set => Volatile.Write(ref _refresh, value); }
    string _token = token, _refresh = refreshToken;

    /// <summary>Held by whoever uses the socket or the refresh token: reconnects, client frames, rotation.</summary>
    public SemaphoreSlim Busy { get; } = new(1, 1);

    public List<Epoch> Epochs { get; } = [];
    public Epoch Current => Epochs[^1];
    public long LastSeq { get; private set; }               // the last seq received (or lastSeq of the first connected)

    ClientWebSocket? _socket;
    Task? _reader;
    TaskCompletionSource<bool>? _connected;

    // Counted across epochs.
    public long Pongs, TypingFrames, ErrorFrames, ResyncFrames, OtherFrames, Duplicates, OutOfOrder;
    public readonly Dictionary<string, long> FrameTypes = new(StringComparer.Ordinal);

    public async Task Open(string wsBase, string sessionId, long? since)
    {
        var epoch = new Epoch(sessionId, since);
        if (Epochs.Count > 0) Current.End = since;
        Epochs.Add(epoch);
        _socket = new ClientWebSocket();
        _connected = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var url = $"{wsBase}/ws/{sessionId}?token={Uri.EscapeDataString(Token)}&userId={User.Id}" + (since is { } s ? $"&since={s}" : "");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _socket.ConnectAsync(new Uri(url), timeout.Token);
        _reader = Read(_socket, epoch);
        if (await Task.WhenAny(_connected.Task, Task.Delay(TimeSpan.FromSeconds(20))) != _connected.Task)
            throw new TimeoutException("no connected frame within 20 s");
        if (!await _connected.Task) throw new WebSocketException($"closed before connected: {epoch.ClosedBy}");
    }

    /// <summary>Ends the socket: a close handshake, or (<paramref name="vanish"/>) a dropped connection without a close frame.</summary>
    public async Task Close(bool vanish)
    {
        if (_socket is null) return;
        if (vanish)
        {
            _socket.Abort();
        }
        else
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token); }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException) { _socket.Abort(); }
        }
        if (_reader is not null && await Task.WhenAny(_reader, Task.Delay(TimeSpan.FromSeconds(10))) != _reader)
            _socket.Abort();
        if (_reader is not null) await _reader;
        _socket.Dispose();
        _socket = null;
    }

    public bool IsOpen => _socket?.State == WebSocketState.Open;

    public async Task SendFrame(string json)
    {
        if (_socket is not { State: WebSocketState.Open } socket) return;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, timeout.Token);
    }

    async Task Read(ClientWebSocket socket, Epoch epoch)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    // Our close gets the server's 1000 back; anything else came from the server on its own.
                    if (socket.CloseStatus != WebSocketCloseStatus.NormalClosure)
                        epoch.ClosedBy = $"server closed with {(int?)socket.CloseStatus} {socket.CloseStatusDescription}";
                    if (socket.State == WebSocketState.CloseReceived)
                    {
                        using var t = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                        try { await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", t.Token); }
                        catch (Exception e) when (e is WebSocketException or OperationCanceledException) { }
                    }
                    return;
                }
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage) continue;
                Handle(epoch, message.GetBuffer().AsSpan(0, (int)message.Length));
                message.SetLength(0);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // An abort of ours ends here too; only a failure we did not cause is kept.
            if (socket.State != WebSocketState.Aborted) epoch.ClosedBy ??= $"read failed: {e.Message}";
        }
        finally
        {
            _connected?.TrySetResult(false);
        }
    }

    void Handle(Epoch epoch, ReadOnlySpan<byte> json)
    {
        using var doc = JsonDocument.Parse(json.ToArray());
        var root = doc.RootElement;
        var type = root.GetProperty("type").GetString() ?? "";
        lock (FrameTypes) FrameTypes[type] = FrameTypes.GetValueOrDefault(type) + 1;
        if (root.TryGetProperty("seq", out var seqElement))
        {
            var seq = seqElement.GetInt64();
            lock (epoch.Seqs)
            {
                if (!epoch.Seen.Add(seq)) Duplicates++;
                else if (epoch.Seqs.Count > 0 && seq < epoch.Seqs[^1]) OutOfOrder++;
                epoch.Seqs.Add(seq);
            }
            if (seq > LastSeq) LastSeq = seq;
            return;
        }
        switch (type)
        {
            case "connected":
                var announced = root.GetProperty("lastSeq").GetInt64();
                if (epoch.Since is null) { epoch.Start = announced; LastSeq = Math.Max(LastSeq, announced); }
                _connected?.TrySetResult(true);
                break;
            case "pong": Interlocked.Increment(ref Pongs); break;
            case "typing": Interlocked.Increment(ref TypingFrames); break;
            case "error": Interlocked.Increment(ref ErrorFrames); User.Run.Api.Surprise($"error frame on a socket of {User.Name}: {root.GetRawText()}"); break;
            case "resync_required": Interlocked.Increment(ref ResyncFrames); User.Run.Api.Surprise($"resync_required on a socket of {User.Name}: {root.GetRawText()}"); break;
            default: Interlocked.Increment(ref OtherFrames); break;
        }
    }
}
