using System.Diagnostics;
using System.Globalization;

namespace DrillClient;

/// <summary>One clock for the whole drill: milliseconds since the drill started.</summary>
static class Clock
{
    static readonly Stopwatch Watch = Stopwatch.StartNew();
    public static double Ms => Watch.Elapsed.TotalMilliseconds;
}

/// <summary>
/// The drill's control of the processes it breaks: <c>run.sh _ctl DRILL ACTION</c> (redis-kill, redis-start,
/// s3-kill, s3-start, app-kill, app-start). The script owns the processes (pid files, ports, cleanup).
/// </summary>
sealed class Control(string command)
{
    /// <summary>
    /// Runs the action; returns when (on <see cref="Clock"/>) its signal left, if the action printed
    /// <c>signal-at UNIX_MS</c> (the kills do), else when the action started.
    /// </summary>
    public async Task<double> Run(string action)
    {
        var started = Clock.Ms;
        using var process = Process.Start(new ProcessStartInfo("bash", ["-c", $"{command} {action}"])
        {
            RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false,
        })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"'{action}' failed (exit {process.ExitCode}).");
        var at = started;
        foreach (var line in output.Split('\n'))
            if (line.StartsWith("signal-at ") && long.TryParse(line["signal-at ".Length..], out var unixMs))
                at = Clock.Ms - (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - unixMs);
        Report.Line($"{action} done in {Clock.Ms - started:F0} ms" + (at > started ? $" (the signal left {at - started:F0} ms after the command started)" : ""));
        return at;
    }
}

/// <summary>What the drill checked, printed as it goes, and the closing verdict line.</summary>
static class Report
{
    static readonly List<(string Name, bool Ok, string Detail)> Checks = [];

    public static void Line(string text) =>
        Console.WriteLine($"[{Clock.Ms / 1000,7:F2} s] {text}");

    public static bool Check(string name, bool ok, string detail)
    {
        Checks.Add((name, ok, detail));
        Line($"{(ok ? "ok  " : "FAIL")} {name}: {detail}");
        return ok;
    }

    public static IEnumerable<string> Failed => Checks.Where(c => !c.Ok).Select(c => c.Name);

    /// <summary>Prints the verdict line and returns the exit code: 0 when every check held.</summary>
    public static int Verdict(string drill, string whatWasLost)
    {
        var failed = Failed.ToList();
        Console.WriteLine();
        Console.WriteLine($"VERDICT {drill}: {whatWasLost}" +
                          (failed.Count == 0 ? "; every check held" : $"; checks failed: {string.Join(", ", failed)}"));
        return failed.Count == 0 ? 0 : 1;
    }

    public static string Ms(double ms) => ms.ToString("F0", CultureInfo.InvariantCulture) + " ms";
}

/// <summary>Percentiles and counts of a list of latencies.</summary>
static class Stats
{
    public static double Percentile(IReadOnlyList<double> values, double q)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.OrderBy(v => v).ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
    }
}
