using System.Net.WebSockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Carter;
using Microsoft.Extensions.Primitives;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;

namespace NanoBanana.Features.Realtime;

/// <summary>
/// The realtime hub: <c>/ws/{sessionId}?token=&amp;userId=&amp;since=</c> (SPEC section 5). The token is
/// checked before the upgrade; since a browser cannot read a refused upgrade, a bad token or a
/// session that is not the caller's is answered by accepting and closing at once (4401 / 4404),
/// before any data frame.
/// </summary>
public sealed class HubEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGet("/ws/{sessionId}", Connect)
            .WithName("RealtimeHub").WithTags("Realtime").AllowAnonymous()
            .WithSummary("Open the realtime WebSocket (see docs/realtime.md for frames and close codes)")
            .Produces(StatusCodes.Status101SwitchingProtocols).ProducesProblem(400).ProducesProblem(403)
            // A socket's request lasts as long as the socket: it skips the API's authentication, rate limits,
            // authorization and answer cache (it checks its own token), which would each hold state for its lifetime.
            .ShortCircuit();

    static async Task Connect(HttpContext http, string sessionId, AccessTokens tokens, SignIns signIns, Settings settings,
        IDatabase db, EventLog log, RealtimeHub hub, RealtimeSettings realtime, TimeProvider clock, HandshakeGate gate)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            await ProblemHandling.Write(http, 400, "websocket_required", "This address speaks WebSocket only: open it with a WebSocket client.");
            return;
        }
        // Browsers always send Origin; a page from another site must not ride on a user's token.
        var origin = http.Request.Headers.Origin;
        if (!StringValues.IsNullOrEmpty(origin) && !SameOrigin(http.Request, origin.ToString())
            && !settings.CorsOrigins.Contains(origin.ToString(), StringComparer.OrdinalIgnoreCase))
        {
            await ProblemHandling.Write(http, 403, "origin_not_allowed", "WebSocket connections from this origin are not allowed.");
            return;
        }

        // The handshake's work (token, Redis checks, catch-up) waits for its turn: a burst of sockets queues here.
        using var turn = gate.NewTurn();
        if (!await turn.Take(http.RequestAborted)) return; // the client left while it waited

        // Without a token in the address the client sends it as its first frame, auth {token}: the address (which
        // Kestrel keeps for the socket's lifetime, and proxies log) then holds no token.
        var tokenInQuery = http.Request.Query.ContainsKey("token");
        var (userId, deviceId, authorized) = tokenInQuery ? await Caller(http.Request.Query["token"].ToString(), http.Request.Query["userId"].ToString(), tokens) : default;
        var claimedUserId = tokenInQuery ? null : http.Request.Query["userId"].ToString();
        var (since, badSince) = Since(http.Request.Query);
        ForgetQuery(http);

        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        Connection connection;
        long lastSeq;
        try
        {
            if (!tokenInQuery)
            {
                if (await CallerOfFirstFrame(socket, claimedUserId!, turn, tokens, realtime, http.RequestAborted) is not { } caller)
                {
                    socket.Abort();
                    return;
                }
                (userId, deviceId, authorized) = caller;
            }
            if (!authorized || !await signIns.IsSignedIn(userId!, deviceId!))
            {
                await Refuse(socket, turn, CloseCodes.Unauthorized, "unauthorized", realtime, http.RequestAborted);
                return;
            }
            if (!Ids.IsValid(sessionId) || !await NanoBanana.Features.Sessions.SessionRecord.IsLive(db, userId!, sessionId))
            {
                await Refuse(socket, turn, CloseCodes.SessionNotFound, "session not found", realtime, http.RequestAborted);
                return;
            }
            connection = new Connection(socket, userId!, deviceId!, sessionId, log, realtime, clock);
            // From here every live event of the user is buffered for this socket.
            if (!await hub.Add(connection))
            {
                await Refuse(socket, turn, CloseCodes.TooManyConnections, "too many connections", realtime, http.RequestAborted);
                return;
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            await CloseAtOnce(socket, turn, WebSocketCloseStatus.InternalServerError, "service unavailable, retry", realtime);
            return;
        }
        try
        {
            try
            {
                // A sign-out that ran between the check above and Add found no socket to close.
                if (!await signIns.IsSignedIn(userId!, deviceId!, fresh: true))
                {
                    await Refuse(socket, turn, CloseCodes.Unauthorized, "unauthorized", realtime, http.RequestAborted);
                    return;
                }
                lastSeq = await log.LastSeq(userId!);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                await CloseAtOnce(socket, turn, WebSocketCloseStatus.InternalServerError, "service unavailable, retry", realtime);
                return;
            }
            // The catch-up waits on the client (room in its queue): out of the gate.
            turn.Leave();
            await connection.SendInOrder(Frames.Connected(sessionId, userId!, lastSeq, clock.GetUtcNow()));
            if (badSince)
                connection.Send(Frames.Error("invalid_since", "since must be a whole number >= 0; no catch-up was done.", clock.GetUtcNow()));
            // Without since the socket's position is the seq announced in connected.
            await connection.CatchUp(since ?? lastSeq);

            var protocol = new HubProtocol(connection, db, hub, realtime, tokens, signIns);
            await connection.Run(protocol.Handle);
        }
        finally
        {
            await hub.Remove(connection);
        }
    }

    // Kept out of Connect so the token and its claims are not held for the socket's lifetime.
    static async Task<(string? UserId, string? DeviceId, bool Authorized)> Caller(string? token, string claimed, AccessTokens tokens)
    {
        var caller = token is { Length: > 0 } ? await tokens.Validate(token) : null;
        var userId = caller?.UserId();
        return (userId, caller?.DeviceId(), userId is not null && (claimed.Length == 0 || claimed == userId));
    }

    /// <summary>The caller of the first frame's token, read out of the handshake's turn; null when the client left meanwhile.</summary>
    static async Task<(string? UserId, string? DeviceId, bool Authorized)?> CallerOfFirstFrame(WebSocket socket, string claimed,
        HandshakeGate.Turn turn, AccessTokens tokens, RealtimeSettings realtime, CancellationToken aborted)
    {
        turn.Leave();
        var token = await FirstFrameToken(socket, realtime, aborted);
        if (!await turn.Take(aborted)) return null;
        return await Caller(token, claimed, tokens);
    }

    /// <summary>
    /// The token of the client's first frame, <c>{"type":"auth","payload":{"token":"..."}}</c>; null when that frame
    /// is something else, too big, or does not come within <see cref="RealtimeSettings.AuthTimeout"/> (then 4401).
    /// </summary>
    static async Task<string?> FirstFrameToken(WebSocket socket, RealtimeSettings realtime, CancellationToken aborted)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(AuthFrameMaxBytes);
        var read = ReadFirstFrame(socket, buffer);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(aborted);
            timeout.CancelAfter(realtime.AuthTimeout);
            // Only the wait is cancelled, not the read (that would abort the socket): a late client is closed with 4401.
            try { await read.WaitAsync(timeout.Token); }
            catch (OperationCanceledException) { return null; }
            if (read.Result is not { } length) return null;
            using var frame = JsonDocument.Parse(buffer.AsMemory(0, length));
            var root = frame.RootElement;
            return root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("type", out var type) && type.ValueEquals("auth")
                && root.TryGetProperty("payload", out var payload)
                ? TokenOf(payload) : null;
        }
        catch (JsonException) { return null; }
        finally
        {
            // A read still pending may yet write into the buffer: then it is left to the collector.
            if (read.IsCompleted) System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    const int AuthFrameMaxBytes = 8 * 1024;

    /// <summary>The token of an <c>auth</c> frame's payload, <c>{"token":"..."}</c>; null when it has none.</summary>
    internal static string? TokenOf(JsonElement payload) =>
        payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty("token", out var token) && token.ValueKind == JsonValueKind.String
            ? token.GetString() : null;

    /// <summary>Reads one text message into <paramref name="buffer"/>; its length, or null for anything else (or one too big).</summary>
    static async Task<int?> ReadFirstFrame(WebSocket socket, byte[] buffer)
    {
        var length = 0;
        try
        {
            while (length < AuthFrameMaxBytes)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(length, AuthFrameMaxBytes - length), CancellationToken.None);
                if (result.MessageType != WebSocketMessageType.Text) return null;
                length += result.Count;
                if (result.EndOfMessage) return length;
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException) { }
        return null;
    }

    /// <summary>
    /// Kestrel keeps a request's target, query string and parsed query for as long as the request runs, which for
    /// a socket is its lifetime: three copies of the access token. Once read they are let go.
    /// </summary>
    static void ForgetQuery(HttpContext http)
    {
        http.Request.Query = QueryCollection.Empty; // empties the request's query string too
        if (http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>() is { } request) request.RawTarget = request.Path;
    }

    /// <summary>
    /// Refuses a handshake after <see cref="RealtimeSettings.RefusalDelay"/>: a client that reconnects at once
    /// after every refusal (the seed's socket class after a 4401) then loops at that pace. Good sockets never wait.
    /// A client gone meanwhile is dropped; neither ends by an exception (a burst of refusals would pay for each).
    /// The handshake leaves the gate first: the wait is on the client's time, not the gate's.
    /// </summary>
    static async Task Refuse(WebSocket socket, HandshakeGate.Turn turn, WebSocketCloseStatus code, string reason, RealtimeSettings realtime, CancellationToken ct)
    {
        turn.Leave();
        await Task.Delay(realtime.RefusalDelay, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (ct.IsCancellationRequested) socket.Abort();
        else await CloseAtOnce(socket, turn, code, reason, realtime);
    }

    /// <summary>The service's own web page (served at /) connects from the origin it was loaded from.</summary>
    static bool SameOrigin(HttpRequest request, string origin) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri) && request.Host.HasValue
        && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);

    static (long? Since, bool Bad) Since(IQueryCollection query)
    {
        if (!query.TryGetValue("since", out var raw)) return (null, false);
        return long.TryParse(raw.ToString(), out var since) && since >= 0 ? (since, false) : (null, true);
    }

    /// <summary>
    /// Sends the close frame and ends the request (Kestrel then closes the connection) without waiting for the
    /// client's answer: a refused client often goes without one, and waiting for it read the end of the stream
    /// as an error, one exception per refused socket.
    /// </summary>
    static async Task CloseAtOnce(WebSocket socket, HandshakeGate.Turn turn, WebSocketCloseStatus code, string reason, RealtimeSettings realtime)
    {
        turn.Leave();
        using var timeout = new CancellationTokenSource(realtime.SendTimeout);
        try { await socket.CloseOutputAsync(code, reason, timeout.Token); }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException) { socket.Abort(); }
    }
}

