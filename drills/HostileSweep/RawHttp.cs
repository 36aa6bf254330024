using System.Net.Sockets;
using System.Text;

namespace HostileSweep;

/// <summary>
/// HTTP/1.1 over a bare TCP socket, for requests no HTTP client library will send: raw non-UTF-8
/// bytes in the path, conflicting length headers, oversized request lines and headers.
/// Only against a real listener (the drill), not the in-memory test server.
/// </summary>
public sealed class RawHttp(string host, int port)
{
    /// <param name="FromApp">The answer carries the app's security headers (X-Frame-Options): app code ran. Without them Kestrel answered by itself.</param>
    public sealed record Answer(int Status, string? MediaType, byte[] Body, bool FromApp);

    /// <summary>Sends <paramref name="request"/> as is and reads one response (null when the server closed without answering).</summary>
    public async Task<Answer?> Send(byte[] request, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        using var client = new TcpClient();
        await client.ConnectAsync(host, port, cts.Token);
        var stream = client.GetStream();
        try
        {
            await stream.WriteAsync(request, cts.Token);
        }
        catch (IOException)
        {
            // The server may answer and close before reading everything; read what it said.
        }
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await stream.ReadAsync(buffer, cts.Token);
                if (n == 0) break;
                received.Write(buffer, 0, n);
                if (Parse(received.ToArray()) is { } complete) return complete;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
        {
        }
        return Parse(received.ToArray(), final: true);
    }

    /// <summary>One response out of the bytes read so far: null until it is complete.</summary>
    static Answer? Parse(byte[] data, bool final = false)
    {
        var text = Encoding.Latin1.GetString(data);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0) return null;
        var lines = text[..end].Split("\r\n");
        var statusParts = lines[0].Split(' ');
        if (statusParts.Length < 2 || !int.TryParse(statusParts[1], out var status)) return null;
        string? mediaType = null;
        long? length = null;
        var chunked = false;
        var fromApp = false;
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon < 0) continue;
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("X-Frame-Options", StringComparison.OrdinalIgnoreCase)) fromApp = true;
            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)) mediaType = value.Split(';')[0].Trim();
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && long.TryParse(value, out var l)) length = l;
            if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && value.Contains("chunked", StringComparison.OrdinalIgnoreCase)) chunked = true;
        }
        var bodyStart = end + 4;
        var rest = data.AsSpan(bodyStart);
        if (length is { } len)
            return rest.Length >= len ? new Answer(status, mediaType, rest[..(int)len].ToArray(), fromApp) : final ? new Answer(status, mediaType, rest.ToArray(), fromApp) : null;
        if (chunked)
        {
            var body = new MemoryStream();
            var at = 0;
            while (true)
            {
                var lineEnd = rest[at..].IndexOf("\r\n"u8);
                if (lineEnd < 0) return final ? new Answer(status, mediaType, body.ToArray(), fromApp) : null;
                var size = Convert.ToInt32(Encoding.ASCII.GetString(rest.Slice(at, lineEnd)).Split(';')[0].Trim(), 16);
                at += lineEnd + 2;
                if (size == 0) return new Answer(status, mediaType, body.ToArray(), fromApp);
                if (rest.Length < at + size + 2) return final ? new Answer(status, mediaType, body.ToArray(), fromApp) : null;
                body.Write(rest.Slice(at, size));
                at += size + 2;
            }
        }
        // No length: the body runs to the end of the connection (or there is none: 1xx, 204, 304, HEAD).
        return final || status is 204 or 304 ? new Answer(status, mediaType, rest.ToArray(), fromApp) : null;
    }
}
