using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace DrillClient;

/// <summary>
/// CPU of the drill's parties over short slices (from /proc): the app, the attacker (this process), the worker,
/// the whole machine's user, system and softirq time, and the idle rest, to see who held the 2 cores when.
/// </summary>
sealed class CpuSampler(int? appPid, int workerPid, TimeSpan slice)
{
    readonly List<(DateTimeOffset At, double[] Ticks)> _samples = [];

    /// <summary>Samples until <paramref name="stop"/>.</summary>
    public async Task Run(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(slice);
        try
        {
            do _samples.Add((DateTimeOffset.UtcNow, Read()));
            while (await timer.WaitForNextTickAsync(stop));
        }
        catch (OperationCanceledException) { }
    }

    double[] Read()
    {
        var machine = File.ReadAllLines("/proc/stat")[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        // user+nice, system, softirq+irq, idle+iowait (ticks of 1/100 s)
        // The attacker's own GC pauses and JIT time (ms): the drill's overhead, not what its sockets send.
        return [Process(appPid), Process(Environment.ProcessId), Process(workerPid),
                machine[0] + machine[1], machine[2], machine[5] + machine[6], machine[3] + machine[4],
                GC.GetTotalPauseDuration().TotalMilliseconds, System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds];
    }

    static double Process(int? pid)
    {
        if (pid is null || !File.Exists($"/proc/{pid}/stat")) return 0;
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return double.Parse(f[11], CultureInfo.InvariantCulture) + double.Parse(f[12], CultureInfo.InvariantCulture);
    }

    /// <summary>One line per slice from <paramref name="from"/> to <paramref name="to"/>: cores used by each.</summary>
    public string Table(DateTimeOffset from, DateTimeOffset to)
    {
        var sb = new StringBuilder("cores per slice (app attacker worker | machine user sys softirq idle | the attacker's GC pause and JIT ms):");
        for (var i = 1; i < _samples.Count; i++)
        {
            var (at, t) = _samples[i];
            if (at < from || _samples[i - 1].At > to) continue;
            var (prevAt, p) = _samples[i - 1];
            var s = (at - prevAt).TotalSeconds * 100;
            sb.Append(CultureInfo.InvariantCulture, $"\n    {prevAt:HH:mm:ss.fff} {(t[0] - p[0]) / s:F2} {(t[1] - p[1]) / s:F2} {(t[2] - p[2]) / s:F2} | {(t[3] - p[3]) / s:F2} {(t[4] - p[4]) / s:F2} {(t[5] - p[5]) / s:F2} {(t[6] - p[6]) / s:F2} | {t[7] - p[7]:F0} {t[8] - p[8]:F0}");
        }
        return sb.ToString();
    }
}