/// <summary>Client frames <c>{type, payload}</c>: join_session, leave_session, typing, ping, resume, auth.</summary>
sealed class HubProtocol(Connection connection, IDatabase db, RealtimeHub hub, RealtimeSettings realtime, AccessTokens tokens, SignIns signIns)
{
    // typing's own budget, below the general frame budget: each one fans out to the user's other sockets.
    double _typingTokens = realtime.TypingPerSecond;
    long _typingAt = System.Diagnostics.Stopwatch.GetTimestamp();

    public async Task Handle(ReadOnlyMemory<byte> frame)
    {
        string type;
        JsonElement payload;
        try
        {
            using var doc = JsonDocument.Parse(frame);
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("type", out var t) || t.ValueKind != JsonValueKind.String)
            {
                Error("malformed_frame", "A frame is a JSON object {\"type\": \"...\", \"payload\": {...}}.");
                return;
            }
            type = t.GetString()!;
            payload = doc.RootElement.TryGetProperty("payload", out var p) ? p.Clone() : default;
        }
        catch (JsonException)
        {
            Error("malformed_frame", "The frame is not valid JSON.");
            return;
        }

        try
        {
            await Dispatch(type, payload);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Error("unavailable", "The data store is not answering right now; try again shortly.");
        }
    }

    async Task Dispatch(string type, JsonElement payload)
    {
        switch (type)
        {
            case "ping":
                connection.Send(Frames.Control("pong", null, connection.Now));
                break;
            case "join_session":
                if (SessionId(payload) is not { } join) return;
                if (!await NanoBanana.Features.Sessions.SessionRecord.IsLive(db, connection.UserId, join))
                    Error("session_not_found", "That session does not exist.");
                // The session's events this socket missed come first, then the answer, then its live events.
                else if (!await connection.Join(join, AckFrame("session_joined", join)))
                    Error("too_many_sessions", $"A connection may join at most {realtime.MaxJoinedSessions} sessions.");
                break;
            case "leave_session":
                if (SessionId(payload) is not { } leave) return;
                connection.Leave(leave);
                Ack("session_left", leave);
                break;
            case "typing":
                if (!TakeTypingToken())
                {
                    connection.Dropped();
                    return;
                }
                if (SessionId(payload) is not { } typingIn) return;
                if (!payload.TryGetProperty("isTyping", out var isTyping) || isTyping.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    Error("invalid_payload", "typing needs payload {sessionId, isTyping: true|false}.");
                else if (!connection.HasJoined(typingIn))
                    Error("not_joined", "Join the session before sending typing for it.");
                else
                    await hub.PublishTyping(connection, typingIn, isTyping.GetBoolean());
                break;
            case "resume":
                if (payload.ValueKind != JsonValueKind.Object || !payload.TryGetProperty("since", out var s)
                    || s.ValueKind != JsonValueKind.Number || !s.TryGetInt64(out var since) || since < 0)
                {
                    Error("invalid_payload", "resume needs payload {since: <last seq received, a whole number >= 0>}.");
                    return;
                }
                await connection.CatchUp(since);
                break;
            case "auth":
                await Authenticate(payload);
                break;
            default:
                Error("unknown_type", $"Unknown frame type '{Truncate(type)}'. Known: join_session, leave_session, typing, ping, resume, auth.");
                break;
        }
    }

    /// <summary>
    /// <c>auth {token}</c>: moves the socket to a fresh access token of the same user (and its device sign-in);
    /// a token that is not valid, is another user's, or whose device has ended closes the socket with 4401.
    /// </summary>
    async Task Authenticate(JsonElement payload)
    {
        var token = HubEndpoint.TokenOf(payload);
        var caller = token is { Length: > 0 and <= 4096 } ? await tokens.Validate(token) : null;
        var deviceId = caller?.DeviceId() ?? "";
        if (caller is null || caller.UserId() != connection.UserId || !await signIns.IsSignedIn(connection.UserId, deviceId, fresh: true))
        {
            connection.RequestClose(CloseCodes.Unauthorized, "unauthorized");
            return;
        }
        connection.DeviceId = deviceId;
        connection.Send(Frames.Control("authenticated", w => w.WriteString("userId", connection.UserId), connection.Now));
    }

    bool TakeTypingToken()
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        _typingTokens = Math.Min(realtime.TypingPerSecond,
            _typingTokens + System.Diagnostics.Stopwatch.GetElapsedTime(_typingAt, now).TotalSeconds * realtime.TypingPerSecond);
        _typingAt = now;
        if (_typingTokens < 1) return false;
        _typingTokens -= 1;
        return true;
    }

    string? SessionId(JsonElement payload)
    {
        if (payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty("sessionId", out var id)
            && id.ValueKind == JsonValueKind.String && Ids.IsValid(id.GetString()!))
            return id.GetString();
        Error("invalid_payload", "This frame needs payload {sessionId: \"...\"}.");
        return null;
    }

    void Ack(string type, string sessionId) => connection.Send(AckFrame(type, sessionId));

    ReadOnlyMemory<byte> AckFrame(string type, string sessionId) =>
        Frames.Control(type, w => w.WriteString("sessionId", sessionId), connection.Now);

    void Error(string code, string message) => connection.Send(Frames.Error(code, message, connection.Now));

    static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "...";
}

