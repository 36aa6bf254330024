using System.Threading.Channels;
using Serilog.Core;
using Serilog.Debugging;
using Serilog.Events;
using Serilog.Parsing;

namespace NanoBanana.Infrastructure.Observability;

/// <summary>
/// Hands log events to sinks written by one background task. A request thread only queues its line:
/// the console's process-wide lock and the files' write calls stay off the request path, where 32
/// requests in flight queued behind each other's console flush (profiled under load: the request log
/// was a quarter of the app's CPU). <see cref="FlushAsync"/> waits until every line queued before the
/// call is written, for a reader that needs to see them (the log tests).
/// </summary>
public sealed class BackgroundLogWriter : ILogEventSink, IDisposable
{
    // Bounded so that a log storm costs dropped lines (counted, then reported in the log), not memory.
    const int Capacity = 100_000;

    readonly Channel<LogEvent> _queue = Channel.CreateBounded<LogEvent>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    readonly Logger _sinks;
    readonly Action[] _afterBatch;
    readonly Task _writer;
    readonly object _flushGate = new();
    readonly List<(long Upto, TaskCompletionSource Done)> _flushes = [];
    long _queued, _written, _dropped;

    /// <param name="sinks">Where lines go.</param>
    /// <param name="afterBatch">Called once the queue is drained: buffered outputs hand their lines to the OS.</param>
    public BackgroundLogWriter(Logger sinks, params Action[] afterBatch)
    {
        _sinks = sinks;
        _afterBatch = afterBatch;
        _writer = Task.Run(WriteAll);
    }

    public void Emit(LogEvent logEvent)
    {
        if (_queue.Writer.TryWrite(logEvent)) Interlocked.Increment(ref _queued);
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
            while (reader.TryRead(out var e))
            {
                Write(e);
                Interlocked.Increment(ref _written);
            }
            if (Interlocked.Exchange(ref _dropped, 0) is var dropped and > 0) Write(DroppedNotice(dropped));
            foreach (var flush in _afterBatch)
            {
                try { flush(); }
                catch (Exception ex) { SelfLog.WriteLine("Log lines not flushed: {0}", ex); }
            }
            ReleaseFlushes(all: false);
        }
        ReleaseFlushes(all: true);
    }

    void Write(LogEvent e)
    {
        try
        {
            _sinks.Write(e);
        }
        catch (Exception ex)
        {
            // A sink that throws (disk full) must not end the writer: the next line may succeed.
            SelfLog.WriteLine("Log line not written: {0}", ex);
        }
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

    static LogEvent DroppedNotice(long dropped) => new(DateTimeOffset.UtcNow, LogEventLevel.Warning, null,
        new MessageTemplateParser().Parse("{Dropped} log events were dropped: the log writer fell behind"),
        [new LogEventProperty("Dropped", new ScalarValue(dropped)), new LogEventProperty("SourceContext", new ScalarValue(typeof(BackgroundLogWriter).FullName))]);

    /// <summary>Writes what is queued (for up to 10 s), then closes the sinks.</summary>
    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _writer.Wait(TimeSpan.FromSeconds(10));
        _sinks.Dispose();
    }
}
