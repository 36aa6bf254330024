using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace LeakDrill;

/// <summary>How a misbehaving client goes away.</summary>
public enum Drop
{
    /// <summary>Closes its TCP connection normally (FIN), without finishing the request or a close frame.</summary>
    Fin,
    /// <summary>Resets its TCP connection (RST): a killed app, a phone switching networks.</summary>
    Rst,
    /// <summary>Keeps the connection open and sends nothing more (a phone that lost its network): the server must drop it.</summary>
    Vanish,
}

/// <summary>Raw TCP clients that behave badly: half uploads and WebSockets that never say goodbye.</summary>
public sealed class Clients(Uri app, string token, string sessionId)
{
    /// <summary>How long a vanished client waits for the server to drop it before calling it a leak.</summary>
    public TimeSpan VanishDeadline { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Starts a multipart upload of <paramref name="files"/> files of <paramref name="fileBytes"/> each,
    /// sends half of the body (the declared Content-Length is the whole), then goes away as told.
    /// Returns how long the server took to close a vanished client (zero for the others), or null if it never did.
    /// </summary>
    public async Task<TimeSpan?> HalfUpload(Drop how, int files, int fileBytes)
    {
        const string boundary = "----leak-drill-boundary";
        var body = new MemoryStream();
        void Text(string s) => body.Write(Encoding.ASCII.GetBytes(s));
        Text($"--{boundary}\r\nContent-Disposition: form-data; name=\"sessionId\"\r\n\r\n{sessionId}\r\n");
        Text($"--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nuploaded\r\n");
        var content = new byte[fileBytes];
        Random.Shared.NextBytes(content);
        new byte[] { 0xFF, 0xD8, 0xFF, 0xE0 }.CopyTo(content, 0); // starts like a JPEG
        var field = files == 1 ? "image" : "images";
        for (var i = 0; i < files; i++)
        {
            Text($"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"photo{i}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n");
            body.Write(content);
            Text("\r\n");
        }
        Text($"--{boundary}--\r\n");
        var bytes = body.ToArray();
        var path = files == 1 ? "/api/images/upload" : "/api/images/upload/batch";
        var head = $"POST {path} HTTP/1.1\r\nHost: {app.Authority}\r\nAuthorization: Bearer {token}\r\n" +
                   $"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {bytes.Length}\r\n\r\n";

        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(app.Host, app.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
        await stream.FlushAsync();
        return await GoAway(client, how);
    }

    /// <summary>Opens the hub (real upgrade, reads the connected frame), then goes away without a close frame.</summary>
    public async Task<TimeSpan?> VanishingSocket(Drop how)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(app.Host, app.Port);
        var stream = client.GetStream();
        var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /ws/{sessionId}?token={Uri.EscapeDataString(token)} HTTP/1.1\r\nHost: {app.Authority}\r\n" +
            $"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        // Read until the connected frame has arrived: the socket is registered in the hub by then.
        var seen = new StringBuilder();
        var buffer = new byte[4096];
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (!seen.ToString().Contains("\"connected\"", StringComparison.Ordinal))
            {
                var n = await stream.ReadAsync(buffer, cts.Token);
                if (n == 0) throw new IOException("the hub closed the socket before the connected frame: " + seen);
                seen.Append(Encoding.Latin1.GetString(buffer, 0, n));
            }
        }
        if (!seen.ToString().StartsWith("HTTP/1.1 101", StringComparison.Ordinal)) throw new IOException("no upgrade: " + seen);
        return await GoAway(client, how);
    }

    async Task<TimeSpan?> GoAway(TcpClient client, Drop how)
    {
        switch (how)
        {
            case Drop.Fin:
                client.Close();
                return TimeSpan.Zero;
            case Drop.Rst:
                client.Client.Linger(true, 0);
                client.Close();
                return TimeSpan.Zero;
            default:
            {
                // Silent from now on: answers nothing (no pong, no more body) until the server hangs up. It reads
                // only to notice that: whatever arrives (pings, an error answer) is ignored.
                var started = Stopwatch.StartNew();
                var stream = client.GetStream();
                var buffer = new byte[64 * 1024];
                using var cts = new CancellationTokenSource(VanishDeadline);
                try
                {
                    while (await stream.ReadAsync(buffer, cts.Token) > 0) { }
                    return started.Elapsed;
                }
                catch (IOException)
                {
                    return started.Elapsed; // reset by the server: dropped too
                }
                catch (OperationCanceledException)
                {
                    return null; // the server still holds it
                }
                finally
                {
                    client.Close();
                }
            }
        }
    }
}

static class SocketExtensions
{
    public static void Linger(this Socket s, bool on, int seconds) => s.LingerState = new LingerOption(on, seconds);
}
