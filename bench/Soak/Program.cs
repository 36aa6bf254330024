using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Soak;

/// <summary>
/// The mixed soak of issue 7: a population of users, each with several devices' sockets open, reads,
/// posts, edits, deletes, searches, uploads and reconnects at a steady rate against a running app for N
/// minutes; then checks that nothing failed (no 5xx, no error-log line, every event frame a device was owed
/// arrived exactly once and in order, every image turned ready, no socket left behind) and that the app's
/// memory stayed flat from the second minute to the last. The figures go to docs/BENCHMARKS.md ("## Soak").
/// </summary>
static class Program
{
    static async Task<int> Main(string[] args)
    {
        var o = Options.Parse(args);
        Directory.CreateDirectory(o.WorkDir);
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2), MaxConnectionsPerServer = 256 };
        var http = new HttpClient(handler) { BaseAddress = new Uri(o.Url), Timeout = TimeSpan.FromSeconds(30) };
        var clock = new Stopwatch();
        var api = new Api(http, clock);
        var run = new Run(o, api);
        var loadBefore = LoadAverage();

        var pictures = Pictures.Make(12);
        var users = new List<User>();
        var work = new Workload(run, users, pictures);
        var setupClock = Stopwatch.StartNew();
        await Setup(run, work, users);
        // The setup's pictures are made before the run starts, so the run's uploads do not queue behind them.
        var setupImages = await DrainImages(api, work.Uploaded);
        if (setupImages.Ready != setupImages.Uploaded) api.Surprise($"setup images: {setupImages.Ready} of {setupImages.Uploaded} ready");
        Console.WriteLine($"setup: {users.Count} users x {o.Devices} devices ({users.Sum(u => u.Devices.Count)} sockets), " +
                          $"{o.Chats} chats each with {o.SeedMessages} messages and an image, in {setupClock.Elapsed.TotalSeconds:F0} s");

        // --- the measured run ---
        var memory = new Memory(o.Pid);
        var activities = work.Activities(o.Scale);
        var duration = TimeSpan.FromMinutes(o.Minutes);
        var runStart = DateTime.Now;
        clock.Restart();
        api.Measuring = true;
        memory.StartCounters(o.CountersTool, Path.Combine(o.WorkDir, "counters.csv"), duration + TimeSpan.FromSeconds(6));
        memory.Sample(0);
        // The live heap after a full GC at the end of minute 2 (only when minute 2 is not also the last-but-one
        // compared minute's neighbour: the induced GC lands in minute 3) and at the end of the run.
        Task<LiveHeap?>? liveAfterMinute2 = null;
        using var stopSampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            using var tick = new PeriodicTimer(TimeSpan.FromSeconds(5));
            try
            {
                while (await tick.WaitForNextTickAsync(stopSampling.Token))
                {
                    memory.Sample(clock.Elapsed.TotalSeconds);
                    if (liveAfterMinute2 is null && o.Minutes >= 4 && clock.Elapsed.TotalSeconds >= 120)
                        liveAfterMinute2 = LiveHeap.Take(o.GcdumpTool, o.Pid, Path.Combine(o.WorkDir, "minute2.gcdump"), clock.Elapsed.TotalSeconds);
                    await work.Recover();
                    var m = clock.Elapsed;
                    if ((int)m.TotalSeconds % 30 < 5)
                        Console.WriteLine($"  {m:mm\\:ss} requests {api.Counts.Where(c => !c.Key.Route.StartsWith('(')).Sum(c => c.Value)}, " +
                                          $"surprises {api.SurpriseCount}, app RSS {memory.Proc[^1].RssBytes / 1048576.0:F0} MiB");
                }
            }
            catch (OperationCanceledException) { }
        });

        var fired = new long[activities.Count];
        var phase = activities.Select(_ => Random.Shared.NextDouble()).ToArray();
        var tasks = new List<Task>();
        var maxInFlight = 0;
        var inFlight = 0;
        using (var gate = new SemaphoreSlim(128))
        {
            while (clock.Elapsed < duration)
            {
                var t = clock.Elapsed.TotalSeconds;
                for (var i = 0; i < activities.Count; i++)
                {
                    var target = (long)(t * activities[i].Rate + phase[i]);
                    while (fired[i] < target)
                    {
                        fired[i]++;
                        await gate.WaitAsync();
                        maxInFlight = Math.Max(maxInFlight, Interlocked.Increment(ref inFlight));
                        var a = activities[i];
                        tasks.Add(Task.Run(async () =>
                        {
                            try { await a.Run(); a.Ran(); }
                            catch (Exception e) { api.Surprise($"'{a.Name}' threw {e.GetType().Name}: {e.Message}"); }
                            finally { Interlocked.Decrement(ref inFlight); gate.Release(); }
                        }));
                    }
                }
                if (tasks.Count > 4096) tasks.RemoveAll(x => x.IsCompleted);
                await Task.Delay(10);
            }
            await Task.WhenAll(tasks);
        }
        var ranFor = clock.Elapsed;
        api.Measuring = false;
        stopSampling.Cancel();
        await sampler;
        var live = (await (liveAfterMinute2 ?? Task.FromResult<LiveHeap?>(null)),
            await LiveHeap.Take(o.GcdumpTool, o.Pid, Path.Combine(o.WorkDir, "end.gcdump"), clock.Elapsed.TotalSeconds));
        Console.WriteLine($"run: {ranFor.TotalSeconds:F0} s; draining");

        // --- drain: thumbnails finish, devices receive the last events, sockets close ---
        var images = await DrainImages(api, work.Uploaded);
        var logs = new Dictionary<User, List<LogEvent>>();
        var frames = new FrameCheck();
        var waitForFrames = Stopwatch.StartNew();
        while (true)
        {
            foreach (var u in users) logs[u] = await ReadLog(api, u);
            frames = FrameCheck.Of(users, logs);
            if (frames.MissingInLastEpochs == 0 || waitForFrames.Elapsed > TimeSpan.FromSeconds(30)) break;
            await Task.Delay(1000);
        }
        foreach (var d in users.SelectMany(u => u.Devices)) await d.Close(vanish: false);
        var socketsLeft = await SocketsLeft(api);
        await memory.StopCounters(runStart);

        // The app spools uploads to <temp>/nanobanana-uploads-<user>/<pid>/ and deletes each file when its request ends.
        var spool = Path.Combine(o.AppTemp ?? "", $"nanobanana-uploads-{Environment.UserName}");
        int? tempLeft = o.AppTemp is not null
            ? (Directory.Exists(spool) ? Directory.GetFiles(spool, "*", SearchOption.AllDirectories).Length : 0)
            : null;
        var errorLog = ReadErrorLog(o.LogDir);
        var warnings = ReadWarnings(o.LogDir);
        var report = Report.Build(new Report.Input(o, activities, api, work, users, frames, images, ThumbnailTimes(logs, runStart),
            memory, live, errorLog, warnings, socketsLeft, tempLeft, ranFor, maxInFlight, loadBefore, LoadAverage()));
        Console.WriteLine();
        Console.WriteLine(report.Markdown);
        Console.WriteLine(report.Details);
        if (api.Surprises.Any())
        {
            Console.WriteLine($"Unexpected answers and events ({api.SurpriseCount}, the first {api.Surprises.Count()}):");
            foreach (var s in api.Surprises) Console.WriteLine("  " + s);
        }
        if (errorLog.Count > 0)
        {
            Console.WriteLine($"error.log ({errorLog.Count} lines):");
            foreach (var line in errorLog.Take(200)) Console.WriteLine("  " + line);
        }
        if (o.Out is { } path) BenchShared.BenchmarksDoc.WriteSection(path, "## Soak", report.Markdown);
        Console.WriteLine(report.Passed ? "SOAK PASSED" : "SOAK FAILED: " + string.Join("; ", report.Failures));
        return report.Passed ? 0 : 1;
    }

    static async Task Setup(Run run, Workload work, List<User> users)
    {
        var o = run.Options;
        var api = run.Api;
        var tag = Guid.NewGuid().ToString("N")[..6];
        using var gate = new SemaphoreSlim(8);
        var made = await Task.WhenAll(Enumerable.Range(0, o.Users).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var name = $"soak{i}_{tag}";
                var email = $"soak{i}.{tag}@example.com";
                const string password = "soak password 1";
                var reg = await api.Post("/api/auth/register", "/api/auth/register", null, new { email, username = name, password });
                if (!reg.Ok) throw new InvalidOperationException($"register answered {reg.Status}");
                var user = new User(run, reg["user"]!["id"]!.GetValue<string>(), name, email, password);
                user.Devices.Add(new Device(user, 0, reg["token"]!.GetValue<string>(), reg["refreshToken"]!.GetValue<string>()));
                for (var d = 1; d < o.Devices; d++)
                {
                    var login = await api.Post("/api/auth/login", "/api/auth/login", null, new { email, password });
                    if (!login.Ok) throw new InvalidOperationException($"login answered {login.Status}");
                    user.Devices.Add(new Device(user, d, login["token"]!.GetValue<string>(), login["refreshToken"]!.GetValue<string>()));
                }
                var token = user.Devices[0].Token;
                for (var c = 0; c < o.Chats; c++)
                {
                    // The first chat keeps "New Chat" until its first message names it (auto title).
                    var created = await api.Post("/api/sessions", "/api/sessions", token, c == 0 ? new { } : new { title = $"Chat {c} " + Texts.TitleWord() });
                    if (!created.Ok) throw new InvalidOperationException($"create session answered {created.Status}");
                    var chat = new Chat(created["session"]!["id"]!.GetValue<string>());
                    user.Chats.Add(chat);
                    for (var m = 0; m < o.SeedMessages; m++)
                    {
                        var id = await work.Post(user, chat, token, m % 2 == 0 ? "user" : "assistant", Texts.Prompt(), []);
                        if (id is not null) chat.Added(id, editable: m % 3 == 2);
                    }
                    foreach (var image in await work.Upload(user, chat.Id, token, 1, keep: true)) chat.ImageAdded(image);
                }
                return user;
            }
            finally { gate.Release(); }
        }));
        users.AddRange(made);

        // Two devices look at the first chat (phone and laptop), the others at the next chats.
        using var open = new SemaphoreSlim(16);
        await Task.WhenAll(users.SelectMany(u => u.Devices).Select(async d =>
        {
            await open.WaitAsync();
            try { await d.Open(run.WsBase, d.User.Chats[d.Index <= 1 ? 0 : (d.Index - 1) % d.User.Chats.Count].Id, null); }
            finally { open.Release(); }
        }));
    }

    /// <summary>Waits until no uploaded image is processing any more (2 minutes at most).</summary>
    static async Task<ImageOutcome> DrainImages(Api api, List<(User User, string ImageId)> uploaded)
    {
        var pending = uploaded.ToList();
        var failed = new List<string>();
        var started = Stopwatch.StartNew();
        while (pending.Count > 0 && started.Elapsed < TimeSpan.FromMinutes(2))
        {
            var still = new ConcurrentBag<(User, string)>();
            await Parallel.ForEachAsync(pending, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (p, _) =>
            {
                var reply = await api.Get("/api/images/:id", $"/api/images/{p.ImageId}", p.User.Devices[0].Token);
                var status = reply["image"]?["status"]?.GetValue<string>();
                if (status == "processing") still.Add(p);
                else if (status != "ready") lock (failed) failed.Add($"{p.ImageId}: {status ?? reply.Status.ToString()}");
            });
            pending = still.ToList();
            if (pending.Count > 0) await Task.Delay(1000);
        }
        return new ImageOutcome(uploaded.Count, uploaded.Count - pending.Count - failed.Count, failed, pending.Select(p => p.ImageId).ToList());
    }

    static async Task<List<LogEvent>> ReadLog(Api api, User u)
    {
        var events = new List<LogEvent>();
        long since = 0;
        while (true)
        {
            var page = await api.Get("/api/sync", $"/api/sync?since={since}&limit=1000", u.Devices[0].Token);
            if (!page.Ok) break;
            foreach (var e in page["events"]!.AsArray())
                events.Add(LogEvent.From(e!.AsObject()));
            since = page["lastSeq"]!.GetValue<long>();
            if (!page["hasMore"]!.GetValue<bool>()) break;
        }
        u.FinalSeq = events.Count > 0 ? events[^1].Seq : 0;
        return events;
    }

    /// <summary>The app's open WebSocket count once every device has closed (10 s for the server to notice).</summary>
    static async Task<int> SocketsLeft(Api api)
    {
        var started = Stopwatch.StartNew();
        var active = -1;
        while (started.Elapsed < TimeSpan.FromSeconds(10))
        {
            var health = await api.Get("/health", "/health", null);
            active = health["websockets"]?["active"]?.GetValue<int>() ?? -1;
            if (active == 0) break;
            await Task.Delay(250);
        }
        return active;
    }

    /// <summary>Upload-to-ready times of the images uploaded during the run (when, how long), from the log's event timestamps.</summary>
    static List<(double Seconds, double Ms)> ThumbnailTimes(Dictionary<User, List<LogEvent>> logs, DateTime runStart)
    {
        var start = new DateTimeOffset(runStart.ToUniversalTime());
        var times = new List<(double, double)>();
        foreach (var log in logs.Values)
        {
            var uploaded = new Dictionary<string, DateTimeOffset>();
            foreach (var e in log)
            {
                if (e.Type == "image_uploaded" && e.ImageId is { } id && e.Timestamp >= start) uploaded[id] = e.Timestamp;
                else if (e.Type == "image_ready" && e.ImageId is { } r && uploaded.Remove(r, out var at))
                    times.Add(((at - start).TotalSeconds, (e.Timestamp - at).TotalMilliseconds));
            }
        }
        return times;
    }

    static List<string> ReadErrorLog(string? dir)
    {
        if (dir is null || !Directory.Exists(dir)) return [];
        return Directory.GetFiles(dir, "error*.log").Order().SelectMany(File.ReadAllLines).Where(l => l.Length > 0).ToList();
    }

    static List<string> ReadWarnings(string? dir)
    {
        if (dir is null || !Directory.Exists(dir)) return [];
        return Directory.GetFiles(dir, "combined*.log").Order()
            .SelectMany(f => File.ReadLines(f).Where(l => l.Contains(" [WRN] ", StringComparison.Ordinal))).ToList();
    }

    static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}

