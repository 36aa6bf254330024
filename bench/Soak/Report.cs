using System.Globalization;
using System.Text;

namespace Soak;

/// <summary>The "## Soak" section of docs/BENCHMARKS.md and the pass/fail verdict.</summary>
static class Report
{
    public sealed record Input(
        Options Options, IReadOnlyList<Activity> Activities, Api Api, Workload Work, IReadOnlyList<User> Users,
        FrameCheck Frames, ImageOutcome Images, List<(double Seconds, double Ms)> Thumbnails, Memory Memory, (LiveHeap? AfterMinute2, LiveHeap? End) Live, List<string> ErrorLog,
        List<string> Warnings, int SocketsLeft, int? TempFilesLeft, TimeSpan RanFor, int MaxInFlight, string LoadBefore, string LoadAfter);

    public sealed record Result(string Markdown, string Details, bool Passed, List<string> Failures);

    const double MiB = 1024 * 1024;

    /// <summary>
    /// A series is stable when its mean in the last minute exceeds its mean in minute 2 by no more than
    /// the noise: the median, over minutes 2 to the last, of the swing (max - min) inside one minute, with a
    /// floor of 2 % of minute 2's mean. Inside one minute at a steady load there is no trend to see, so that
    /// swing is what the GC's collect-and-grow cycle and the allocator make on their own; a leak is a rise
    /// from minute to minute that outgrows it. The median keeps one unusual minute (minute 2 still settling
    /// after the warm-up, a neighbour's burst on the shared cores) from widening the threshold. Minute 1 is
    /// warm-up (JIT, Wolverine's generated handlers, pools and GC budgets finding their size) and is not compared.
    /// </summary>
    public sealed record Verdict(bool Applicable, bool Stable, double Growth, double Noise, double SlopePerMinute);

    public static Verdict Judge(List<MinuteStats> minutes, IReadOnlyList<(double Seconds, double Value)> samples)
    {
        if (minutes.Count < 3 || minutes[1].Minute != 2) return new Verdict(false, true, double.NaN, double.NaN, double.NaN);
        var second = minutes[1];
        var last = minutes[^1];
        var growth = last.Mean - second.Mean;
        var swings = minutes.Skip(1).Select(m => m.Max - m.Min).Order().ToArray();
        var median = swings.Length % 2 == 1 ? swings[swings.Length / 2] : (swings[swings.Length / 2 - 1] + swings[swings.Length / 2]) / 2;
        var noise = Math.Max(median, 0.02 * second.Mean);
        var slope = Stats.SlopePerMinute(samples.Where(s => s.Seconds >= 60).ToList());
        return new Verdict(true, growth <= noise, growth, noise, slope);
    }

