using System.Text;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Sinks.File;

namespace NanoBanana.Infrastructure.Observability;

/// <summary>
/// Log lines to a redirected standard output (a container's log pipe, a file), buffered and handed to the
/// OS once per batch of the <see cref="BackgroundLogWriter"/> rather than with one write call per line.
/// Not for a terminal: there the console sink's colours are worth more than the write calls.
/// </summary>
public sealed class ConsoleLines(ITextFormatter formatter) : ILogEventSink, IDisposable
{
    readonly StreamWriter _out = new(Console.OpenStandardOutput(), new UTF8Encoding(false), 64 * 1024) { AutoFlush = false };

    public void Emit(LogEvent logEvent) => formatter.Format(logEvent, _out);

    public void Flush() => _out.Flush();

    public void Dispose() => _out.Flush();
}

/// <summary>
/// Serilog's file sink flushes after every line (one write call each); this keeps those lines in memory
/// until <see cref="Flush"/>, called once per batch. Whatever is held is written when the file rolls over
/// or closes. Used from the log writer's single thread only.
/// </summary>
public sealed class DeferredFileFlush : FileLifecycleHooks
{
    HeldStream? _current;

    public override Stream OnFileOpened(string path, Stream underlyingStream, Encoding encoding) =>
        _current = new HeldStream(underlyingStream);

    public void Flush() => _current?.FlushHeld();

    sealed class HeldStream(Stream inner) : Stream
    {
        const int MaxHeld = 256 * 1024;
        readonly MemoryStream _held = new();

        public void FlushHeld()
        {
            if (_held.Length == 0) return;
            inner.Write(_held.GetBuffer(), 0, (int)_held.Length);
            inner.Flush();
            _held.SetLength(0);
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _held.Write(buffer);
            if (_held.Length >= MaxHeld) FlushHeld();
        }

        public override void Flush() { } // per line: held until the batch ends

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                FlushHeld();
                inner.Dispose();
            }
            base.Dispose(disposing);
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length + _held.Length;
        public override long Position { get => Length; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