/// <summary>One event of a user's log, as <c>GET /api/sync</c> gives it, with the session it is scoped to.</summary>
sealed record LogEvent(long Seq, string Type, string? Scope, string? ImageId, DateTimeOffset Timestamp)
{
    public static LogEvent From(JsonObject e)
    {
        var type = e["type"]!.GetValue<string>();
        var p = e["payload"];
        // The hub's scope rule (SPEC section 5): message and image events go to sockets that joined their session.
        var scope = type switch
        {
            "message_created" or "message_updated" => p?["messageData"]?["sessionId"]?.GetValue<string>(),
            "message_deleted" => p?["sessionId"]?.GetValue<string>(),
            "image_uploaded" or "image_ready" or "image_failed" => p?["image"]?["sessionId"]?.GetValue<string>(),
            _ => null,
        };
        var image = type.StartsWith("image_", StringComparison.Ordinal) ? p?["image"]?["id"]?.GetValue<string>() : null;
        return new LogEvent(e["seq"]!.GetValue<long>(), type, scope, image, e["timestamp"]!.GetValue<DateTimeOffset>());
    }
}

sealed record ImageOutcome(int Uploaded, int Ready, List<string> Failed, List<string> StillProcessing);

/// <summary>
/// Frames received against frames owed. A device's socket connections are epochs: epoch k starts after its
/// since (or connected's lastSeq) and ends at the since the next one passed; it is owed every logged event
/// in that range that is user-wide or scoped to the session it viewed. It must receive exactly those, once each, in order.
/// </summary>
sealed class FrameCheck
{
    public long Expected, Received, Missing, Extra, Duplicates, OutOfOrder, MissingInLastEpochs, Epochs, ClosedByServer;
    public List<string> Examples { get; } = [];

