using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace FanOutBench;

/// <summary>
/// Where a late frame's time goes, sampled while the bench sends: each second's CPU of the app, Redis and the bench,
/// the bench's GC pauses, and how long a work item queued on the bench's thread pool waited to run (a probe every
/// 5 ms); over the whole window, CPU by thread name of the app and the bench. Printed to the console, not to the doc.
/// </summary>
sealed class Diagnostics : IDisposable
{
    sealed class Second
    {
        public double App, Redis, Bench, BenchGcMs;
        public double ProbeMaxMs;
        public int Late;
    }

    readonly int _app, _redis;
    readonly long _start;
    readonly ConcurrentDictionary<int, Second> _seconds = new();
    readonly List<double> _probe = [];
    readonly Thread _sampler, _prober;
    readonly Dictionary<string, double> _appThreadsBefore, _benchThreadsBefore;
    Dictionary<string, double>? _appThreadsAfter, _benchThreadsAfter;
    volatile bool _stopped;

    public Diagnostics(int appPid, int redisPid, long start)
    {
        _app = appPid;
        _redis = redisPid;
        _start = start;
        _appThreadsBefore = CpuByThreadName(appPid);
        _benchThreadsBefore = CpuByThreadName(Environment.ProcessId);
        _sampler = new Thread(Sample) { IsBackground = true, Name = "diag sampler" };
        _prober = new Thread(Probe) { IsBackground = true, Name = "diag prober" };
        _sampler.Start();
        _prober.Start();
    }

    int SecondOf(long timestamp) => (int)Stopwatch.GetElapsedTime(_start, timestamp).TotalSeconds;

    void Sample()
    {
        var self = Environment.ProcessId;
        var (app, redis, bench, gc) = (Cpu(_app), Cpu(_redis), Cpu(self), GC.GetTotalPauseDuration());
        while (!_stopped)
        {
            Thread.Sleep(1000);
            var second = _seconds.GetOrAdd(SecondOf(Stopwatch.GetTimestamp()) - 1, _ => new Second());
            var (app2, redis2, bench2, gc2) = (Cpu(_app), Cpu(_redis), Cpu(self), GC.GetTotalPauseDuration());
            second.App = app2 - app;
            second.Redis = redis2 - redis;
            second.Bench = bench2 - bench;
            second.BenchGcMs = (gc2 - gc).TotalMilliseconds;
            (app, redis, bench, gc) = (app2, redis2, bench2, gc2);
        }
    }

    void Probe()
    {
        while (!_stopped)
        {
            var queued = Stopwatch.GetTimestamp();
            ThreadPool.UnsafeQueueUserWorkItem(_ =>
            {
                var ran = Stopwatch.GetTimestamp();
                var ms = Stopwatch.GetElapsedTime(queued, ran).TotalMilliseconds;
                lock (_probe) _probe.Add(ms);
                var second = _seconds.GetOrAdd(SecondOf(ran), _ => new Second());
                lock (second) second.ProbeMaxMs = Math.Max(second.ProbeMaxMs, ms);
            }, null);
            Thread.Sleep(5);
        }
    }

    public void Stop()
    {
        _stopped = true;
        _appThreadsAfter = CpuByThreadName(_app);
        _benchThreadsAfter = CpuByThreadName(Environment.ProcessId);
    }

    public void Dispose() => _stopped = true;

    /// <summary>Counts a frame later than the target in the second it arrived.</summary>
    public void Late(long arrivedAt) => Interlocked.Increment(ref _seconds.GetOrAdd(SecondOf(arrivedAt), _ => new Second()).Late);

    public string Report(double seconds)
    {
        var text = new StringBuilder();
        List<double> probe;
        lock (_probe) probe = [.. _probe.Order()];
        double Q(double q) => probe.Count == 0 ? double.NaN : probe[Math.Min(probe.Count - 1, (int)Math.Ceiling(q * probe.Count) - 1)];
        text.AppendLine(CultureInfo.InvariantCulture, $"bench thread-pool probe (queue -> run), {probe.Count} probes: p50 {Q(0.5):F2} ms, p99 {Q(0.99):F2} ms, max {(probe.Count > 0 ? probe[^1] : 0):F2} ms");
        text.AppendLine("second | app CPU | Redis CPU | bench CPU | bench GC ms | probe max ms | late frames");
        foreach (var (s, v) in _seconds.OrderBy(p => p.Key))
            text.AppendLine(CultureInfo.InvariantCulture, $"{s,6} | {v.App,7:P0} | {v.Redis,9:P0} | {v.Bench,9:P0} | {v.BenchGcMs,11:F1} | {v.ProbeMaxMs,12:F1} | {v.Late}");
        void Threads(string who, Dictionary<string, double> before, Dictionary<string, double>? after)
        {
            if (after is null) return;
            text.Append(CultureInfo.InvariantCulture, $"{who} CPU by thread name (share of one core):");
            foreach (var (name, cpu) in after.Select(p => (p.Key, p.Value - before.GetValueOrDefault(p.Key))).OrderByDescending(p => p.Item2).Take(8))
                text.Append(CultureInfo.InvariantCulture, $" {name} {cpu / seconds:P0};");
            text.AppendLine();
        }
        Threads("app", _appThreadsBefore, _appThreadsAfter);
        Threads("bench", _benchThreadsBefore, _benchThreadsAfter);
        return text.ToString();
    }

    static double Cpu(int pid)
    {
        if (pid <= 0) return 0;
        try { return Ticks(File.ReadAllText($"/proc/{pid}/stat")); }
        catch (IOException) { return 0; }
    }

    static double Ticks(string stat)
    {
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>CPU seconds by thread name (numbers stripped: ".NET TP Worker" adds up every worker).</summary>
    static Dictionary<string, double> CpuByThreadName(int pid)
    {
        var byName = new Dictionary<string, double>();
        if (pid <= 0 || !Directory.Exists($"/proc/{pid}/task")) return byName;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var name = new string(File.ReadAllText($"{task}/comm").Trim().Where(c => !char.IsDigit(c)).ToArray()).Trim();
                byName[name] = byName.GetValueOrDefault(name) + Ticks(File.ReadAllText($"{task}/stat"));
            }
            catch (IOException) { }
        }
        return byName;
    }
}