    public static Result Build(Input x)
    {
        var o = x.Options;
        var failures = new List<string>();
        var minutes = (int)Math.Ceiling(o.Minutes);
        var measured = x.Api.Counts.Where(c => !c.Key.Route.StartsWith('(')).ToList();
        var total = measured.Sum(c => c.Value);
        var serverErrors = measured.Where(c => c.Key.Status >= 500).Sum(c => c.Value);
        var otherUnexpected = measured.Where(c => c.Key.Status is < 200 or (>= 300 and < 500)).Sum(c => c.Value);
        var setupErrors = x.Api.Counts.Where(c => c.Key.Route.StartsWith('(') && c.Key.Status is < 200 or >= 300).Sum(c => c.Value);
        var sockets = x.Users.Sum(u => u.Devices.Count);
        var devices = x.Users.SelectMany(u => u.Devices).ToList();
        var thumbnailMs = x.Thumbnails.Select(t => t.Ms).Order().ToArray();
        var errorEntries = x.ErrorLog.Count(l => l.Length > 4 && char.IsDigit(l[0]));

        var proc = x.Memory.Proc.Select(p => (p.Seconds, (double)p.RssBytes)).ToList();
        var rssMinutes = Stats.PerMinute(proc, minutes);
        var rss = Judge(rssMinutes, proc);
        var gc = x.Memory.Gc.Select(g => (g.Seconds, (double)g.HeapBytes)).ToList();
        var gcMinutes = Stats.PerMinute(gc, minutes);
        var heap = Judge(gcMinutes, gc);

        if (serverErrors > 0) failures.Add($"{serverErrors} answers 5xx");
        if (otherUnexpected > 0) failures.Add($"{otherUnexpected} answers neither 2xx nor 5xx (or none)");
        if (setupErrors > 0) failures.Add($"{setupErrors} failed calls during setup or drain");
        if (errorEntries > 0 || x.ErrorLog.Count > 0) failures.Add($"{x.ErrorLog.Count} error-log lines");
        if (x.Frames.Missing + x.Frames.Extra + x.Frames.Duplicates + x.Frames.OutOfOrder > 0)
            failures.Add($"frames: {x.Frames.Missing} missing, {x.Frames.Extra} unexpected, {x.Frames.Duplicates} duplicate, {x.Frames.OutOfOrder} out of order");
        if (x.Frames.ClosedByServer > 0) failures.Add($"{x.Frames.ClosedByServer} sockets closed by the server or lost");
        var badFrames = devices.Sum(d => d.ErrorFrames + d.ResyncFrames);
        if (badFrames > 0) failures.Add($"{badFrames} error or resync_required frames");
        if (x.Images.Failed.Count + x.Images.StillProcessing.Count > 0)
            failures.Add($"images: {x.Images.Failed.Count} failed, {x.Images.StillProcessing.Count} still processing");
        if (x.TempFilesLeft is > 0) failures.Add($"{x.TempFilesLeft} upload temp files left behind");
        if (x.SocketsLeft != 0) failures.Add($"{x.SocketsLeft} sockets still counted by the app after every device closed");
        if (x.Api.SurpriseCount > 0 && failures.Count == 0) failures.Add($"{x.Api.SurpriseCount} unexpected events (see the run's output)");
        if (rss.Applicable && !rss.Stable) failures.Add($"RSS grew {rss.Growth / MiB:F1} MiB from minute 2 to minute {minutes} (noise {rss.Noise / MiB:F1} MiB)");
        if (heap.Applicable && !heap.Stable) failures.Add($"GC heap grew {heap.Growth / MiB:F1} MiB from minute 2 to minute {minutes} (noise {heap.Noise / MiB:F1} MiB)");
        var passed = failures.Count == 0;

        string Mark(bool ok) => ok ? "pass" : "**FAIL**";
        var md = new StringBuilder();
        md.AppendLine("## Soak").AppendLine();
        md.AppendLine($"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC by `{o.Command}`: {x.RanFor.TotalMinutes:F1} minutes of a steady mixed load " +
                      $"against the app in Release (Production environment, {o.Storage}), Redis on loopback, app and load generator on this machine " +
                      $"({Environment.ProcessorCount} cores, load average {x.LoadBefore} at the start, {x.LoadAfter} at the end). " +
                      $"**Verdict: {(passed ? "passed" : "FAILED")}.**");
        md.AppendLine();
        md.AppendLine($"Population: {x.Users.Count} users x {o.Devices} devices = {sockets} WebSockets open all along (two devices of each user in their first chat, " +
                      $"the others in the next ones; {o.Chats} chats a user, each seeded with {o.SeedMessages} messages and an image). " +
                      $"{total:N0} HTTP requests in the run ({total / x.RanFor.TotalSeconds:F1}/s), at most {x.MaxInFlight} activities in flight; " +
                      $"from minute 2 on the app used {SteadyCpu(x.Memory.Proc):F0} % of one core on average ({Environment.ProcessorCount} cores), a load well below what it can serve.");
        md.AppendLine();
        md.AppendLine("| check | result | |");
        md.AppendLine("| --- | --- | --- |");
        md.AppendLine($"| 5xx answers | {serverErrors} of {total:N0} | {Mark(serverErrors == 0)} |");
        md.AppendLine($"| other answers than the expected 2xx (4xx, no answer) | {otherUnexpected} | {Mark(otherUnexpected == 0)} |");
        md.AppendLine($"| lines in the app's `logs/error.log` | {x.ErrorLog.Count} | {Mark(x.ErrorLog.Count == 0)} |");
        md.AppendLine($"| event frames received / owed (seq frames; a socket is owed every event of its user after its since that is user-wide or in its chat) | " +
                      $"{x.Frames.Received:N0} / {x.Frames.Expected:N0}: {x.Frames.Missing} missing, {x.Frames.Extra} unexpected, {x.Frames.Duplicates} duplicate, {x.Frames.OutOfOrder} out of order | " +
                      $"{Mark(x.Frames.Missing + x.Frames.Extra + x.Frames.Duplicates + x.Frames.OutOfOrder == 0)} |");
        md.AppendLine($"| socket connections (epochs) / closed by the server or lost | {x.Frames.Epochs} / {x.Frames.ClosedByServer} | {Mark(x.Frames.ClosedByServer == 0)} |");
        md.AppendLine($"| error or resync_required frames | {badFrames} | {Mark(badFrames == 0)} |");
        md.AppendLine($"| images uploaded into kept chats / ready | {x.Images.Uploaded} / {x.Images.Ready} (upload to `image_ready` p50 {Stats.Percentile(thumbnailMs, 0.5):F0} ms, " +
                      $"p99 {Stats.Percentile(thumbnailMs, 0.99):F0} ms, max {(thumbnailMs.Length > 0 ? thumbnailMs[^1] : double.NaN):F0} ms over {thumbnailMs.Length}) | " +
                      $"{Mark(x.Images.Failed.Count + x.Images.StillProcessing.Count == 0)} |");
        md.AppendLine($"| WebSockets the app still counts once every device closed | {x.SocketsLeft} | {Mark(x.SocketsLeft == 0)} |");
        md.AppendLine($"| upload temp files left in the app's temp folder (uploads are spooled there) | {(x.TempFilesLeft is { } t ? t.ToString(CultureInfo.InvariantCulture) : "not checked")} | {(x.TempFilesLeft is null ? "n/a" : Mark(x.TempFilesLeft == 0))} |");
        md.AppendLine($"| app RSS, minute 2 -> minute {minutes} | {MemoryLine(rss)} | {(rss.Applicable ? Mark(rss.Stable) : "n/a")} |");
        md.AppendLine($"| app GC heap after the last collection, minute 2 -> minute {minutes} | {(gc.Count == 0 ? x.Memory.GcNote ?? "not measured" : MemoryLine(heap))} | {(heap.Applicable ? Mark(heap.Stable) : "n/a")} |");
        md.AppendLine($"| live managed heap after a full GC (`dotnet-gcdump`), end of minute 2 -> end of the run | {LiveLine(x.Live)} | for information |");
        md.AppendLine($"| warnings in `combined.log` | {x.Warnings.Count}" + (x.Warnings.Count > 0
            ? "; first: `" + Shorten(x.Warnings[0]).Replace("|", "\\|", StringComparison.Ordinal) + "`"
            : "") + " | for information |");
        md.AppendLine();
        md.AppendLine("Memory is judged by the mean of each minute's samples (RSS from `/proc` every 5 s; GC heap from `dotnet-counters` every 5 s). " +
                      "Growth (mean of the last minute - mean of minute 2) passes when it is no larger than the noise: the median, over minutes 2 to the last, of the swing " +
                      "(max - min) inside one minute, with a floor of 2 % of minute 2's mean. Inside one minute of a steady load there is no trend, so that swing is what " +
                      "the GC's collect-and-grow cycle and the allocator do by themselves; a leak is a rise from minute to minute beyond it. The median keeps one unusual " +
                      "minute (minute 2 still settling, a neighbour's burst on the shared cores) from widening the threshold. Minute 1 is warm-up " +
                      "(JIT, Wolverine's generated handlers, pools, GC budgets) and is not compared. The slope (least squares over minutes 2 to the end) is shown for information.");
        md.AppendLine();
        // The per-minute table, the workload's mix and the per-route latencies go to the console only: the doc keeps
        // the verdict and how memory was judged.
        var details = new StringBuilder();
        details.AppendLine("| minute | requests | app CPU (% of one core) | app RSS MiB, mean (min-max) | GC heap MiB, mean (min-max) | allocated MiB/s | open files, max | upload to ready ms, p50 / max |");
        details.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        for (var m = 1; m <= minutes; m++)
        {
            var r = rssMinutes.FirstOrDefault(s => s.Minute == m);
            var g = gcMinutes.FirstOrDefault(s => s.Minute == m);
            var inMinute = x.Memory.Proc.Where(p => p.Seconds >= (m - 1) * 60 - 0.5 && p.Seconds <= m * 60 + 0.5).ToList();
            var cpu = inMinute.Count >= 2 ? (inMinute[^1].CpuSeconds - inMinute[0].CpuSeconds) / (inMinute[^1].Seconds - inMinute[0].Seconds) * 100 : double.NaN;
            var alloc = x.Memory.Gc.Where(s => s.Seconds >= (m - 1) * 60 && s.Seconds < m * 60).Select(s => s.AllocatedPerInterval / 5.0 / MiB).DefaultIfEmpty(double.NaN).Average();
            var thumbs = x.Thumbnails.Where(t => t.Seconds >= (m - 1) * 60 && t.Seconds < m * 60).Select(t => t.Ms).Order().ToArray();
            var files = inMinute.Count > 0 ? inMinute.Max(p => p.OpenFiles).ToString(CultureInfo.InvariantCulture) : "-";
            details.AppendLine($"| {m} | {x.Api.PerMinute.GetValueOrDefault(m):N0} | {cpu:F0} | {Range(r)} | {Range(g)} | {alloc:F1} | {files} | " +
                          $"{Stats.Percentile(thumbs, 0.5):F0} / {(thumbs.Length > 0 ? thumbs[^1] : double.NaN):F0} |");
        }
        details.AppendLine();
        details.AppendLine("The mix (rates for the whole population, steady; each activity on its own schedule):");
        details.AppendLine();
        details.AppendLine("| activity | requests | target /s | done |");
        details.AppendLine("| --- | --- | --- | --- |");
        foreach (var a in x.Activities)
            details.AppendLine($"| {a.Name} | `{a.Requests}` | {a.Rate:0.###} | {a.Done:N0} |");
        details.AppendLine();
        details.AppendLine($"Sockets: {x.Work.Reconnects} reconnects with `since` ({x.Work.Vanished} after vanishing without a close frame, {x.Work.Switched} to another chat), " +
                      $"{x.Work.Recoveries} reconnects after a socket was lost; {x.Work.TypingSent} typing frames sent ({devices.Sum(d => d.TypingFrames)} received by the other devices in the chat), " +
                      $"{x.Work.PingsSent} pings ({devices.Sum(d => d.Pongs)} pongs). {x.Work.IdempotentReplays} posts were retried with their Idempotency-Key (each must give back the first message).");
        details.AppendLine();
        details.AppendLine("Requests by route and status during the run, with latency:");
        details.AppendLine();
        details.AppendLine("| route | status: count | p50 ms | p99 ms | max ms |");
        details.AppendLine("| --- | --- | --- | --- | --- |");
        var latencies = x.Api.Latencies;
        foreach (var route in measured.GroupBy(c => c.Key.Route).OrderByDescending(g => g.Sum(c => c.Value)))
        {
            var l = latencies.GetValueOrDefault(route.Key) ?? [];
            var statuses = string.Join(", ", route.OrderBy(c => c.Key.Status).Select(c => $"{(c.Key.Status == 0 ? "no answer" : c.Key.Status.ToString(CultureInfo.InvariantCulture))}: {c.Value:N0}"));
            details.AppendLine($"| `{route.Key}` | {statuses} | {Stats.Percentile(l, 0.5):F1} | {Stats.Percentile(l, 0.99):F1} | {(l.Length > 0 ? l[^1] : double.NaN):F1} |");
        }
        details.AppendLine();
        md.AppendLine($"Run it: `{o.Command}` (starts Redis and {(o.Storage.Contains("s3rver", StringComparison.Ordinal) ? "s3rver" : "nothing else")} on their own ports, " +
                      "builds and starts the app in Release, runs bench/Soak, stops everything; exits non-zero when a check fails). " +
                      "`--minutes N` sets the length (default 10), `--scale F` multiplies every rate, `SOAK_STORAGE=local` uses the local store.");
        if (!passed)
        {
            md.AppendLine();
            md.AppendLine("Failures: " + string.Join("; ", failures) + ".");
            foreach (var e in x.Frames.Examples.Take(5)) md.AppendLine($"- {e}");
        }
        return new Result(md.ToString(), details.ToString(), passed, failures);
    }