    public static FrameCheck Of(IEnumerable<User> users, Dictionary<User, List<LogEvent>> logs)
    {
        var c = new FrameCheck();
        foreach (var u in users)
        {
            var log = logs[u];
            foreach (var d in u.Devices)
            {
                c.Duplicates += d.Duplicates;
                c.OutOfOrder += d.OutOfOrder;
                for (var k = 0; k < d.Epochs.Count; k++)
                {
                    var epoch = d.Epochs[k];
                    c.Epochs++;
                    if (epoch.ClosedBy is not null) c.ClosedByServer++;
                    if (epoch.Start < 0) continue; // never connected
                    var end = epoch.End ?? u.FinalSeq;
                    var owed = log.Where(e => e.Seq > epoch.Start && e.Seq <= end && (e.Scope is null || e.Scope == epoch.SessionId))
                        .Select(e => e.Seq).ToHashSet();
                    HashSet<long> seen;
                    lock (epoch.Seqs) { seen = [.. epoch.Seen]; c.Received += epoch.Seqs.Count; }
                    var missing = owed.Where(s => !seen.Contains(s)).ToList();
                    var extra = seen.Where(s => !owed.Contains(s)).ToList();
                    c.Expected += owed.Count;
                    c.Missing += missing.Count;
                    c.Extra += extra.Count;
                    if (k == d.Epochs.Count - 1) c.MissingInLastEpochs += missing.Count;
                    if ((missing.Count > 0 || extra.Count > 0) && c.Examples.Count < 20)
                        c.Examples.Add($"{u.Name} device {d.Index} epoch {k} (session {epoch.SessionId[..8]}, after {epoch.Start} to {end}): " +
                                       $"missing [{string.Join(',', missing.Take(10))}] extra [{string.Join(',', extra.Take(10))}]");
                }
            }
        }
        return c;
    }
}
