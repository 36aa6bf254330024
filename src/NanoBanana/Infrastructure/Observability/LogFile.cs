namespace NanoBanana.Infrastructure.Observability;

/// <summary>
/// A log file that rolls over by size, named as Serilog's file sink names them (<c>combined.log</c>, then
/// <c>combined_001.log</c>, <c>combined_002.log</c>...), keeping the newest <paramref name="retained"/>. A start
/// appends to the newest. Lines are buffered until <see cref="Flush"/> (once per batch of the log writer),
/// not written one call each. Used from the log writer's single thread only.
/// </summary>
public sealed class LogFile(string path, long sizeLimit = 50 * 1024 * 1024, int retained = 5) : IDisposable
{
    readonly string _directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
    readonly string _name = Path.GetFileNameWithoutExtension(path), _extension = Path.GetExtension(path);
    FileStream? _stream;
    int _sequence = -1;

    public void Append(ReadOnlySpan<byte> line)
    {
        if (_stream is null) Open();
        else if (_stream.Position >= sizeLimit) Roll();
        _stream!.Write(line);
    }

    public void Flush() => _stream?.Flush();

    void Open()
    {
        Directory.CreateDirectory(_directory);
        _sequence = Existing().Select(f => f.Sequence).DefaultIfEmpty(0).Max();
        _stream = new FileStream(PathOf(_sequence), FileMode.Append, FileAccess.Write, FileShare.Read, 64 * 1024);
        if (_stream.Position >= sizeLimit) Roll();
    }

    void Roll()
    {
        _stream!.Dispose();
        _sequence++;
        _stream = new FileStream(PathOf(_sequence), FileMode.Append, FileAccess.Write, FileShare.Read, 64 * 1024);
        foreach (var old in Existing().OrderByDescending(f => f.Sequence).Skip(retained))
        {
            try { File.Delete(old.Path); }
            catch (IOException) { } // taken again at the next roll
        }
    }

    string PathOf(int sequence) =>
        Path.Combine(_directory, sequence == 0 ? _name + _extension : $"{_name}_{sequence:000}{_extension}");

    IEnumerable<(string Path, int Sequence)> Existing()
    {
        foreach (var file in Directory.EnumerateFiles(_directory, _name + "*" + _extension))
        {
            var name = Path.GetFileName(file);
            if (name == _name + _extension) yield return (file, 0);
            else if (name.StartsWith(_name + "_", StringComparison.Ordinal) && name.EndsWith(_extension, StringComparison.Ordinal)
                     && int.TryParse(name.AsSpan(_name.Length + 1, name.Length - _name.Length - 1 - _extension.Length),
                         System.Globalization.NumberStyles.None, null, out var sequence))
                yield return (file, sequence);
        }
    }

    public void Dispose() => _stream?.Dispose();
}
