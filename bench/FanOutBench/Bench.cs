using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Runtime;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NanoBanana.Features;
using NanoBanana.Features.Realtime;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace FanOutBench;

/// <summary>
/// WebSocket fan-out benchmark: N users x D devices connected to a running app, a steady stream of
/// new messages, and the delay from "the event is committed" to each device's frame.
///
/// Modes:
///   http: messages are posted with POST /api/sessions/:id/messages (needs the messages slice); the
///         clock starts when the HTTP response is read, as the issue asks.
///   log:  the bench process raises the events itself through the product's EventLog (the same
///         append + publish script the fan-out handler runs), i.e. it plays "another instance"
///         whose handler just appended the event; the clock starts when the append returns.
/// </summary>
static class Bench
{
    sealed record User(string Id, string Token, string SessionId);

    static async Task<int> Main(string[] args)
    {
        var o = Options.Parse(args);
        var http = new HttpClient { BaseAddress = new Uri(o.Url), Timeout = TimeSpan.FromSeconds(30) };
        var redis = await ConnectionMultiplexer.ConnectAsync(o.Redis);
        var db = redis.GetDatabase();
        Console.WriteLine($"mode {o.Mode}: {o.Users} users x {o.Devices} devices, {o.Rate} messages/s for {o.Seconds} s");

        var loadBefore = LoadAverage();
        var users = await Register(http, db, o);
        Console.WriteLine($"registered {users.Count} users");

        // The first device of every user opens first (warming the app's socket paths and the
        // per-user subscriptions); the memory figure is the growth from the remaining devices.
        var devices = new List<Device>();
        async Task OpenAll(IEnumerable<User> who)
        {
            using var gate = new SemaphoreSlim(32);
            devices.AddRange(await Task.WhenAll(who.Select(async u =>
            {
                await gate.WaitAsync();
                try { return await Device.Open(o.Url, u); }
                finally { gate.Release(); }
            })));
        }
        await OpenAll(users);
        await Task.Delay(TimeSpan.FromSeconds(3)); // let the app settle before reading its memory
        var rssBefore = Rss(o.Pid);
        var measured = users.Count * (o.Devices - 1);
        await OpenAll(Enumerable.Range(1, o.Devices - 1).SelectMany(_ => users));
        await Task.Delay(TimeSpan.FromSeconds(3));
        var rssAfter = Rss(o.Pid);
        Console.WriteLine($"{devices.Count} sockets open; app RSS {rssBefore / 1024} KiB -> {rssAfter / 1024} KiB over the last {measured}");

        // Per message: when its response was read (Stopwatch), and the same in unix ms for the breakdown against the frame's timestamp.
        var committed = new ConcurrentDictionary<Guid, (long At, double Wall)>();
        var log = new NanoBanana.Infrastructure.Realtime.EventLog(db, new RealtimeSettings());
        var sent = 0L;
        var postTimes = new ConcurrentBag<double>(); // request sent -> response read, ms
        var failures = 0L;
        var cpuBefore = (App: CpuSeconds(o.Pid), Redis: CpuSeconds(o.RedisPid), Bench: Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds);
        // The setup's garbage (registration, 10,000 handshakes) is collected before the clock starts, and no blocking
        // full collection pauses the reads while it runs (a background one still may).
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GCSettings.LatencyMode = GCLatencyMode.SustainedLowLatency;
        var gcBefore = (Pause: GC.GetTotalPauseDuration(), Gen0: GC.CollectionCount(0), Gen1: GC.CollectionCount(1), Gen2: GC.CollectionCount(2));
        var clock = Stopwatch.StartNew();
        var start = Stopwatch.GetTimestamp();
        using var diagnostics = new Diagnostics(o.Pid, o.RedisPid, start);
        using (var inflight = new SemaphoreSlim(256))
        {
            var pending = new List<Task>();
            while (clock.Elapsed.TotalSeconds < o.Seconds)
            {
                var due = (long)(clock.Elapsed.TotalSeconds * o.Rate);
                while (sent < due)
                {
                    var n = sent++;
                    await inflight.WaitAsync();
                    pending.Add(Post(n).ContinueWith(_ => inflight.Release()));
                }
                await Task.Delay(2);
            }
            await Task.WhenAll(pending);
        }
        var sendSeconds = clock.Elapsed.TotalSeconds;
        diagnostics.Stop();
        var gcAfter = (Pause: GC.GetTotalPauseDuration(), Gen0: GC.CollectionCount(0), Gen1: GC.CollectionCount(1), Gen2: GC.CollectionCount(2));
        var cpu = (App: CpuSeconds(o.Pid) - cpuBefore.App, Redis: CpuSeconds(o.RedisPid) - cpuBefore.Redis,
            Bench: Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - cpuBefore.Bench);
        var expected = (sent - failures) * o.Devices;
        var waitUntil = Stopwatch.StartNew();
        while (devices.Sum(d => d.MessageFrames) < expected && waitUntil.Elapsed < TimeSpan.FromSeconds(20))
            await Task.Delay(100);

        var latencies = new List<double>();
        var toAppend = new List<double>();   // response read -> the event's append (its frame timestamp, ms resolution)
        var fromAppend = new List<double>(); // the event's append -> the frame read by the device
        var early = 0;
        long lastArrival = start;
        foreach (var d in devices)
        foreach (var (id, at, appendedMs, readWall) in d.ArrivalsSoFar())
        {
            if (!committed.TryGetValue(id, out var response)) continue;
            if (o.Mode == "http")
            {
                toAppend.Add(appendedMs - response.Wall);
                fromAppend.Add(readWall - appendedMs);
            }
            var ms = Stopwatch.GetElapsedTime(response.At, at).TotalMilliseconds;
            if (at < response.At) { early++; ms = 0; }
            if (ms >= 50) diagnostics.Late(at);
            latencies.Add(ms);
            lastArrival = Math.Max(lastArrival, at);
        }
        latencies.Sort();
        toAppend.Sort();
        fromAppend.Sort();
        var delivered = latencies.Count;
        var framesPerSecond = delivered / Stopwatch.GetElapsedTime(start, lastArrival).TotalSeconds;
        static double Q(List<double> sorted, double q) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
        double P(double q) => Q(latencies, q);
        var closed = devices.Count(d => d.ClosedWith is not null);

        var loadAfter = LoadAverage();
        var posts = postTimes.Order().ToList();
        var benchGc = (Ms: (gcAfter.Pause - gcBefore.Pause).TotalMilliseconds, Count: gcAfter.Gen0 - gcBefore.Gen0);
        var report = new StringBuilder()
            .AppendLine("## Realtime")
            .AppendLine()
            .AppendLine($"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC by `bench/realtime.sh` ({o.Mode} mode) on this machine ({Environment.ProcessorCount} cores, load average {loadBefore} at the start, {loadAfter} at the end), app and bench on the same host, Redis on loopback. Targets: every frame delivered, p99 from the HTTP answer under 50 ms, at most 16 KiB of app memory per idle socket.")
            .AppendLine()
            .AppendLine("| figure | value |")
            .AppendLine("| --- | --- |")
            .AppendLine($"| sockets | {devices.Count} ({o.Users} users x {o.Devices} devices), {closed} closed during the run |")
            .AppendLine($"| messages | {sent - failures} at a target of {o.Rate}/s ({(sent - failures) / sendSeconds:F0}/s achieved), {failures} failed |")
            .AppendLine($"| frames delivered | {delivered} of {expected} expected |")
            .AppendLine($"| delivery latency p50 | {P(0.50):F2} ms |")
            .AppendLine($"| delivery latency p99 | {P(0.99):F2} ms |")
            .AppendLine($"| delivery latency max | {(latencies.Count > 0 ? latencies[^1] : double.NaN):F2} ms |")
            .AppendLine($"| frames per second delivered | {framesPerSecond:F0} |")
            .AppendLine(toAppend.Count > 0 ? $"| of which: response -> append (p50 / p99 / max) | {Q(toAppend, 0.5):F0} / {Q(toAppend, 0.99):F0} / {toAppend[^1]:F0} ms (negative: appended before the bench read its response; ms clock) |" : "| of which: response -> append | not measured in log mode |")
            .AppendLine(fromAppend.Count > 0 ? $"| of which: append -> frame read (p50 / p99 / max) | {Q(fromAppend, 0.5):F0} / {Q(fromAppend, 0.99):F0} / {fromAppend[^1]:F0} ms |" : "| of which: append -> frame read | not measured in log mode |")
            .AppendLine(posts.Count > 0 ? $"| post: request sent -> response read (p50 / p99) | {Q(posts, 0.5):F1} / {Q(posts, 0.99):F1} ms |" : "| post | not measured in log mode |")
            .AppendLine($"| bench client: GC pauses while sending | {benchGc.Ms:F0} ms in {benchGc.Count} collections |")
            .AppendLine($"| CPU while sending (share of one core) | app {cpu.App / sendSeconds:P0}, Redis {(o.RedisPid > 0 ? (cpu.Redis / sendSeconds).ToString("P0", CultureInfo.InvariantCulture) : "not measured")}, bench {cpu.Bench / sendSeconds:P0}, of {Environment.ProcessorCount} cores |")
            .AppendLine($"| app memory per idle connection | {(rssAfter - rssBefore) / (double)Math.Max(1, measured) / 1024:F1} KiB (app RSS growth while {measured} more idle sockets opened, divided by {measured}) |")
            .AppendLine()
            .AppendLine(o.Mode == "http"
                ? "Latency: from the HTTP response of `POST /api/sessions/:id/messages` to each device's `message_created` frame, "
                  + "both timed as their reads complete. The bench client takes no part in the figure: it reads on the socket engine's "
                  + "threads (inline completions, no thread-pool queue) with a 256 MiB young generation. The app runs with the Dockerfile's "
                  + "runtime settings (`DOTNET_GCgen0size`, its young generation: docs/decisions.md, \"Young generation for latency\")."
                : "Latency: from the start of the fan-out's append (the seq + log + publish script the fan-out handler runs once a use case's handler has returned its event) to each device's `message_created` frame: Redis round trip, pub/sub, the app's dispatch and the socket write. The HTTP request and Wolverine's local-queue hop before it are not included; `--mode http` measures them once the messages routes exist.")
            .AppendLine(early > 0 ? $"{early} frames arrived before the sender had read its own response (counted as 0 ms)." : "")
            .ToString();
        Console.WriteLine();
        Console.WriteLine($"post: request -> response read p50 {Q(posts, 0.5):F2} ms, p99 {Q(posts, 0.99):F2} ms, max {(posts.Count > 0 ? posts[^1] : 0):F2} ms");
        Console.WriteLine($"bench GC while sending: {(gcAfter.Pause - gcBefore.Pause).TotalMilliseconds:F0} ms paused; collections gen0 {gcAfter.Gen0 - gcBefore.Gen0}, gen1 {gcAfter.Gen1 - gcBefore.Gen1}, gen2 {gcAfter.Gen2 - gcBefore.Gen2}");
        Console.WriteLine(diagnostics.Report(sendSeconds));
        Console.WriteLine(report);
        if (o.Out is { } path) BenchShared.BenchmarksDoc.WriteSection(path, "## Realtime", report);

        foreach (var d in devices) d.Dispose();
        return 0;

        async Task Post(long n)
        {
            var user = users[(int)(n % users.Count)];
            try
            {
                if (o.Mode == "http")
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/sessions/{user.SessionId}/messages")
                    {
                        Content = JsonContent.Create(new { role = "user", text = $"bench message {n}", imageIds = Array.Empty<string>() }),
                    };
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Token);
                    var sentAt = Stopwatch.GetTimestamp();
                    using var response = await http.SendAsync(request);
                    var body = await response.Content.ReadAsByteArrayAsync();
                    var at = Stopwatch.GetTimestamp();
                    postTimes.Add(Stopwatch.GetElapsedTime(sentAt, at).TotalMilliseconds);
                    var wall = UnixMs();
                    if (!response.IsSuccessStatusCode || MessageId(body) is not { } messageId) { Interlocked.Increment(ref failures); return; }
                    committed[messageId] = (at, wall);
                }
                else
                {
                    var id = Guid.CreateVersion7();
                    var now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                    var message = new MessageDto(id.ToString("N"), user.SessionId, "user", $"bench message {n}", null, [], now, now, null);
                    committed[id] = (Stopwatch.GetTimestamp(), UnixMs());
                    await CommitAlone(db, log, new MessageCreated(user.Id, message));
                }
            }
            catch (Exception e) when (e is HttpRequestException or RedisException or TaskCanceledException)
            {
                Interlocked.Increment(ref failures);
            }
        }
    }

    /// <summary>One event, committed by the app's own commit component as a change that writes nothing else (decided again when it met another).</summary>
    static async Task CommitAlone(IDatabase db, NanoBanana.Infrastructure.Realtime.EventLog log, IUserEvent e)
    {
        while (true)
        {
            try
            {
                await CommitChanges.Commit((await UserBasis.Read(db, e.UserId)).Change().Raise(e), db, log, TimeProvider.System);
                return;
            }
            catch (UserDataMoved) { }
        }
    }

    static async Task<List<User>> Register(HttpClient http, IDatabase db, Options o)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        using var gate = new SemaphoreSlim(8);
        var users = await Task.WhenAll(Enumerable.Range(0, o.Users).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var response = await http.PostAsJsonAsync("/api/auth/register",
                    new { email = $"bench{i}.{run}@example.com", username = $"bench{i}_{run}", password = "benchmark password" });
                // A machine busy with other work makes the password hashes queue past their wait: 503 busy, retried after its Retry-After.
                while (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)
                {
                    await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                    response = await http.PostAsJsonAsync("/api/auth/register",
                        new { email = $"bench{i}.{run}@example.com", username = $"bench{i}_{run}", password = "benchmark password" });
                }
                response.EnsureSuccessStatusCode();
                var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
                var id = body["user"]!["id"]!.GetValue<string>();
                var token = body["token"]!.GetValue<string>();
                return new User(id, token, await CreateSession(http, db, id, token, o.Mode));
            }
            finally { gate.Release(); }
        }));
        return users.ToList();
    }

    static async Task<string> CreateSession(HttpClient http, IDatabase db, string userId, string token, string mode)
    {
        if (mode == "http")
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/sessions") { Content = JsonContent.Create(new { title = "bench" }) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request);
            response.EnsureSuccessStatusCode();
            return (await response.Content.ReadFromJsonAsync<JsonObject>())!["session"]!["id"]!.GetValue<string>();
        }
        // Without the sessions routes: a session record as the sessions slice keeps it (what the hub checks).
        var sessionId = Guid.CreateVersion7().ToString("N");
        await db.HashSetAsync(Keys.Session(userId, sessionId), [new("id", sessionId), new("userId", userId), new("title", "bench")]);
        return sessionId;
    }

    /// <summary>The id of the message a post answered (<c>messageData.id</c>), read in one pass.</summary>
    static Guid? MessageId(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        var inMessageData = false;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1)
                inMessageData = reader.ValueTextEquals("messageData");
            else if (inMessageData && reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 2 && reader.ValueTextEquals("id"))
            {
                reader.Read();
                return Guid.TryParse(reader.ValueSpan, out var id) ? id : null;
            }
        }
        return null;
    }

    static double UnixMs() => (DateTime.UtcNow - DateTime.UnixEpoch).TotalMilliseconds;

    /// <summary>User + system CPU seconds of a process so far (from /proc; 0 when not given).</summary>
    static double CpuSeconds(int pid)
    {
        if (pid <= 0 || !File.Exists($"/proc/{pid}/stat")) return 0;
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state): utime is field 14, stime field 15, in clock ticks (100 per second here).
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(1)) : "?";

    static long Rss(int pid)
    {
        if (pid <= 0) return 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        return 0;
    }


    /// <summary>One connected device: reads every frame and notes when each message_created arrived.</summary>
    sealed class Device : IDisposable
    {
        readonly ClientWebSocket _socket;
        /// <summary>Its message_created frames: when each was read, and the event's own timestamp.</summary>
        List<(Guid Id, long At, long AppendedMs, double ReadWall)> Arrivals { get; } = new(16);

        public (Guid Id, long At, long AppendedMs, double ReadWall)[] ArrivalsSoFar() { lock (Arrivals) return [.. Arrivals]; }
        int _messageFrames;
        public int MessageFrames => Volatile.Read(ref _messageFrames);
        public WebSocketCloseStatus? ClosedWith { get; private set; }

        Device(ClientWebSocket socket) => _socket = socket;

        public static async Task<Device> Open(string url, User user)
        {
            var socket = new ClientWebSocket();
            var ws = url.Replace("http://", "ws://", StringComparison.Ordinal);
            // As the web page does: the token in the first frame, not in the address (which the server keeps per socket).
            await socket.ConnectAsync(new Uri($"{ws}/ws/{user.SessionId}"), CancellationToken.None);
            await socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(new { type = "auth", payload = new { token = user.Token } }),
                WebSocketMessageType.Text, true, CancellationToken.None);
            var device = new Device(socket);
            _ = device.ReadLoop();
            return device;
        }

        async Task ReadLoop()
        {
            // A frame fits the buffer; a longer one (none of the bench's) is put together in a stream.
            var buffer = new byte[4096];
            var message = new MemoryStream();
            try
            {
                while (true)
                {
                    var result = await _socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                    var at = Stopwatch.GetTimestamp();
                    var readWall = UnixMs();
                    if (result.MessageType == WebSocketMessageType.Close) { ClosedWith = _socket.CloseStatus; return; }
                    if (!result.EndOfMessage || message.Length > 0)
                    {
                        message.Write(buffer, 0, result.Count);
                        if (!result.EndOfMessage) continue;
                    }
                    var frame = MessageCreated(message.Length > 0 ? message.GetBuffer().AsSpan(0, (int)message.Length) : buffer.AsSpan(0, result.Count));
                    message.SetLength(0);
                    if (frame is not var (id, appended)) continue;
                    lock (Arrivals) Arrivals.Add((id, at, appended, readWall));
                    Interlocked.Increment(ref _messageFrames);
                }
            }
            catch (WebSocketException)
            {
                ClosedWith ??= WebSocketCloseStatus.InternalServerError;
            }
        }

        public void Dispose() => _socket.Dispose();

        // The bench shares the app's 2 cores: a frame is read with one forward pass for what the figures need
        // (its type, the message id, the timestamp), not into a DOM (that cost the bench more CPU than the app's fan-out).
        static (Guid Id, long AppendedMs)? MessageCreated(ReadOnlySpan<byte> json)
        {
            var reader = new Utf8JsonReader(json);
            Guid? id = null;
            DateTimeOffset? timestamp = null;
            var depth = 0;
            var inMessageData = false;
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        depth++;
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        depth--;
                        if (depth == 2) inMessageData = false;
                        break;
                    case JsonTokenType.PropertyName when depth == 1 && reader.ValueTextEquals("type"):
                        reader.Read();
                        if (!reader.ValueTextEquals("message_created")) return null;
                        break;
                    case JsonTokenType.PropertyName when depth == 1 && reader.ValueTextEquals("timestamp"):
                        reader.Read();
                        timestamp = reader.GetDateTimeOffset();
                        break;
                    case JsonTokenType.PropertyName when depth == 2 && reader.ValueTextEquals("messageData"):
                        inMessageData = true;
                        break;
                    case JsonTokenType.PropertyName when depth == 3 && inMessageData && reader.ValueTextEquals("id"):
                        reader.Read();
                        id = Guid.TryParse(reader.ValueSpan, out var g) ? g : null;
                        break;
                }
            }
            return id is { } i && timestamp is { } t ? (i, t.ToUnixTimeMilliseconds()) : null;
        }
    }

    sealed record Options(string Url, string Redis, int Pid, int RedisPid, int Users, int Devices, int Rate, int Seconds, string Mode, string? Out)
    {
        public static Options Parse(string[] args)
        {
            string? Get(string name) { var i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
            return new Options(
                Get("--url") ?? "http://127.0.0.1:3195",
                Get("--redis") ?? "127.0.0.1:6396",
                int.Parse(Get("--pid") ?? "0", CultureInfo.InvariantCulture),
                int.Parse(Get("--redis-pid") ?? "0", CultureInfo.InvariantCulture),
                int.Parse(Get("--users") ?? "250", CultureInfo.InvariantCulture),
                int.Parse(Get("--devices") ?? "4", CultureInfo.InvariantCulture),
                int.Parse(Get("--rate") ?? "500", CultureInfo.InvariantCulture),
                int.Parse(Get("--seconds") ?? "20", CultureInfo.InvariantCulture),
                Get("--mode") ?? "http",
                Get("--out"));
        }
    }
}
