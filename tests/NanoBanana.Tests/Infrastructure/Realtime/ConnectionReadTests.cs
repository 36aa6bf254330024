using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Infrastructure.Realtime;

namespace NanoBanana.Tests.Infrastructure.Realtime;

/// <summary>A socket's read loop against a client whose frames are always there to read (a flood over a fast link).</summary>
public sealed class ConnectionReadTests(AppFixture app) : IntegrationContext(app)
{
    /// <summary>A client frame (masked, with a zero key so the payload stays as it is), RFC 6455 section 5.2.</summary>
    static byte[] ClientFrame(byte opcode, byte[] payload) => [(byte)(0x80 | opcode), (byte)(0x80 | payload.Length), 0, 0, 0, 0, .. payload];

    /// <summary>A socket whose client sends <paramref name="frames"/> typing frames then a close, all ready at once; its
    /// read loop started on a queue the test runs (<see cref="HeldWork"/>), so what it leaves for later can be counted.</summary>
    sealed record TypingFlood(Task Run, ReadyClient Client, HeldWork Held, byte[] Bytes, WebSocket Socket, Connection Connection) : IDisposable
    {
        public void Dispose() => Socket.Dispose();
    }

    TypingFlood StartTypingFlood(int frames)
    {
        var typing = ClientFrame(0x1, """{"type":"typing","payload":{"sessionId":"s","isTyping":true}}"""u8.ToArray());
        var bytes = Enumerable.Repeat(typing, frames).SelectMany(f => f).Concat(ClientFrame(0x8, [0x03, 0xE8])).ToArray();
        var client = new ReadyClient(bytes);
        var socket = WebSocket.CreateFromStream(client, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var connection = new Connection(socket, "u", "d", "s", Host.Services.GetRequiredService<EventLog>(),
            Host.Services.GetRequiredService<RealtimeSettings>(), TimeProvider.System);

        var held = new HeldWork();
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(held);
        try { return new TypingFlood(connection.Run(_ => Task.CompletedTask), client, held, bytes, socket, connection); }
        finally { SynchronizationContext.SetSynchronizationContext(previous); }
    }

    [Fact]
    public async Task A_flooding_client_whose_frames_are_always_ready_does_not_keep_the_read_loop_on_its_thread()
    {
        const int frames = 20_000;
        using var flood = StartTypingFlood(frames);
        var (run, client, held, bytes) = (flood.Run, flood.Client, flood.Held, flood.Bytes);

        // The call comes back after a few frames; the rest are read from the queue (here the test's), behind other work.
        var consumed = client.Consumed;
        Assert.True(consumed < bytes.Length / 100, $"{consumed} of {bytes.Length} bytes read before the loop gave its thread back");
        held.RunUntil(run, TimeSpan.FromSeconds(30));
        Assert.True(run.IsCompletedSuccessfully, "the read loop did not finish");
    }

    [Fact]
    public async Task A_flooder_past_its_budget_gives_the_thread_back_after_each_frame_it_skips()
    {
        const int frames = 2_000;
        using var flood = StartTypingFlood(frames);
        var (run, held) = (flood.Run, flood.Held);
        held.RunUntil(run, TimeSpan.FromSeconds(30));

        Assert.True(run.IsCompletedSuccessfully, "the read loop did not finish");
        // Past the burst every frame is skipped (dropped until the 4008, then a few more read after it): each waits
        // its turn behind other work, so a request queued behind 32 flooders waits for one frame of each.
        Assert.True(held.Ran >= new RealtimeSettings().FloodDropLimit + Connection.FramesReadAfterClose, $"{held.Ran} turns of the queue for {frames} frames");
    }

    [Fact]
    public async Task A_flooder_that_sends_on_after_its_4008_is_dropped_after_a_few_frames_instead_of_read_to_its_close()
    {
        const int frames = 20_000;
        using var flood = StartTypingFlood(frames);
        var (run, client, held, bytes) = (flood.Run, flood.Client, flood.Held, flood.Bytes);
        held.RunUntil(run, TimeSpan.FromSeconds(30));

        Assert.True(run.IsCompletedSuccessfully, "the read loop did not finish");
        Assert.Equal(CloseCodes.SlowConsumer, (WebSocketCloseStatus?)flood.Connection.CloseRequested?.Status);
        // Read: the burst, the dropped frames up to the 4008, a few after it (and what the socket reads ahead); not the flood.
        var settings = new RealtimeSettings();
        var frameBytes = (bytes.Length - 8) / frames; // the typing frames, without the close at the end
        var bound = (settings.FrameBurst + settings.FloodDropLimit + Connection.FramesReadAfterClose + 2) * frameBytes + 16 * 1024;
        Assert.True(client.Consumed <= bound, $"{client.Consumed} of {bytes.Length} bytes read (bound {bound})");
        // The close frame is the last thing written (server frames are unmasked: 0x88, length, then the code 4008).
        var written = client.Written;
        Assert.Contains(Enumerable.Range(0, Math.Max(0, written.Length - 3)),
            i => written[i] == 0x88 && i + 2 + written[i + 1] == written.Length && written[i + 2] == 0x0F && written[i + 3] == 0xA8);
    }

    [Fact]
    public async Task Frames_past_the_budget_and_after_the_close_are_skipped_without_a_buffer_each()
    {
        const int frames = 20_000;
        var typing = ClientFrame(0x1, """{"type":"typing","payload":{"sessionId":"s","isTyping":true}}"""u8.ToArray());
        var bytes = Enumerable.Repeat(typing, frames).SelectMany(f => f).Concat(ClientFrame(0x8, [0x03, 0xE8])).ToArray();
        var client = new ReadyClient(bytes);
        using var socket = WebSocket.CreateFromStream(client, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var connection = new Connection(socket, "u", "d", "s", Host.Services.GetRequiredService<EventLog>(),
            Host.Services.GetRequiredService<RealtimeSettings>(), TimeProvider.System);
        var handled = 0;

        // Everything the read loop does runs on this thread (the held work is run here), so this thread's count is the loop's.
        var held = new HeldWork();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(held);
        Task run;
        try { run = connection.Run(_ => { handled++; return Task.CompletedTask; }); }
        finally { SynchronizationContext.SetSynchronizationContext(previous); }
        held.RunUntil(run, TimeSpan.FromSeconds(30));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(run.IsCompletedSuccessfully, "the read loop did not finish");
        // The burst is handled, the rest dropped until the socket closes 4008, then a few more skipped.
        Assert.InRange(handled, new RealtimeSettings().FrameBurst, frames / 100);
        Assert.Equal(CloseCodes.SlowConsumer, (WebSocketCloseStatus?)connection.CloseRequested?.Status);
        Assert.True(allocated < frames * 100L, $"{allocated / frames} bytes allocated per frame read");
    }
}
