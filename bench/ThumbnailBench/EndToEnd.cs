// End to end: upload over HTTP -> image ready (image_ready on a WebSocket), against a running app (bench/thumbnails.sh
// starts it), next to sharp (bench/sharp/thumbnails.mjs) making the same two thumbnails from the same files in the same
// run. One uploader (each upload sent when the previous one's answer came) and two; images/s counted from the first
// upload's start to the last image_ready. Writes docs/BENCHMARKS.md "## Images".
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using NetVips;

static class EndToEnd
{
    const int Photos = 20;

    public static async Task Run(string root, string url, int appPid)
    {
        var photos = Path.Combine(root, "bench", "results", "photos-e2e");
        MakePhotos(photos);
        var files = Directory.GetFiles(photos, "*.jpg").Order().ToArray();
        var inputs = files.Select(File.ReadAllBytes).ToArray();
        var trials = int.Parse(Environment.GetEnvironmentVariable("BENCH_TRIALS") ?? "3", CultureInfo.InvariantCulture);
        Console.WriteLine($"{inputs.Length} photos, {inputs.Sum(i => i.Length) / 1048576.0:0.0} MiB, {trials} trials, app at {url}");

        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) };
        var name = "bench" + Guid.NewGuid().ToString("N")[..8];
        var registered = await http.PostAsJsonAsync("/api/auth/register",
            new { email = $"{name}@example.com", username = name, password = "benchmark password" });
        var reg = await registered.Content.ReadFromJsonAsync<JsonObject>();
        if ((int)registered.StatusCode != 201) throw new InvalidOperationException($"register: {(int)registered.StatusCode} {reg}");
        var token = reg!["token"]!.GetValue<string>();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var session = await (await http.PostAsJsonAsync("/api/sessions", new { title = "bench" })).EnsureSuccessStatusCode()
            .Content.ReadFromJsonAsync<JsonObject>();
        var sessionId = session!["session"]!["id"]!.GetValue<string>();

        await using var watch = await ReadyWatch.Open(url, sessionId, token);
        // Warm-up, the set twice with one uploader and twice with two: a server's steady state, its hot code at tier 1.
        foreach (var uploaders in new[] { 1, 2, 1, 2 }) await Upload(http, watch, sessionId, inputs, uploaders);
        Console.WriteLine("warmed up");

        var ours = new Dictionary<int, List<double>> { [1] = [], [2] = [] };
        var sharp = new Dictionary<int, List<double>> { [1] = [], [2] = [] };
        var oursCpu = new List<double>();
        var sharpCpu = new List<double>();
        JsonNode? versions = null;
        for (var trial = 0; trial < trials; trial++)
        foreach (var uploaders in new[] { 1, 2 })
        {
            var cpu = CpuMs(appPid);
            var where = CpuSplit.Start(appPid);
            ours[uploaders].Add(await Upload(http, watch, sessionId, inputs, uploaders));
            oursCpu.Add((CpuMs(appPid) - cpu) / inputs.Length);
            Console.WriteLine($"  {uploaders} at a time, ours: {where.Stop(inputs.Length)}");
            if (Environment.GetEnvironmentVariable("BENCH_OURS_ONLY") == "1") continue; // profiling the app: no sharp, no report
            var result = JsonNode.Parse(Exec("node", $"{Path.Combine(root, "bench", "sharp", "thumbnails.mjs")} {photos} {uploaders} 1 clone")
                .Trim().Split('\n').Last())!;
            sharp[uploaders].Add(result["perSecond"]!.GetValue<double>());
            sharpCpu.Add(result["cpuMsPerImage"]!.GetValue<double>());
            versions = result["sharp"];
            Console.WriteLine(FormattableString.Invariant(
                $"trial {trial + 1}, {uploaders} at a time: images/s (CPU ms/image) ours {ours[uploaders][^1]:0.00} ({oursCpu[^1]:0}), sharp {sharp[uploaders][^1]:0.00} ({sharpCpu[^1]:0})"));
        }
        if (Environment.GetEnvironmentVariable("BENCH_OURS_ONLY") == "1") return;
        if (watch.Failed.Count > 0) throw new InvalidOperationException($"{watch.Failed.Count} images failed: {watch.Failed.First()}");
        WriteReport(root, inputs, trials, ours, sharp, oursCpu.Min(), sharpCpu.Min(), versions?["sharp"]?.ToString() ?? "?", versions?["vips"]?.ToString() ?? "?");
    }

    /// <summary>Uploads every input with <paramref name="uploaders"/> clients, each sending its next upload when its previous answer came; images/s to the last image_ready.</summary>
    static async Task<double> Upload(HttpClient http, ReadyWatch watch, string sessionId, byte[][] inputs, int uploaders)
    {
        var next = -1;
        var ready = new ConcurrentBag<Task>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, uploaders).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < inputs.Length)
            {
                using var form = new MultipartFormDataContent();
                form.Add(new StringContent(sessionId), "sessionId");
                form.Add(new StringContent("uploaded"), "type");
                var file = new ByteArrayContent(inputs[i]);
                file.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
                form.Add(file, "image", $"photo{i:00}.jpg");
                using var response = await http.PostAsync("/api/images/upload", form);
                var body = await response.Content.ReadFromJsonAsync<JsonObject>();
                if ((int)response.StatusCode != 201) throw new InvalidOperationException($"upload: {(int)response.StatusCode} {body}");
                ready.Add(watch.Ready(body!["image"]!["id"]!.GetValue<string>()));
            }
        }));
        await Task.WhenAll(ready).WaitAsync(TimeSpan.FromMinutes(5));
        return inputs.Length / clock.Elapsed.TotalSeconds;
    }

    /// <summary>One socket on the session: completes each image's task on its image_ready (or image_failed).</summary>
    sealed class ReadyWatch : IAsyncDisposable
    {
        readonly ClientWebSocket _socket = new();
        readonly ConcurrentDictionary<string, TaskCompletionSource> _images = new();
        readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Task _reading = Task.CompletedTask;
        public ConcurrentBag<string> Failed { get; } = [];

        public static async Task<ReadyWatch> Open(string url, string sessionId, string token)
        {
            var watch = new ReadyWatch();
            await watch._socket.ConnectAsync(new Uri($"{url.Replace("http", "ws")}/ws/{sessionId}?token={Uri.EscapeDataString(token)}"), CancellationToken.None);
            watch._reading = watch.Read();
            await watch._connected.Task.WaitAsync(TimeSpan.FromSeconds(10));
            return watch;
        }

        // image_ready may come before the upload's answer: whichever comes first makes the image's task.
        TaskCompletionSource Of(string id) => _images.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        public Task Ready(string imageId) => Of(imageId).Task;

        async Task Read()
        {
            var buffer = new byte[256 * 1024];
            using var message = new MemoryStream();
            while (_socket.State == WebSocketState.Open)
            {
                var result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close) return;
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage) continue;
                using var doc = JsonDocument.Parse(message.GetBuffer().AsMemory(0, (int)message.Length));
                message.SetLength(0);
                var type = doc.RootElement.GetProperty("type").GetString();
                if (type == "connected") _connected.TrySetResult();
                if (type is not ("image_ready" or "image_failed")) continue;
                var image = doc.RootElement.GetProperty("payload").GetProperty("image");
                var id = image.GetProperty("id").GetString()!;
                if (type == "image_failed") Failed.Add($"{id}: {image.GetRawText()}");
                Of(id).TrySetResult();
            }
        }

        public async ValueTask DisposeAsync()
        {
            try { await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None); }
            catch (WebSocketException) { }
            await _reading.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
            _socket.Dispose();
        }
    }

    /// <summary>20 JPEGs of 4000x3000 (12 MP, quality 90): a smooth scene with mild sensor noise; every other one stored landscape with EXIF orientation 6 or 8.</summary>
    static void MakePhotos(string dir)
    {
        if (Directory.Exists(dir) && Directory.GetFiles(dir, "*.jpg").Length == Photos) return;
        Directory.CreateDirectory(dir);
        for (var i = 0; i < Photos; i++)
        {
            using var x = Image.Xyz(4000, 3000);
            using var gradient = (x[0] * (200.0 / 4000) + x[1] * (55.0 / 3000)).Cast(Enums.BandFormat.Uchar);
            using var noise = Image.Gaussnoise(4000, 3000, mean: 0, sigma: 6);
            using var r = gradient + noise;
            using var g = (gradient * 0.7 + i * 10) + noise;
            using var b = (255 - gradient) + noise;
            using var rgb = r.Bandjoin(g, b).Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
            using var tagged = i % 2 == 1 ? rgb.Mutate(m => m.Set(GValue.GIntType, "orientation", i % 4 == 1 ? 6 : 8)) : rgb.Copy();
            tagged.Jpegsave(Path.Combine(dir, $"photo{i:00}.jpg"), q: 90);
        }
    }

    /// <summary>
    /// Where a phase's CPU went: the machine's idle share of its cores, the bench client's own CPU, Redis's (its pid file
    /// under bench/results/redis), and the app's by thread name (libvips workers, the .NET thread pool, Kestrel...), per image.
    /// </summary>
    sealed class CpuSplit
    {
        int _pid;
        long _idle, _total;
        double _client, _redis, _app, _appSystem;
        Dictionary<string, double> _threads = [];
        readonly Stopwatch _clock = Stopwatch.StartNew();

        public static CpuSplit Start(int appPid)
        {
            var s = new CpuSplit { _pid = appPid };
            (s._idle, s._total) = Machine();
            s._client = Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
            s._redis = RedisPid() is { } redis ? CpuMs(redis) : 0;
            s._threads = Threads(appPid);
            s._app = CpuMs(appPid);
            s._appSystem = SystemMs(appPid);
            return s;
        }

        public string Stop(int images)
        {
            var (idle, total) = Machine();
            var client = Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds - _client;
            var redis = (RedisPid() is { } r ? CpuMs(r) : 0) - _redis;
            var threads = Threads(_pid);
            var app = CpuMs(_pid) - _app;
            var appSystem = SystemMs(_pid) - _appSystem;
            // Threads that ended during the phase: in the process's total, not in any thread's.
            threads["(ended)"] = app - threads.Sum(t => t.Value - _threads.GetValueOrDefault(t.Key));
            var byName = threads.Select(t => (t.Key, Ms: t.Value - _threads.GetValueOrDefault(t.Key))).Where(t => t.Ms >= images)
                .OrderByDescending(t => t.Ms).Select(t => FormattableString.Invariant($"{t.Key} {t.Ms / images:0.#}"));
            return FormattableString.Invariant(
                $"wall {_clock.Elapsed.TotalMilliseconds / images:0.#} ms/image, machine idle {100.0 * (idle - _idle) / Math.Max(1, total - _total):0.#} %, CPU ms/image: client {client / images:0.#}, redis {redis / images:0.#}, app {app / images:0.#} (system {appSystem / images:0.#}): ")
                + string.Join(", ", byName);
        }

        static (long Idle, long Total) Machine()
        {
            var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..].Select(long.Parse).ToArray();
            return (cpu[3] + cpu[4], cpu.Take(8).Sum());
        }

        static int? RedisPid()
        {
            var file = Path.Combine("bench", "results", "redis", "redis.pid");
            return File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), out var pid) ? pid : null;
        }

        // Thread names with their digits dropped ("vips-worker", ".NET TP Worker"): a kind of thread, summed.
        static Dictionary<string, double> Threads(int pid)
        {
            var sums = new Dictionary<string, double>();
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(task, "stat"));
                    var name = new string(stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')].Where(c => !char.IsDigit(c)).ToArray()).Trim();
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    var ms = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10.0;
                    sums[name] = sums.GetValueOrDefault(name) + ms;
                }
                catch (IOException) { } // the thread ended meanwhile
            }
            return sums;
        }
    }

    /// <summary>The process's CPU time so far (user + system), from /proc.</summary>
    static double CpuMs(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10.0; // 100 ticks a second
    }

    /// <summary>The process's system (kernel) CPU time so far: page faults, zeroed pages, socket and file copies.</summary>
    static double SystemMs(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[12], CultureInfo.InvariantCulture) * 10.0;
    }

    static string Exec(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var error = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {args} failed: {error.Result}");
        return output;
    }

    static void WriteReport(string root, byte[][] inputs, int trials, Dictionary<int, List<double>> ours, Dictionary<int, List<double>> sharp,
        double oursCpu, double sharpCpu, string sharpVersion, string vips)
    {
        var inv = CultureInfo.InvariantCulture;
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[..3];
        var settings = Environment.GetEnvironmentVariable("BENCH_APP_ENV") is { Length: > 0 } env ? $" with `{env}`" : "";
        var lines = new List<string>
        {
            "## Images",
            "",
            $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on this project's machine ({Environment.ProcessorCount} cores, load average {string.Join(' ', load)}",
            $"at the end, the run holding bench.lock) by `bash bench/thumbnails.sh`{settings}: the app (Release, local store, its own Redis) and",
            $"bench/ThumbnailBench/EndToEnd.cs. {inputs.Length} JPEGs of 4000x3000 (12 MP, quality 90, {inputs.Sum(i => (long)i.Length) / 1048576.0:0.0} MiB in all), every other one",
            "EXIF-rotated (orientation 6 or 8); each gives a 1024 px and a 256 px WebP (long side, EXIF orientation applied,",
            "metadata stripped, sRGB, quality 80, libvips' default WebP effort 4 on both sides).",
            "",
            "Ours: each upload `POST /api/images/upload` over HTTP, the next sent when the previous one's answer came (one",
            "uploader, or two side by side), timed from the first upload's start to the last `image_ready` on a WebSocket of",
            $"the session. Sharp {sharpVersion} (libvips {vips}), idiomatic: one `clone()` pipeline per size from the file's bytes",
            "(bench/sharp/thumbnails.mjs), one or two files at a time, in the same run, alternating with ours;",
            $"best of {trials} trials each, after a warm-up (ours: the set twice with one uploader and twice with two; the app",
            "published as the Dockerfile does, ReadyToRun, with the Dockerfile's runtime variables (allocator and GC); sharp: two images).",
            "",
            "| at a time | ours: upload -> ready, images/s | sharp: thumbnails alone, images/s | ours / sharp |",
            "| --- | --- | --- | --- |",
        };
        foreach (var k in new[] { 1, 2 })
            lines.Add(string.Format(inv, "| {0} | {1:0.00} | {2:0.00} | **{3:0.00}x** |", k, ours[k].Max(), sharp[k].Max(), ours[k].Max() / sharp[k].Max()));
        lines.Add("");
        lines.Add(string.Format(inv, "CPU per image (user + system, every thread; lowest trial): ours {0:0} ms, the whole app process from the upload's", oursCpu));
        lines.Add(string.Format(inv, "first byte to image_ready (HTTP, judging the bytes, store, Redis, queue, thumbnails, WebSocket); sharp {0:0} ms, the node process.", sharpCpu));
        BenchShared.BenchmarksDoc.WriteSection(Path.Combine(root, "docs", "BENCHMARKS.md"), "## Images", string.Join('\n', lines) + "\n");
        Console.WriteLine("Wrote docs/BENCHMARKS.md ## Images");
    }
}
