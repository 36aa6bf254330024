using System.Text;
using NanoBanana.Infrastructure.Observability;
using Serilog.Events;
using Serilog.Parsing;

namespace NanoBanana.Tests.Infrastructure.Observability;

/// <summary>
/// The background log writer's outputs: combined.log (rolled by size under Serilog's names) and the console,
/// each line rendered once per output, control characters escaped.
/// </summary>
public sealed class LogWriterTests : IDisposable
{
    const string FileTemplate = "{Timestamp:o} [{Level:u3}] {SourceContext}: {Message:lj} {Properties:j} {Exception}";
    const string ConsoleTemplate = "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj} {Exception}";

    readonly string _dir = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "logs");

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_request_line_reads_as_Serilog_rendered_it_in_the_file_and_on_the_console()
    {
        var console = new MemoryStream();
        using (var writer = Writer(console))
        {
            var at = new DateTime(2026, 12, 6, 9, 36, 56, DateTimeKind.Utc).AddTicks(8486874);
            writer.Emit(new RequestLine(at, LogEventLevel.Warning, "POST", "/api/auth/login", 503, 12.345, "0HNQ:00000328", "0HNQ"));
            // The same request as Serilog's request logging wrote it, through the same formatters.
            writer.Emit(Event(at, LogEventLevel.Warning, RequestLog.Source, "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0} ms",
                ("RequestMethod", "POST"), ("RequestPath", "/api/auth/login"), ("StatusCode", 503), ("Elapsed", 12.345),
                ("RequestId", "0HNQ:00000328"), ("ConnectionId", "0HNQ")));
            await writer.FlushAsync();
        }
        var local = new DateTimeOffset(new DateTime(2026, 12, 6, 9, 36, 56, DateTimeKind.Utc).AddTicks(8486874)).ToLocalTime();
        var fileLine = $"{local:o} [WRN] Serilog.AspNetCore.RequestLoggingMiddleware: HTTP POST /api/auth/login responded 503 in 12.3 ms {{\"RequestId\":\"0HNQ:00000328\",\"ConnectionId\":\"0HNQ\"}} \n";
        Assert.Equal(fileLine + fileLine, File.ReadAllText(Path.Combine(_dir, "combined.log")));
        var consoleLine = $"[{local:HH:mm:ss} WRN] Serilog.AspNetCore.RequestLoggingMiddleware: HTTP POST /api/auth/login responded 503 in 12.3 ms \n";
        Assert.Equal(consoleLine + consoleLine, Encoding.UTF8.GetString(console.ToArray()));
    }

    [Fact]
    public async Task Control_characters_in_a_request_line_are_escaped_and_non_ascii_text_is_kept()
    {
        var console = new MemoryStream();
        using (var writer = Writer(console))
        {
            writer.Emit(new RequestLine(DateTime.UtcNow, LogEventLevel.Information, "GET", "/api/会话\r\n2099-01-01 [WRN] Forged\u001b[2J\u2028",
                404, 0.05, "id\"\n", null));
            await writer.FlushAsync();
        }
        var file = File.ReadAllText(Path.Combine(_dir, "combined.log"));
        Assert.Contains(@"HTTP GET /api/会话\r\n2099-01-01 [WRN] Forged\u001b[2J\u2028 responded 404 in 0.1 ms {""RequestId"":""id\""\n"",""ConnectionId"":null} ", file);
        Assert.Single(file.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Single(Encoding.UTF8.GetString(console.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void The_file_rolls_over_by_size_under_Serilog_names_keeps_the_newest_and_a_start_appends_to_the_newest()
    {
        var line = Encoding.UTF8.GetBytes(new string('x', 99) + "\n");
        using (var file = new LogFile(Path.Combine(_dir, "combined.log"), sizeLimit: 250, retained: 3))
        {
            // 250 bytes a file: three lines each (the third starts below the limit).
            for (var i = 0; i < 15; i++) file.Append(line);
            file.Flush();
        }
        Assert.Equal(["combined_002.log", "combined_003.log", "combined_004.log"], Names());
        Assert.Equal(300, new FileInfo(Path.Combine(_dir, "combined_003.log")).Length);
        Assert.Equal(300, new FileInfo(Path.Combine(_dir, "combined_004.log")).Length);

        using (var file = new LogFile(Path.Combine(_dir, "combined.log"), sizeLimit: 450, retained: 3))
        {
            file.Append(line);
            file.Flush();
        }
        Assert.Equal(400, new FileInfo(Path.Combine(_dir, "combined_004.log")).Length);
        Assert.Equal(["combined_002.log", "combined_003.log", "combined_004.log"], Names());
    }

    string[] Names() => Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    BackgroundLogWriter Writer(Stream console) => new(new LogFile(Path.Combine(_dir, "combined.log")), console,
        new LogEscaping(FileTemplate), new LogEscaping(ConsoleTemplate));

    static LogEvent Event(DateTime atUtc, LogEventLevel level, string source, string template, params (string Name, object Value)[] properties) =>
        new(new DateTimeOffset(atUtc).ToLocalTime(), level, null, new MessageTemplateParser().Parse(template),
            properties.Select(p => new LogEventProperty(p.Name, new ScalarValue(p.Value)))
                .Append(new LogEventProperty("SourceContext", new ScalarValue(source))));
}
