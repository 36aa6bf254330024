using System.Buffers;
using System.Text;
using System.Threading.Channels;
using Serilog.Core;
using Serilog.Debugging;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Parsing;

namespace NanoBanana.Infrastructure.Observability;

/// <summary>
/// Writes the console and combined.log from one background task. A request thread only queues its line:
/// the console and the file's write calls stay off the request path, where 32 requests in flight queued
/// behind each other's console flush (profiled under load: the request log was a quarter of the app's
/// CPU). Both outputs are buffered and handed to the OS once the queue is drained, at most every 5 ms. <see cref="FlushAsync"/>
/// waits until every line queued before the call is written, for a reader that needs to see them (the log tests).
/// </summary>
public sealed class BackgroundLogWriter : ILogEventSink, IDisposable
{
    // Bounded so that a log storm costs dropped lines (counted, then reported in the log), not memory.
    const int Capacity = 100_000;
    static readonly TimeSpan BatchInterval = TimeSpan.FromMilliseconds(5);

    readonly Channel<Entry> _queue = Channel.CreateBounded<Entry>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    readonly LogFile _file;
    readonly Stream _console;
    readonly ITextFormatter _fileFormat, _consoleFormat;
    readonly Task _writer;
    readonly object _flushGate = new();
    readonly List<(long Upto, TaskCompletionSource Done)> _flushes = [];
    long _queued, _written, _dropped;

    // Used by the writer's task only: an event's text, and the line as each output gets it.
    readonly StringWriter _text = new();
    readonly ArrayBufferWriter<byte> _message = new(1024), _fileLine = new(1024), _consoleLine = new(1024);

    /// <param name="file">combined.log.</param>
    /// <param name="console">Standard output (buffered here, flushed per batch).</param>
    /// <param name="fileFormat">An event's line in the file, <paramref name="consoleFormat"/> on the console.</param>
    public BackgroundLogWriter(LogFile file, Stream console, ITextFormatter fileFormat, ITextFormatter consoleFormat)
    {
        _file = file;
        _console = new BufferedStream(console, 64 * 1024);
        _fileFormat = fileFormat;
        _consoleFormat = consoleFormat;
        _writer = Task.Run(WriteAll);
    }

    /// <summary>Queues an event from Serilog's pipeline.</summary>
    public void Emit(LogEvent logEvent) => Queue(new Entry(logEvent, default));

    /// <summary>Queues a request's line.</summary>
    public void Emit(in RequestLine line) => Queue(new Entry(null, line));

    void Queue(in Entry entry)
    {
        if (_queue.Writer.TryWrite(entry)) Interlocked.Increment(ref _queued);
        else Interlocked.Increment(ref _dropped);
    }

    /// <summary>Completes once every event queued before this call is written (to the OS, not fsynced).</summary>
    public Task FlushAsync()
    {
        lock (_flushGate)
        {
            var upto = Interlocked.Read(ref _queued);
            if (Interlocked.Read(ref _written) >= upto || _writer.IsCompleted) return Task.CompletedTask;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _flushes.Add((upto, done));
            return done.Task;
        }
    }

    async Task WriteAll()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var entry))
            {
                Write(entry);
                Interlocked.Increment(ref _written);
            }
            if (Interlocked.Exchange(ref _dropped, 0) is var dropped and > 0) Write(new Entry(DroppedNotice(dropped), default));
            Flush();
            ReleaseFlushes(all: false);
            // Under load, lines gather for a moment: one write call per output for many requests, and no
            // wake-up of this task per line. Idle, the wait above sleeps until the next line.
            await Task.Delay(BatchInterval).ConfigureAwait(false);
        }
        ReleaseFlushes(all: true);
    }

    void Write(in Entry entry)
    {
        try
        {
            _fileLine.ResetWrittenCount();
            _consoleLine.ResetWrittenCount();
            if (entry.Event is { } e)
            {
                Render(e, _fileFormat, _fileLine);
                Render(e, _consoleFormat, _consoleLine);
            }
            else
            {
                Render(entry.Request);
            }
            _file.Append(_fileLine.WrittenSpan);
            _console.Write(_consoleLine.WrittenSpan);
        }
        catch (Exception ex)
        {
            // An output that throws (disk full) must not end the writer: the next line may succeed.
            SelfLog.WriteLine("Log line not written: {0}", ex);
        }
    }

    void Render(LogEvent e, ITextFormatter format, ArrayBufferWriter<byte> to)
    {
        _text.GetStringBuilder().Clear();
        format.Format(e, _text);
        Utf8.Write(to, _text.ToString());
    }

    /// <summary>
    /// The line the request log's template gave, rendered once: <c>{Timestamp:o} [INF] {message} {properties} </c>
    /// in the file, <c>[{Timestamp:HH:mm:ss} INF] {message} </c> on the console.
    /// </summary>
    void Render(in RequestLine line)
    {
        _message.ResetWrittenCount();
        line.WriteMessage(_message);
        var at = new DateTimeOffset(line.AtUtc).ToLocalTime();
        var level = LevelNames[(int)line.Level];

        Utf8.Write(_fileLine, at, "o");
        Utf8.Write(_fileLine, " [");
        Utf8.Write(_fileLine, level);
        Utf8.Write(_fileLine, "] ");
        _fileLine.Write(_message.WrittenSpan);
        line.WriteProperties(_fileLine);
        Utf8.Write(_fileLine, " \n");

        Utf8.Write(_consoleLine, "[");
        Utf8.Write(_consoleLine, at, "HH:mm:ss");
        Utf8.Write(_consoleLine, " ");
        Utf8.Write(_consoleLine, level);
        Utf8.Write(_consoleLine, "] ");
        _consoleLine.Write(_message.WrittenSpan);
        Utf8.Write(_consoleLine, "\n");
    }

    static readonly string[] LevelNames = ["VRB", "DBG", "INF", "WRN", "ERR", "FTL"];

    void Flush()
    {
        try { _file.Flush(); }
        catch (Exception ex) { SelfLog.WriteLine("Log lines not flushed: {0}", ex); }
        try { _console.Flush(); }
        catch (Exception ex) { SelfLog.WriteLine("Log lines not flushed: {0}", ex); }
    }

    void ReleaseFlushes(bool all)
    {
        lock (_flushGate)
        {
            var written = Interlocked.Read(ref _written);
            for (var i = _flushes.Count - 1; i >= 0; i--)
            {
                if (!all && _flushes[i].Upto > written) continue;
                _flushes[i].Done.TrySetResult();
                _flushes.RemoveAt(i);
            }
        }
    }

    static LogEvent DroppedNotice(long dropped) => new(DateTimeOffset.Now, LogEventLevel.Warning, null,
        new MessageTemplateParser().Parse("{Dropped} log events were dropped: the log writer fell behind"),
        [new LogEventProperty("Dropped", new ScalarValue(dropped)), new LogEventProperty("SourceContext", new ScalarValue(typeof(BackgroundLogWriter).FullName))]);

    /// <summary>Writes what is queued (for up to 10 s), then closes the outputs.</summary>
    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _writer.Wait(TimeSpan.FromSeconds(10)); // it flushes each batch it writes
        _file.Dispose();
    }

    /// <summary>A queued line: an event from Serilog's pipeline, or a request's line as values.</summary>
    readonly record struct Entry(LogEvent? Event, RequestLine Request);
}