    static string MemoryLine(Verdict v) => !v.Applicable
        ? "n/a (needs 3 minutes or more)"
        : $"{(v.Growth >= 0 ? "+" : "")}{v.Growth / MiB:F1} MiB (noise threshold {v.Noise / MiB:F1} MiB; slope {v.SlopePerMinute / MiB:+0.00;-0.00} MiB/min)";

    static double SteadyCpu(List<ProcSample> proc)
    {
        var steady = proc.Where(p => p.Seconds >= 60).ToList();
        return steady.Count < 2 ? double.NaN
            : (steady[^1].CpuSeconds - steady[0].CpuSeconds) / (steady[^1].Seconds - steady[0].Seconds) * 100;
    }

    static string LiveLine((LiveHeap? AfterMinute2, LiveHeap? End) live)
    {
        if (live.End is not { } end) return "not measured";
        if (live.AfterMinute2 is not { } early)
            return $"{end.Bytes / MiB:F1} MiB in {end.Objects:N0} objects at the end (no dump at minute 2: runs of 4 minutes or more)";
        var top = end.GrowthSince(early).Take(4).Select(t => $"`{Shorten(t.Type.Split("  [")[0])}` +{t.Bytes / 1024.0:F0} KiB ({t.Count:+#;-#;0})");
        return $"{early.Bytes / MiB:F1} -> {end.Bytes / MiB:F1} MiB ({(end.Bytes - early.Bytes) / MiB:+0.0;-0.0} MiB; objects {early.Objects:N0} -> {end.Objects:N0}); " +
               $"most growth: {string.Join(", ", top)}";
    }

    static string Range(MinuteStats? s) => s is null ? "-" : $"{s.Mean / MiB:F1} ({s.Min / MiB:F1}-{s.Max / MiB:F1})";

    static string Shorten(string s) => (s.Length <= 200 ? s : s[..200] + "...").Replace('`', '\'');
}
