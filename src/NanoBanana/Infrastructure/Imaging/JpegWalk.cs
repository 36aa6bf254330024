using System.Buffers;

namespace NanoBanana.Infrastructure.Imaging;

/// <summary>
/// A JPEG's markers walked as its bytes arrive, in pieces of any size, to tell whether its scans run to the end-of-image
/// marker: segments are skipped by their lengths, entropy-coded data is scanned for its next marker (a 0xFF in the data is
/// always stuffed with 0x00, restart markers sit inside it), and EOI must come after at least one scan. A file cut anywhere
/// before EOI fails, as libjpeg's "premature end" does, at the cost of a memory scan instead of a decode.
/// </summary>
public sealed class JpegWalk
{
    enum Step { Soi1, Soi2, Marker, MarkerCode, Length1, Length2, Segment, Entropy, EntropyFF, Ended, Failed }

    Step _step = Step.Soi1;
    byte _marker;
    int _remaining;
    bool _scanned;

    /// <summary>EOI came after at least one scan (bytes after it are allowed: cameras write trailers).</summary>
    public bool ReachedEnd => _step == Step.Ended;

    /// <summary>Whether the JPEG in <paramref name="jpeg"/> reaches its end.</summary>
    public static bool ReachesEnd(ReadOnlySpan<byte> jpeg)
    {
        var walk = new JpegWalk();
        walk.Append(jpeg);
        return walk.ReachedEnd;
    }

    /// <summary>Whether the JPEG file of <paramref name="length"/> bytes reaches its end, read in 64 KiB pieces.</summary>
    public static bool ReachesEnd(string path, long length)
    {
        var walk = new JpegWalk();
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            using var file = File.OpenHandle(path);
            for (long offset = 0; offset < length && !walk.ReachedEnd;)
            {
                var read = RandomAccess.Read(file, buffer, offset);
                if (read == 0) break;
                walk.Append(buffer.AsSpan(0, read));
                offset += read;
            }
            return walk.ReachedEnd;
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        var i = 0;
        while (i < bytes.Length && _step is not (Step.Ended or Step.Failed))
        {
            switch (_step)
            {
                case Step.Segment:
                    var skipped = Math.Min(_remaining, bytes.Length - i);
                    i += skipped;
                    _remaining -= skipped;
                    if (_remaining == 0) _step = _marker == 0xDA ? Step.Entropy : Step.Marker;
                    continue;
                case Step.Entropy:
                    var ff = bytes[i..].IndexOf((byte)0xFF);
                    if (ff < 0) return;
                    i += ff + 1;
                    _step = Step.EntropyFF;
                    continue;
            }
            var b = bytes[i++];
            _step = _step switch
            {
                Step.Soi1 => b == 0xFF ? Step.Soi2 : Step.Failed,
                Step.Soi2 => b == 0xD8 ? Step.Marker : Step.Failed,
                Step.Marker => b == 0xFF ? Step.MarkerCode : Step.Failed,
                Step.MarkerCode => b == 0xFF ? Step.MarkerCode : MarkerFound(b), // 0xFF: fill bytes before the code
                Step.Length1 => HighByte(b),
                Step.Length2 => SegmentOf(_remaining | b),
                // After a 0xFF in the data: stuffing (00) and restarts (D0-D7) stay in the data; another 0xFF is fill.
                Step.EntropyFF => b is 0x00 or >= 0xD0 and <= 0xD7 ? Step.Entropy : b == 0xFF ? Step.EntropyFF : MarkerFound(b),
                _ => Step.Failed,
            };
        }
    }

    Step MarkerFound(byte marker)
    {
        if (marker == 0xD9) return _scanned ? Step.Ended : Step.Failed; // EOI
        if (marker is 0x01 or >= 0xD0 and <= 0xD7) return Step.Marker; // no length
        if (marker == 0xDA) _scanned = true;
        _marker = marker;
        return Step.Length1;
    }

    Step HighByte(byte b)
    {
        _remaining = b << 8;
        return Step.Length2;
    }

    Step SegmentOf(int length)
    {
        if (length < 2) return Step.Failed;
        _remaining = length - 2; // the length counts its own two bytes
        return _remaining > 0 ? Step.Segment : _marker == 0xDA ? Step.Entropy : Step.Marker;
    }
}
