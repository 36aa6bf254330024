using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using NanoBanana.Infrastructure.Http;
using Serilog.Events;

namespace NanoBanana.Infrastructure.Observability;

/// <summary>
/// One line per request: method, path (never the query string, which may carry a WebSocket token), status
/// and time. Headers and bodies are never logged. A line at Error (a 5xx, an exception) goes through Serilog
/// like any error, to error.log at once; every other line is queued as plain values to the
/// <see cref="BackgroundLogWriter"/>, which renders it once, straight to UTF-8, for both outputs.
/// </summary>
/// <remarks>
/// A WebSocket's request lasts as long as its socket: its line is written when the answer (101, or a
/// refusal) starts, without awaiting the request, which would hold the request's state for the socket's lifetime.
/// </remarks>
public sealed class RequestLog(Serilog.ILogger logger, BackgroundLogWriter writer)
{
    /// <summary>The source the line has always named (log readers filter on it).</summary>
    public const string Source = "Serilog.AspNetCore.RequestLoggingMiddleware";

    const string Template = "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0} ms";

    // Carries the level overrides configured for the source (Serilog:MinimumLevel:Override).
    readonly Serilog.ILogger _source = logger.ForContext(Serilog.Core.Constants.SourceContextPropertyName, Source);

    public Task Invoke(HttpContext http, RequestDelegate next)
    {
        if (HttpPipeline.IsUpgrade(http))
        {
            var started = Stopwatch.GetTimestamp();
            http.Response.OnStarting(() =>
            {
                Write(http, http.Response.StatusCode, started, null);
                return Task.CompletedTask;
            });
            return next(http);
        }
        return Timed(http, next);
    }

    async Task Timed(HttpContext http, RequestDelegate next)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(http);
        }
        catch (Exception ex)
        {
            Write(http, 500, started, ex);
            throw;
        }
        Write(http, http.Response.StatusCode, started, null);
    }

    void Write(HttpContext http, int status, long started, Exception? ex)
    {
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var level = Level(http, status, ex);
        if (!_source.IsEnabled(level)) return;
        var path = http.Request.Path.Value ?? "";
        if (level >= LogEventLevel.Error)
        {
            _source.Write(level, ex, Template, http.Request.Method, path, status, elapsed);
            return;
        }
        writer.Emit(new RequestLine(DateTime.UtcNow, level, http.Request.Method, path, status, elapsed, http.TraceIdentifier, http.Connection.Id));
    }

    static LogEventLevel Level(HttpContext http, int status, Exception? ex) =>
        http.Items.ContainsKey(ApiProblem.LoadShedItem) ? LogEventLevel.Warning
        : ex is not null || status >= 500 ? LogEventLevel.Error
        : http.Request.Path.StartsWithSegments("/health") || http.Items.ContainsKey(RefusalLog.Item) ? LogEventLevel.Debug
        : LogEventLevel.Information;
}

/// <summary>A request's line as values: rendered by the log writer's thread, not the request's.</summary>
public readonly record struct RequestLine(
    DateTime AtUtc, LogEventLevel Level, string Method, string Path, int Status, double ElapsedMs, string? RequestId, string? ConnectionId)
{
    /// <summary>
    /// The text between the time and level and the end of the line, the same in both outputs:
    /// <c>{Source}: HTTP {Method} {Path} responded {Status} in {Elapsed:0.0} ms </c>, control characters escaped.
    /// </summary>
    public void WriteMessage(IBufferWriter<byte> to)
    {
        Utf8.Write(to, RequestLog.Source + ": HTTP ");
        Utf8.WriteEscaped(to, Method);
        Utf8.Write(to, " ");
        Utf8.WriteEscaped(to, Path);
        Utf8.Write(to, " responded ");
        Utf8.Write(to, Status, default);
        Utf8.Write(to, " in ");
        Utf8.Write(to, ElapsedMs, "0.0");
        Utf8.Write(to, " ms ");
    }

    /// <summary>The properties the request's log scope adds, as Serilog's <c>{Properties:j}</c> writes them.</summary>
    public void WriteProperties(IBufferWriter<byte> to)
    {
        Utf8.Write(to, "{\"RequestId\":");
        Utf8.WriteJsonString(to, RequestId);
        Utf8.Write(to, ",\"ConnectionId\":");
        Utf8.WriteJsonString(to, ConnectionId);
        Utf8.Write(to, "}");
    }
}

/// <summary>Writing log text as UTF-8 without building strings first.</summary>
static class Utf8
{
    // Printable ASCII that a JSON string holds as it is (a request id, a connection id).
    static readonly SearchValues<char> JsonPlain = SearchValues.Create(
        Enumerable.Range(0x20, 0x7f - 0x20).Select(c => (char)c).Where(c => c is not ('"' or '\\')).ToArray());

    public static void Write(IBufferWriter<byte> to, string text)
    {
        var span = to.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        to.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    public static void Write<T>(IBufferWriter<byte> to, T value, string? format) where T : IUtf8SpanFormattable
    {
        var span = to.GetSpan(64);
        if (!value.TryFormat(span, out var n, format, CultureInfo.InvariantCulture))
        {
            Write(to, value.ToString() ?? "");
            return;
        }
        to.Advance(n);
    }

    /// <summary>A value with its control characters escaped (<see cref="LogEscaping"/>): no value can start a line.</summary>
    public static void WriteEscaped(IBufferWriter<byte> to, string value)
    {
        Write(to, LogEscaping.NeedsEscape(value) ? LogEscaping.EscapeString(value) : value);
    }

    /// <summary>A JSON string as Serilog's JSON formatter quotes it, then escaped like any logged text.</summary>
    public static void WriteJsonString(IBufferWriter<byte> to, string? value)
    {
        if (value is null)
        {
            Write(to, "null");
            return;
        }
        if (!value.AsSpan().ContainsAnyExcept(JsonPlain))
        {
            Write(to, "\"");
            Write(to, value);
            Write(to, "\"");
            return;
        }
        var quoted = new StringWriter();
        Serilog.Formatting.Json.JsonValueFormatter.WriteQuotedJsonString(value, quoted);
        WriteEscaped(to, quoted.ToString());
    }
}
