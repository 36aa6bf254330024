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
            .ProducesProblem(400).ProducesProblem(403);

    static async Task Connect(HttpContext http, string sessionId, AccessTokens tokens, Settings settings,
        IDatabase db, EventLog log, RealtimeHub hub, RealtimeSettings realtime, TimeProvider clock)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            await ProblemHandling.Write(http, 400, "websocket_required", "This address speaks WebSocket only: open it with a WebSocket client.");
            return;
        }
        // Browsers always send Origin; a page from another site must not ride on a user's token.
        var origin = http.Request.Headers.Origin;
        if (!StringValues.IsNullOrEmpty(origin) && !settings.CorsOrigins.Contains(origin.ToString(), StringComparer.OrdinalIgnoreCase))
        {
            await ProblemHandling.Write(http, 403, "origin_not_allowed", "WebSocket connections from this origin are not allowed.");
            return;
        }

        var (userId, authorized) = await Caller(http.Request.Query, tokens);
        var (since, badSince) = Since(http.Request.Query);

        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        if (!authorized)
        {
            await CloseAtOnce(socket, CloseCodes.Unauthorized, "unauthorized", realtime);
            return;
        }
        Connection connection;
        long lastSeq;
        try
        {
            if (!Sessions.IsValidId(sessionId) || !await NanoBanana.Features.Sessions.SessionRecord.IsLive(db, userId!, sessionId))
            {
                await CloseAtOnce(socket, CloseCodes.SessionNotFound, "session not found", realtime);
                return;
            }
            connection = new Connection(socket, userId!, sessionId, log, realtime, clock);
            await hub.Add(connection); // from here every live event of the user is buffered for this socket
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            await CloseAtOnce(socket, WebSocketCloseStatus.InternalServerError, "service unavailable, retry", realtime);
            return;
        }
        try
        {
            var ct = http.RequestAborted;
            try
            {
                lastSeq = await log.LastSeq(userId!);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                await CloseAtOnce(socket, WebSocketCloseStatus.InternalServerError, "service unavailable, retry", realtime);
                return;
            }
            await connection.SendInOrder(Frames.Connected(sessionId, userId!, lastSeq, clock.GetUtcNow()), ct);
            if (badSince)
                connection.Send(Frames.Error("invalid_since", "since must be a whole number >= 0; no catch-up was done.", clock.GetUtcNow()));
            // Without since the socket's position is the seq announced in connected.
            await connection.CatchUp(since ?? lastSeq, ct);

            var protocol = new HubProtocol(connection, db, hub, realtime);
            await connection.Run(protocol.Handle, ct);
        }
        finally
        {
            await hub.Remove(connection);
        }
    }

    // Kept out of Connect so the token and its claims are not held for the socket's lifetime.
    static async Task<(string? UserId, bool Authorized)> Caller(IQueryCollection query, AccessTokens tokens)
    {
        var userId = (await tokens.Validate(query["token"].ToString()))?.UserId();
        var claimed = query["userId"].ToString();
        return (userId, userId is not null && (claimed.Length == 0 || claimed == userId));
    }

    static (long? Since, bool Bad) Since(IQueryCollection query)
    {
        if (!query.TryGetValue("since", out var raw)) return (null, false);
        return long.TryParse(raw.ToString(), out var since) && since >= 0 ? (since, false) : (null, true);
    }

    static async Task CloseAtOnce(WebSocket socket, WebSocketCloseStatus code, string reason, RealtimeSettings realtime)
    {
        using var timeout = new CancellationTokenSource(realtime.SendTimeout);
        try { await socket.CloseAsync(code, reason, timeout.Token); }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException) { socket.Abort(); }
    }
}

/// <summary>Client frames <c>{type, payload}</c>: join_session, leave_session, typing, ping, resume.</summary>
sealed class HubProtocol(Connection connection, IDatabase db, RealtimeHub hub, RealtimeSettings realtime)
{
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
                else if (!await connection.Join(join, AckFrame("session_joined", join), CancellationToken.None))
                    Error("too_many_sessions", $"A connection may join at most {realtime.MaxJoinedSessions} sessions.");
                break;
            case "leave_session":
                if (SessionId(payload) is not { } leave) return;
                connection.Leave(leave);
                Ack("session_left", leave);
                break;
            case "typing":
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
                await connection.CatchUp(since, CancellationToken.None);
                break;
            default:
                Error("unknown_type", $"Unknown frame type '{Truncate(type)}'. Known: join_session, leave_session, typing, ping, resume.");
                break;
        }
    }

    string? SessionId(JsonElement payload)
    {
        if (payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty("sessionId", out var id)
            && id.ValueKind == JsonValueKind.String && Sessions.IsValidId(id.GetString()!))
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

/// <summary>The hub's id check, made before any Redis call; whether a session is live is the sessions slice's rule (SessionRecord.IsLive).</summary>
static partial class Sessions
{
    [GeneratedRegex("^[A-Za-z0-9_-]{1,128}$")]
    private static partial Regex IdPattern();

    public static bool IsValidId(string id) => IdPattern().IsMatch(id);
}
