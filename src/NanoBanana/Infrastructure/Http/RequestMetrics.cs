namespace NanoBanana.Infrastructure.Http;

/// <summary>This instance's request and error counts, for /health. Per instance by nature: each instance reports its own.</summary>
public sealed class RequestMetrics
{
    long _requests, _serverErrors;
    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;
    public long Requests => Interlocked.Read(ref _requests);
    public long ServerErrors => Interlocked.Read(ref _serverErrors);

    public void Record(int status)
    {
        Interlocked.Increment(ref _requests);
        if (status >= 500) Interlocked.Increment(ref _serverErrors);
    }
}

public static class HttpPipeline
{
    /// <summary>Counts every answer and sets the standard security headers (and <c>Vary: Origin</c>) on it.</summary>
    public static IApplicationBuilder UseRequestBookkeeping(this IApplicationBuilder app)
    {
        var metrics = app.ApplicationServices.GetRequiredService<RequestMetrics>();
        return app.Use((http, next) =>
        {
            http.Response.OnStarting(SetSecurityHeaders, http.Response);
            if (!IsUpgrade(http)) return Counted(http, next, metrics);
            // A WebSocket's request lasts as long as its socket: it is counted when its answer starts, not awaited.
            http.Response.OnStarting(() =>
            {
                metrics.Record(http.Response.StatusCode);
                return Task.CompletedTask;
            });
            return next(http);
        });
    }

    static async Task Counted(HttpContext http, RequestDelegate next, RequestMetrics metrics)
    {
        try
        {
            await next(http);
        }
        finally
        {
            metrics.Record(http.Response.StatusCode);
        }
    }

    /// <summary>
    /// A request asking to switch protocols (a WebSocket): it runs for the socket's lifetime, so middleware
    /// that would await its end (and hold its state for as long) hands it on instead.
    /// </summary>
    public static bool IsUpgrade(HttpContext http) =>
        http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature>()?.IsUpgradableRequest == true;

    static readonly Func<object, Task> SetSecurityHeaders = state =>
    {
        var h = ((HttpResponse)state).Headers;
        h.XContentTypeOptions = "nosniff";
        h.XFrameOptions = "DENY";
        h["Referrer-Policy"] = "no-referrer";
        h["Cross-Origin-Resource-Policy"] = "same-site";
        // CORS headers depend on the Origin on every route, also when a request sent none (an <img>): without
        // this a browser reuses the cached answer without Access-Control-Allow-Origin for a later fetch().
        if (!h.Vary.Any(v => v is not null && v.Split(',').Any(x => x.Trim().Equals("Origin", StringComparison.OrdinalIgnoreCase))))
            h.Append(Microsoft.Net.Http.Headers.HeaderNames.Vary, "Origin");
        return Task.CompletedTask;
    };

    /// <summary>Request header values are UTF-8; bytes that are not become U+FFFD instead of an empty 400 from Kestrel.</summary>
    public static readonly System.Text.Encoding LenientUtf8 = new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <summary>The longest request target the API answers; Kestrel reads lines up to <see cref="MaxRequestLineBytes"/> so the app can say so.</summary>
    public const int MaxRequestTargetBytes = 8 * 1024;
    public const int MaxRequestLineBytes = 64 * 1024;

    /// <summary>A request target over <see cref="MaxRequestTargetBytes"/> answers 414 problem details (Kestrel's own 414 has no body).</summary>
    // Each of these checks hands a request on without awaiting it: a WebSocket's request runs for the
    // socket's lifetime, and an awaiting middleware would hold its state for as long.
    public static IApplicationBuilder UseRequestTargetLimit(this IApplicationBuilder app) =>
        app.Use((http, next) =>
        {
            var target = http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
            return target?.Length > MaxRequestTargetBytes
                ? ProblemHandling.Write(http, StatusCodes.Status414UriTooLong, "uri_too_long",
                    $"The address is longer than the {MaxRequestTargetBytes / 1024} KiB this service accepts: send long values in a JSON body.")
                : next(http);
        });

    /// <summary>
    /// JSON routes accept small bodies only; upload routes set their own, larger limit.
    /// A declared Content-Length over the limit is refused before reading a byte, and so is a
    /// charset this runtime cannot decode (the JSON reader would throw, answering 500).
    /// </summary>
    public static IApplicationBuilder UseJsonBodyLimit(this IApplicationBuilder app, long defaultMaxBytes, Func<PathString, long?>? routeLimit = null)
    {
        return app.Use((http, next) =>
        {
            var isUpload = http.Request.Path.StartsWithSegments("/api/images/upload");
            // A request the server knows has no body (most GETs) has nothing to limit or decode.
            var canHaveBody = http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? true;
            if (!isUpload && canHaveBody)
            {
                var maxBytes = routeLimit?.Invoke(http.Request.Path) ?? defaultMaxBytes;
                if (http.Request.ContentLength > maxBytes)
                    return ProblemHandling.Write(http, 413, "payload_too_large",
                        $"The request body is larger than the {maxBytes / 1024} KiB this route accepts.");
                if (UnknownCharset(http.Request.ContentType) is { } charset)
                    return ProblemHandling.Write(http, 415, "unsupported_media_type",
                        $"The charset '{charset}' is not supported: send JSON as UTF-8.");
                var feature = http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>();
                if (feature is { IsReadOnly: false }) feature.MaxRequestBodySize = maxBytes;
                // Always wrapped: servers without the feature (the test server, some proxies' adapters) still get
                // the limit, and a body the server cannot decode answers 400 on every route (see LimitedReadStream).
                http.Request.Body = new LimitedReadStream(http.Request.Body, maxBytes);
            }
            return next(http);
        });
    }

    static string? UnknownCharset(string? contentType)
    {
        if (!Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media) || !media.Charset.HasValue) return null;
        var charset = Microsoft.Net.Http.Headers.HeaderUtilities.RemoveQuotes(media.Charset).Value ?? "";
        try
        {
            System.Text.Encoding.GetEncoding(charset);
            return null;
        }
        catch (ArgumentException)
        {
            return charset.Length <= 40 ? charset : charset[..40] + "...";
        }
    }
}

/// <summary>
/// A request body that refuses to be read past a limit, as Kestrel's own limit does (413), and that
/// reports a body the server could not decode as the client's malformed request (400). Kestrel reports
/// most framing errors as BadHttpRequestException, but some (a chunk size that overflows) as a plain
/// IOException, which would otherwise answer 500.
/// </summary>
sealed class LimitedReadStream(Stream inner, long maxBytes) : Stream
{
    long _read;

    public override int Read(byte[] buffer, int offset, int count)
    {
        try { return Count(inner.Read(buffer, offset, count)); }
        catch (IOException e) when (e is not BadHttpRequestException) { throw Malformed(e); }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        try { return Count(await inner.ReadAsync(buffer, ct)); }
        catch (IOException e) when (e is not BadHttpRequestException) { throw Malformed(e); }
    }

    static BadHttpRequestException Malformed(IOException e) =>
        new("The request body could not be read.", StatusCodes.Status400BadRequest, e);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    int Count(int n)
    {
        _read += n;
        if (_read > maxBytes) throw new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge);
        return n;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _read; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
