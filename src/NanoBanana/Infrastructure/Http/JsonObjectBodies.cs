namespace NanoBanana.Infrastructure.Http;

/// <summary>
/// Every JSON body of the API is an object (SPEC section 1). A body that is valid JSON of another kind
/// (<c>"x"</c>, <c>1</c>, <c>[]</c>, <c>null</c>) answers 400 <c>body_not_object</c> saying so, on every
/// route, before binding: the deserializer would call it "not valid JSON", and a route whose body is
/// optional would take <c>null</c> for no body at all.
/// </summary>
public static class JsonObjectBodies
{
    public static IApplicationBuilder UseJsonObjectBodies(this IApplicationBuilder app) =>
        // A request without a JSON body is handed on without awaiting it (a WebSocket's runs for the socket's lifetime).
        app.Use((http, next) => IsUtf8JsonWithBody(http) ? CheckBody(http, next) : next(http));

    static async Task CheckBody(HttpContext http, RequestDelegate next)
    {
        if (KindOf(await PeekStart(http.Request)) is { } kind)
        {
            await ProblemHandling.Write(http, 400, "body_not_object",
                $"The request body must be a JSON object ({{ ... }}), not {kind}.");
            return;
        }
        await next(http);
    }

    static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    static bool IsUtf8JsonWithBody(HttpContext http)
    {
        var request = http.Request;
        if (request.ContentLength == 0 || !request.HasJsonContentType()) return false;
        // Another charset is transcoded by the route's reader; its bytes are not looked at here.
        if (Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(request.ContentType, out var media) && media.Charset.HasValue
            && !media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)) return false;
        return http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? true;
    }

    /// <summary>What a JSON value that is not an object is, from its first bytes; null for an object, or for text that is not JSON.</summary>
    static string? KindOf(ReadOnlySpan<byte> start) => start switch
    {
        [(byte)'"', ..] => "a string",
        [(byte)'[', ..] => "an array",
        [(byte)'-' or (>= (byte)'0' and <= (byte)'9'), ..] => "a number",
        _ when Literal(start, "null"u8) => "null",
        _ when Literal(start, "true"u8) || Literal(start, "false"u8) => "a boolean",
        _ => null,
    };

    static bool Literal(ReadOnlySpan<byte> start, ReadOnlySpan<byte> literal) =>
        start.StartsWith(literal) && (start.Length == literal.Length || !char.IsAsciiLetterOrDigit((char)start[literal.Length]));

    /// <summary>
    /// Reads the body's first value bytes (past whitespace and a UTF-8 byte order mark; a few more for a
    /// literal) and puts what it read back in front of the body, so the route reads the whole body as sent.
    /// Empty when the body is only whitespace.
    /// </summary>
    static async Task<byte[]> PeekStart(HttpRequest request)
    {
        var read = new MemoryStream();
        var chunk = new byte[512];
        int? first = null;
        var scanned = 0;
        // A literal (null, true, false) needs its whole word and the byte after it.
        while (first is null || (char.IsAsciiLetter((char)read.GetBuffer()[first.Value]) && read.Length < first.Value + 6))
        {
            var n = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted);
            if (n == 0) break;
            read.Write(chunk, 0, n);
            var bytes = read.GetBuffer().AsSpan(0, (int)read.Length);
            for (; first is null && scanned < bytes.Length; scanned++)
            {
                if (bytes[scanned] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') continue;
                if (scanned < 3 && bytes[scanned] == Utf8Bom[scanned]) continue;
                first = scanned;
            }
        }
        var all = read.ToArray();
        request.Body = new PrefixedStream(all, request.Body);
        return first is { } f ? all[f..] : [];
    }

    /// <summary>The bytes already read, then the rest of the body.</summary>
    sealed class PrefixedStream(byte[] prefix, Stream rest) : Stream
    {
        int _offset;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            if (_offset < prefix.Length) return TakePrefix(buffer.Span);
            return await rest.ReadAsync(buffer, ct);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override int Read(byte[] buffer, int offset, int count) =>
            _offset < prefix.Length ? TakePrefix(buffer.AsSpan(offset, count)) : rest.Read(buffer, offset, count);

        int TakePrefix(Span<byte> buffer)
        {
            var n = Math.Min(buffer.Length, prefix.Length - _offset);
            prefix.AsSpan(_offset, n).CopyTo(buffer);
            _offset += n;
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
