using System.Diagnostics;
using System.Globalization;

namespace Soak;

/// <summary>One reading of the app process: resident set, CPU time used so far and open file descriptors (from /proc).</summary>
sealed record ProcSample(double Seconds, long RssBytes, double CpuSeconds, int OpenFiles);

/// <summary>One reading of the runtime's counters (dotnet-counters): GC heap after the last collection, GC committed memory.</summary>
sealed record GcSample(double Seconds, long HeapBytes, long CommittedBytes, long AllocatedPerInterval);

/// <summary>
/// Reads the app's memory while the soak runs. RSS and CPU come from /proc every few seconds; the
/// GC heap comes from <c>dotnet-counters collect</c> (System.Runtime, CSV), started for the length of
/// the run when the tool is there.
/// </summary>
sealed class Memory(int pid)
{
    static readonly long TicksPerSecond = 100; // USER_HZ on Linux
    public List<ProcSample> Proc { get; } = [];
    public List<GcSample> Gc { get; } = [];
    public string? GcNote { get; private set; }

    Process? _counters;
    string? _csv;
    DateTime _countersStart;

    public void Sample(double seconds)
    {
        if (ReadProc() is { } p) lock (Proc) Proc.Add(p with { Seconds = seconds });
    }

    ProcSample? ReadProc()
    {
        try
        {
            long rss = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            // /proc/pid/stat: fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var cpu = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / (double)TicksPerSecond;
            var files = Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;
            return new ProcSample(0, rss, cpu, files);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    public void StartCounters(string? tool, string csv, TimeSpan duration)
    {
        if (string.IsNullOrEmpty(tool) || !File.Exists(tool))
        {
            GcNote = "not measured (dotnet-counters not installed)";
            return;
        }
        _csv = Path.GetFullPath(csv);
        File.Delete(_csv);
        var d = TimeSpan.FromSeconds(Math.Ceiling(duration.TotalSeconds));
        var start = new ProcessStartInfo(tool)
        {
            ArgumentList =
            {
                "collect", "--process-id", pid.ToString(CultureInfo.InvariantCulture), "--counters", "System.Runtime",
                "--refresh-interval", "5", "--format", "csv", "-o", _csv, "--duration", $"{d.Days:00}:{d.Hours:00}:{d.Minutes:00}:{d.Seconds:00}",
            },
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        _countersStart = DateTime.Now;
        _counters = Process.Start(start);
        _counters!.OutputDataReceived += (_, _) => { };
        _counters.ErrorDataReceived += (_, _) => { };
        _counters.BeginOutputReadLine();
        _counters.BeginErrorReadLine();
    }

    /// <summary>Waits for dotnet-counters to finish its run (it writes the CSV at the end) and reads it.</summary>
    public async Task StopCounters(DateTime runStart)
    {
        if (_counters is null || _csv is null) return;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await _counters.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { _counters.Kill(); GcNote = "dotnet-counters did not finish"; return; }
        if (!File.Exists(_csv)) { GcNote = "dotnet-counters wrote no file"; return; }

        // Timestamp,Provider,Counter Name,Counter Type,Mean/Increment (local time, to the second).
        var heap = new SortedDictionary<DateTime, (long Heap, long Committed, long Allocated)>();
        foreach (var line in File.ReadLines(_csv).Skip(1))
        {
            var parts = line.Split(',');
            if (parts.Length < 5) continue;
            if (!DateTime.TryParseExact(parts[0], "MM/dd/yyyy HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var at)) continue;
            var name = string.Join(',', parts[2..^2]);
            if (!double.TryParse(parts[^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) continue;
            var row = heap.GetValueOrDefault(at);
            if (name.StartsWith("dotnet.gc.last_collection.heap.size", StringComparison.Ordinal)) row.Heap += (long)value;
            else if (name.StartsWith("dotnet.gc.last_collection.memory.committed_size", StringComparison.Ordinal)) row.Committed = (long)value;
            else if (name.StartsWith("dotnet.gc.heap.total_allocated", StringComparison.Ordinal)) row.Allocated = (long)value;
            else continue;
            heap[at] = row;
        }
        foreach (var (at, row) in heap)
            if (row.Heap > 0)
                Gc.Add(new GcSample((at - runStart).TotalSeconds, row.Heap, row.Committed, row.Allocated));
        if (Gc.Count == 0) GcNote = "dotnet-counters reported no GC heap";
    }
}

/// <summary>The live managed heap after a full (induced) collection, from a dotnet-gcdump: total and bytes per type.</summary>
sealed record LiveHeap(double Seconds, long Bytes, long Objects, Dictionary<string, (long Bytes, long Count)> Types)
{
    /// <summary>
    /// Runs <c>dotnet-gcdump collect</c> (which induces a full blocking GC in the app and walks the live
    /// objects) and <c>report</c>. Null when the tool is missing or fails.
    /// </summary>
    public static async Task<LiveHeap?> Take(string? tool, int pid, string file, double seconds)
    {
        if (string.IsNullOrEmpty(tool) || !File.Exists(tool)) return null;
        File.Delete(file);
        if (await RunTool(tool, ["collect", "--process-id", pid.ToString(CultureInfo.InvariantCulture), "-o", Path.GetFullPath(file)]) is null
            || !File.Exists(file)) return null;
        if (await RunTool(tool, ["report", Path.GetFullPath(file)]) is not { } report) return null;
        long bytes = 0, objects = 0;
        var types = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        foreach (var raw in report.Split('\n'))
        {
            var line = raw.Trim();
            var parts = line.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2 || !long.TryParse(parts[0], NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var n)) continue;
            if (line.EndsWith("GC Heap bytes", StringComparison.Ordinal)) { bytes = n; continue; }
            if (line.EndsWith("GC Heap objects", StringComparison.Ordinal)) { objects = n; continue; }
            if (parts.Length < 3 || !long.TryParse(parts[1], NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var count)) continue;
            // "System.Byte[] (Bytes > 10K)  [System.Private.CoreLib.dll]": the size bucket is not part of the type.
            var type = System.Text.RegularExpressions.Regex.Replace(parts[2], @" \(Bytes > [^)]*\)", "");
            var (b, c) = types.GetValueOrDefault(type);
            types[type] = (b + n, c + count);
        }
        return bytes > 0 ? new LiveHeap(seconds, bytes, objects, types) : null;
    }

    static async Task<string?> RunTool(string tool, string[] args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try { await p.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { p.Kill(); return null; }
        await errors;
        return p.ExitCode == 0 ? await output : null;
    }

    /// <summary>The types whose live bytes grew the most from <paramref name="earlier"/> to this one.</summary>
    public IEnumerable<(string Type, long Bytes, long Count)> GrowthSince(LiveHeap earlier) =>
        Types.Select(t =>
            {
                var (b, c) = earlier.Types.GetValueOrDefault(t.Key);
                return (t.Key, t.Value.Bytes - b, t.Value.Count - c);
            })
            .Where(t => t.Item2 > 0)
            .OrderByDescending(t => t.Item2);
}

/// <summary>Per-minute figures of a series of samples.</summary>
sealed record MinuteStats(int Minute, int Count, double Mean, double Min, double Max);

static class Stats
{
    public static List<MinuteStats> PerMinute(IEnumerable<(double Seconds, double Value)> samples, int minutes) =>
        samples.Where(s => s.Seconds >= 0 && s.Seconds < minutes * 60.0)
            .GroupBy(s => (int)(s.Seconds / 60) + 1)
            .OrderBy(g => g.Key)
            .Select(g => new MinuteStats(g.Key, g.Count(), g.Average(s => s.Value), g.Min(s => s.Value), g.Max(s => s.Value)))
            .ToList();

    /// <summary>Least-squares slope of value over time, per minute.</summary>
    public static double SlopePerMinute(IReadOnlyList<(double Seconds, double Value)> s)
    {
        if (s.Count < 3) return double.NaN;
        var mx = s.Average(p => p.Seconds);
        var my = s.Average(p => p.Value);
        var num = s.Sum(p => (p.Seconds - mx) * (p.Value - my));
        var den = s.Sum(p => (p.Seconds - mx) * (p.Seconds - mx));
        return den == 0 ? double.NaN : num / den * 60;
    }

    public static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
}
