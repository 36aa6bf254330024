using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Infrastructure.Realtime;

namespace NanoBanana.Tests.Infrastructure.Realtime;

/// <summary>How a live event reaches a socket whose writes complete at once (an output buffer with room).</summary>
public sealed class ConnectionSendTests(AppFixture app) : IntegrationContext(app)
{
    [Fact]
    public async Task A_live_event_is_written_by_the_dispatcher_itself_when_the_socket_takes_it_at_once()
    {
        var client = new ReadyClient([]);
        using var socket = WebSocket.CreateFromStream(client, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var connection = new Connection(socket, Guid.NewGuid().ToString("N"), "d", "s", Host.Services.GetRequiredService<EventLog>(),
            Host.Services.GetRequiredService<RealtimeSettings>(), TimeProvider.System);
        await connection.CatchUp(0); // the user has no events: the socket is live
        var frame = """{"type":"message_created","payload":{},"seq":1,"timestamp":"2026-12-06T10:00:00.000Z"}"""u8.ToArray();

        // Offered on a thread whose queued work never runs: the frame is on the wire when Offer returns, with no hop.
        var held = new HeldWork();
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(held);
        try { connection.Offer(new EventFrame(1, null, frame)); }
        finally { SynchronizationContext.SetSynchronizationContext(previous); }

        // A server text frame of under 126 bytes: FIN + text, the length, the payload (unmasked).
        Assert.Equal([0x81, (byte)frame.Length, .. frame], client.Written);
    }
}
