using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>One "device": a real ClientWebSocket connected to a <see cref="LiveServer"/>. Every wait is an awaited receive with a timeout.</summary>
public sealed class Device : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    public ClientWebSocket Socket { get; }
    readonly byte[] _chunk = new byte[64 * 1024];

    Device(ClientWebSocket socket) => Socket = socket;

    public static string PathFor(string sessionId, string? token, string? userId = null, long? since = null)
    {
        var query = new List<string>();
        if (token is not null) query.Add($"token={Uri.EscapeDataString(token)}");
        if (userId is not null) query.Add($"userId={Uri.EscapeDataString(userId)}");
        if (since is not null) query.Add($"since={since}");
        return $"/ws/{sessionId}" + (query.Count > 0 ? "?" + string.Join('&', query) : "");
    }

    /// <summary>Opens the socket (the upgrade only: no frame is read).</summary>
    /// <param name="receiveBufferBytes">A small kernel receive buffer, for a client that never reads.</param>
    public static async Task<Device> Open(LiveServer server, string pathAndQuery, string? origin = null, int? receiveBufferBytes = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (origin is not null) socket.Options.SetRequestHeader("Origin", origin);
        using var cts = new CancellationTokenSource(Timeout);
        var uri = server.WebSocketUri(pathAndQuery);
        if (receiveBufferBytes is { } size)
        {
            var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (context, ct) =>
                {
                    var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = size };
                    await s.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(s, ownsSocket: true);
                },
            };
            await socket.ConnectAsync(uri, new HttpMessageInvoker(handler), cts.Token);
        }
        else
        {
            await socket.ConnectAsync(uri, cts.Token);
        }
        return new Device(socket);
    }

    /// <summary>Opens the socket and reads the <c>connected</c> frame.</summary>
    public static async Task<(Device Device, JsonObject Connected)> Connect(LiveServer server, string sessionId, TestUser user,
        long? since = null, string? userId = null)
    {
        var device = await Open(server, PathFor(sessionId, user.Token, userId, since));
        var connected = await device.Receive();
        Assert.Equal("connected", connected["type"]!.GetValue<string>());
        return (device, connected);
    }

    public async Task<JsonObject> Receive(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        using var message = new MemoryStream();
        while (true)
        {
            var result = await Socket.ReceiveAsync(_chunk, cts.Token);
            if (result.MessageType == WebSocketMessageType.Close)
                throw new InvalidOperationException($"The server closed the socket: {(int?)Socket.CloseStatus} {Socket.CloseStatusDescription}");
            message.Write(_chunk, 0, result.Count);
            if (result.EndOfMessage) break;
        }
        return JsonNode.Parse(message.ToArray())!.AsObject();
    }

    /// <summary>The next frame that carries a seq (a stored event), skipping control frames.</summary>
    public async Task<JsonObject> ReceiveEvent()
    {
        while (true)
        {
            var frame = await Receive();
            if (frame["seq"] is not null) return frame;
        }
    }

    /// <summary>The next frame of the given type, skipping others.</summary>
    public async Task<JsonObject> ReceiveType(string type)
    {
        while (true)
        {
            var frame = await Receive();
            if (frame["type"]!.GetValue<string>() == type) return frame;
        }
    }

    /// <summary>Reads until the server's close frame; returns the close code and the data frames read before it.</summary>
    public async Task<(int? Code, List<JsonObject> Frames)> ReceiveUntilClosed()
    {
        var frames = new List<JsonObject>();
        using var cts = new CancellationTokenSource(Timeout);
        using var message = new MemoryStream();
        while (true)
        {
            var result = await Socket.ReceiveAsync(_chunk, cts.Token);
            if (result.MessageType == WebSocketMessageType.Close) return ((int?)Socket.CloseStatus, frames);
            message.Write(_chunk, 0, result.Count);
            if (!result.EndOfMessage) continue;
            frames.Add(JsonNode.Parse(message.ToArray())!.AsObject());
            message.SetLength(0);
        }
    }

    public async Task Send(object frame)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await Socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(frame), WebSocketMessageType.Text, true, cts.Token);
    }

    public async Task SendText(string text)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, cts.Token);
    }

    /// <summary>Joins a session and waits for the server's acknowledgement; returns the frames that came before it (the session's replayed events).</summary>
    public async Task<List<JsonObject>> Join(string sessionId)
    {
        await Send(new { type = "join_session", payload = new { sessionId } });
        var before = new List<JsonObject>();
        while (true)
        {
            var frame = await Receive();
            if (frame["type"]!.GetValue<string>() == "session_joined")
            {
                Assert.Equal(sessionId, frame["payload"]!["sessionId"]!.GetValue<string>());
                return before;
            }
            before.Add(frame);
        }
    }

    public async Task Leave(string sessionId)
    {
        await Send(new { type = "leave_session", payload = new { sessionId } });
        var ack = await Receive();
        Assert.Equal("session_left", ack["type"]!.GetValue<string>());
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State == WebSocketState.Open)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try { await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token); }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException) { }
        }
        Socket.Dispose();
    }

    public HttpStatusCode? HandshakeStatus => Socket.HttpStatusCode;
}
