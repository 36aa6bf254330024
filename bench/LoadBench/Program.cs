using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using StackExchange.Redis;

namespace LoadBench;

/// <summary>
/// HTTP load on the hot routes of a running app, with wrk, next to a baseline app (bench/Baseline: Kestrel
/// and one Redis GET) on the same Redis. Seeds real data over the API first, then for each target: a
/// warm-up run, a measured run with --latency, the CPU the server process and Redis used in between
/// (from /proc/&lt;pid&gt;/stat), and the ratio of its requests/s to the baseline's. Writes "## Load" into
/// docs/BENCHMARKS.md. bench/load.sh starts everything and runs this.
/// </summary>
static class Program
{
    const string Password = "benchmark password 1";

    static async Task<int> Main(string[] args)
    {
        var o = Options.Parse(args);
        var http = new HttpClient { BaseAddress = new Uri(o.Url), Timeout = TimeSpan.FromSeconds(60) };
        var started = DateTime.UtcNow;
        var loadBefore = LoadAverage();

        Console.WriteLine($"seeding: {o.Users} users, {o.Sessions} sessions, a session of {o.Messages} messages...");
        var seed = await Seed(http, o);
        var redis = await ConnectionMultiplexer.ConnectAsync(o.Redis + ",allowAdmin=true");
        var db = redis.GetDatabase();
        // The baseline's value: what GET /api/sessions/:id answers for the read session (one small JSON record).
        var sessionJson = await Get(http, seed.Token, $"/api/sessions/{seed.ReadSession}");
        await db.StringSetAsync(o.BaselineKey, sessionJson);
        var redisInfo = await redis.GetServers()[0].InfoAsync("server");
        var redisVersion = redisInfo.SelectMany(g => g).FirstOrDefault(kv => kv.Key == "redis_version").Value ?? "?";
        var dbsize = await redis.GetServers()[0].DatabaseSizeAsync();
        Console.WriteLine($"seeded: {dbsize} Redis keys");

        var readPath = $"/api/sessions/{seed.ReadSession}/messages?limit=50&offset={Math.Max(0, o.Messages - 50)}";
        // The same answers for the baseline's equal-size rows: the page and the list, each from one GET.
        var pageJson = await Get(http, seed.Token, readPath);
        var listJson = await Get(http, seed.Token, "/api/sessions");
        await db.StringSetAsync($"{o.BaselineKey}:page", pageJson);
        await db.StringSetAsync($"{o.BaselineKey}:list", listJson);
        var postPath = $"/api/sessions/{seed.PostSession}/messages";
        var postBody = JsonSerializer.Serialize(new { role = "user", text = "a lighthouse on a cliff at sunset, watercolor, soft light", imageIds = Array.Empty<string>() });
        var loginBody = JsonSerializer.Serialize(new { email = seed.LoginEmail, password = Password });

        var targets = new List<Target>
        {
            new("baseline", "`GET /` on bench/Baseline (one Redis `GET`)", o.BaselineUrl, "/", "GET", null, false, o.BaselinePid, o.Connections),
            new("baseline-page", "`GET /page` on bench/Baseline: the message page's JSON from one Redis `GET`", o.BaselineUrl, "/page", "GET", null, false, o.BaselinePid, o.Connections),
            new("baseline-list", "`GET /list` on bench/Baseline: the session list's JSON from one Redis `GET`", o.BaselineUrl, "/list", "GET", null, false, o.BaselinePid, o.Connections),
            new("session", "`GET /api/sessions/:id` (one record: like for like with the baseline)", o.Url, $"/api/sessions/{seed.ReadSession}", "GET", null, true, o.AppPid, o.Connections) { Twin = "baseline" },
            new("read", "`GET /api/sessions/:id/messages?limit=50&offset=" + Math.Max(0, o.Messages - 50) + "` (newest page of 50, session of " + o.Messages.ToString("N0", CultureInfo.InvariantCulture) + ")",
                o.Url, readPath, "GET", null, true, o.AppPid, o.Connections) { Twin = "baseline-page" },
            new("read-miss", "the same page, each request with a query of its own (never answered from the read cache: the first read after a change)",
                o.Url, readPath, "GET", null, true, o.AppPid, o.Connections) { Unique = true, Twin = "baseline-page" },
            new("list", "`GET /api/sessions` (first page: 20 of " + o.Sessions + ")", o.Url, "/api/sessions", "GET", null, true, o.AppPid, o.Connections) { Twin = "baseline-list" },
            new("list-miss", "the same list, each request with a query of its own (never answered from the read cache)",
                o.Url, "/api/sessions", "GET", null, true, o.AppPid, o.Connections) { Unique = true, Twin = "baseline-list" },
            new("post", "`POST /api/sessions/:id/messages` (a 10-word user message)", o.Url, postPath, "POST", postBody, true, o.AppPid, o.Connections),
            new("login", "`POST /api/auth/login` (PBKDF2-SHA256, 600,000 iterations)", o.Url, "/api/auth/login", "POST", loginBody, false, o.AppPid, o.LoginConnections),
        };

        var runs = new Dictionary<string, List<Result>>();
        var ratios = new Dictionary<string, List<double>>();
        var twinRatios = new Dictionary<string, List<double>>();
        for (var round = 1; round <= o.Rounds; round++)
        foreach (var t in targets)
        {
            if (o.Only is { } only && !only.Contains(t.Name)) continue;
            if (t.Name == "login" && round > 1) continue; // CPU-bound by design: one round says it all
            var token = t.Auth ? await Login(http, seed.MainEmail) : null; // fresh for each target: tokens live 15 minutes
            var script = WriteScript(o.Work, t, token);
            await Check(t, token);
            await Settle(o.AppPid);
            if (round == 1 && o.Warmup > 0) await Wrk(o, t, script, o.Warmup, measured: false);
            await Settle(o.AppPid);
            var r = await Measure(o, t, script, redis);
            Console.WriteLine($"round {round} {t.Name}: {r.RequestsPerSecond:F0} req/s, p50 {r.P50Ms:F2} ms, p99 {r.P99Ms:F2} ms, " +
                $"server CPU {r.ServerCpuPercent:F0} %, Redis CPU {r.RedisCpuPercent:F0} %, errors {r.Errors}, machine busy {r.MachineBusyPercent:F0} %");
            if (!runs.TryGetValue(t.Name, out var list)) runs[t.Name] = list = [];
            list.Add(r);
            // Each route against the baseline of its own round: the machine's speed drifts between rounds.
            if (runs.TryGetValue("baseline", out var b) && b.Count == round)
                (ratios.TryGetValue(t.Name, out var rl) ? rl : ratios[t.Name] = []).Add(r.RequestsPerSecond / b[^1].RequestsPerSecond);
            if (t.Twin is { } twin && runs.TryGetValue(twin, out var tb) && tb.Count == round)
                (twinRatios.TryGetValue(t.Name, out var tl) ? tl : twinRatios[t.Name] = []).Add(r.RequestsPerSecond / tb[^1].RequestsPerSecond);
        }
        // The median round of each route (by requests/s), and the median of its ratios.
        var best = runs.ToDictionary(kv => kv.Key, kv => kv.Value.OrderBy(r => r.RequestsPerSecond).ElementAt(kv.Value.Count / 2));
        var ratio = ratios.ToDictionary(kv => kv.Key, kv => kv.Value.Order().ElementAt(kv.Value.Count / 2));
        var twinRatio = twinRatios.ToDictionary(kv => kv.Key, kv => kv.Value.Order().ElementAt(kv.Value.Count / 2));

        var report = Report(o, targets, best, ratio, twinRatio, seed, started, loadBefore, LoadAverage(), redisVersion, dbsize, Encoding.UTF8.GetByteCount(sessionJson));
        Console.WriteLine();
        Console.WriteLine(report);
        if (o.Out is { } path) BenchShared.BenchmarksDoc.WriteSection(path, "## Load", report);
        return runs.Values.SelectMany(r => r).Any(r => r.Errors > 0) ? 1 : 0;
    }

    sealed record Target(string Name, string Label, string BaseUrl, string Path, string Method, string? Body, bool Auth, int Pid, int Connections)
    {
        /// <summary>Each request gets a query parameter of its own, so no two requests share a cached answer.</summary>
        public bool Unique { get; init; }
        /// <summary>The baseline row that serves the same answer (same bytes) from one GET.</summary>
        public string? Twin { get; init; }
    }

    sealed record Result(long Requests, double Seconds, long Bytes, double P50Ms, double P99Ms, double MaxMs, long Errors, string ErrorText,
        double ServerCpuSeconds, double RedisCpuSeconds, double MachineBusyPercent, long RedisCommands)
    {
        public double RedisCommandsPerRequest => RedisCommands / (double)Math.Max(1, Requests);
        public double RequestsPerSecond => Requests / Seconds;
        public double ServerCpuPercent => ServerCpuSeconds / Seconds * 100;
        public double RedisCpuPercent => RedisCpuSeconds / Seconds * 100;
        public double ServerCpuUsPerRequest => ServerCpuSeconds * 1e6 / Math.Max(1, Requests);
        public double RedisCpuUsPerRequest => RedisCpuSeconds * 1e6 / Math.Max(1, Requests);
    }

    // ---------- seeding ----------

    sealed record Seeded(string MainEmail, string Token, string LoginEmail, string ReadSession, string PostSession, int TotalMessages, int TotalSessions);

    static readonly string[] Subjects = ["a lighthouse", "a red fox", "the old harbour", "a tea house", "a mountain lake", "two cats",
        "a night market", "a paper boat", "the city skyline", "a sunflower field", "a vintage car", "an astronaut", "a bakery window"];
    static readonly string[] Styles = ["watercolor", "oil painting", "pixel art", "studio photo", "isometric 3D", "ink sketch", "film grain", "anime style"];
    static readonly string[] Details = ["at sunset", "in the rain", "under neon lights", "in winter", "at golden hour", "from above",
        "with soft shadows", "on a foggy morning", "with a warm palette", "in spring"];
    static readonly string[] Replies = ["Here is the image with", "I made it brighter and added", "Done: the new version keeps the framing and adds",
        "This variation uses", "I changed the background to"];
    static readonly string[] Cjk = ["把背景换成海滩，保持人物不变", "夕焼けの空と海、水彩画風", "请把这张图变成油画风格", "猫をもう一匹追加してください"];

    static string UserText(Random rng) => rng.Next(10) == 0 ? Cjk[rng.Next(Cjk.Length)]
        : $"{Subjects[rng.Next(Subjects.Length)]} {Details[rng.Next(Details.Length)]}, {Styles[rng.Next(Styles.Length)]}" +
          (rng.Next(3) == 0 ? $", make it {Details[rng.Next(Details.Length)]} and keep the composition simple" : "");

    static string AssistantText(Random rng) =>
        $"{Replies[rng.Next(Replies.Length)]} {Details[rng.Next(Details.Length)]} in a {Styles[rng.Next(Styles.Length)]} look. " +
        $"Tell me if you want {Subjects[rng.Next(Subjects.Length)]} in the foreground or a different aspect ratio.";

    static async Task<Seeded> Seed(HttpClient http, Options o)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        // Registration hashes a password (PBKDF2, 600,000 iterations): two at a time on two cores.
        using var regGate = new SemaphoreSlim(2);
        var users = await Task.WhenAll(Enumerable.Range(0, o.Users).Select(async i =>
        {
            await regGate.WaitAsync();
            try
            {
                var email = $"load{i}.{run}@example.com";
                var body = await Send(http, null, HttpMethod.Post, "/api/auth/register",
                    new { email, username = $"load{i}_{run}", password = Password });
                return (Email: email, Token: body["token"]!.GetValue<string>());
            }
            finally { regGate.Release(); }
        }));
        var main = users[0];
        var rng = new Random(7);
        var totalMessages = 0;
        var totalSessions = 0;

        async Task<string> NewSession(string token, string? title)
        {
            Interlocked.Increment(ref totalSessions);
            var s = await Send(http, token, HttpMethod.Post, "/api/sessions", title is null ? new { } : new { title });
            return s["session"]!["id"]!.GetValue<string>();
        }

        async Task Fill(string token, string session, int count, int parallel)
        {
            // Conversation order: user, assistant, user... sent in chunks so most of the order holds.
            var texts = Enumerable.Range(0, count).Select(i => i % 2 == 0
                ? new { role = "user", text = UserText(rng), imageIds = Array.Empty<string>(), @params = (object?)null }
                : new { role = "assistant", text = AssistantText(rng), imageIds = Array.Empty<string>(),
                        @params = (object?)new { model = "nano-banana", aspectRatio = "1:1", seed = rng.Next(1_000_000) } }).ToList();
            for (var i = 0; i < texts.Count; i += parallel)
                await Task.WhenAll(texts.Skip(i).Take(parallel).Select(m =>
                    Send(http, token, HttpMethod.Post, $"/api/sessions/{session}/messages", m)));
            Interlocked.Add(ref totalMessages, count);
        }

        // The read session first (it sinks below the others in the list), then the rest of the main user's.
        var read = await NewSession(main.Token, null);
        await Fill(main.Token, read, o.Messages, 16);
        for (var i = 0; i < o.Sessions - 2; i++) await Fill(main.Token, await NewSession(main.Token, null), 4, 4);
        var post = await NewSession(main.Token, "load: posts");
        // Other people's data in the same Redis: a few sessions each.
        foreach (var u in users.Skip(1))
            for (var s = 0; s < 3; s++) await Fill(u.Token, await NewSession(u.Token, null), 10, 10);
        return new Seeded(main.Email, main.Token, users.Length > 1 ? users[1].Email : main.Email, read, post, totalMessages, totalSessions);
    }

    static async Task<JsonObject> Send(HttpClient http, string? token, HttpMethod method, string path, object body)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{method} {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    static async Task<string> Get(HttpClient http, string token, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {text}");
        return text;
    }

    static async Task<string> Login(HttpClient http, string email) =>
        (await Send(http, null, HttpMethod.Post, "/api/auth/login", new { email, password = Password }))["token"]!.GetValue<string>();

    /// <summary>One request as wrk will send it: a 2xx, or the run stops here (a wrong id, a 429...).</summary>
    static async Task Check(Target t, string? token)
    {
        using var http = new HttpClient { BaseAddress = new Uri(t.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(new HttpMethod(t.Method), t.Path);
        if (t.Body is not null) request.Content = new StringContent(t.Body, Encoding.UTF8, "application/json");
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{t.Name}: {t.Method} {t.Path} answered {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    // ---------- wrk ----------

    static string WriteScript(string work, Target t, string? token)
    {
        var lua = new StringBuilder();
        lua.AppendLine($"wrk.method = \"{t.Method}\"");
        if (t.Body is not null)
        {
            lua.AppendLine($"wrk.body = [==[{t.Body}]==]");
            lua.AppendLine("wrk.headers[\"Content-Type\"] = \"application/json\"");
        }
        if (token is not null) lua.AppendLine($"wrk.headers[\"Authorization\"] = \"Bearer {token}\"");
        if (t.Unique)
        {
            var separator = t.Path.Contains('?') ? "&" : "?";
            // wrk's Lua seeds math.random the same way every run: the run's own prefix (wrk's argument after --)
            // keeps the warm-up's and other rounds' queries from coming back as second reads the cache admits.
            lua.AppendLine($$"""
                local n = 0
                local run = ""
                init = function(args) run = args[1] end
                request = function()
                  n = n + 1
                  return wrk.format(nil, "{{t.Path}}{{separator}}n=" .. run .. "-" .. n)
                end
                """);
        }
        // One machine-readable line at the end; latencies are in microseconds.
        lua.AppendLine("""
            done = function(summary, latency, requests)
              local e = summary.errors
              io.write(string.format("WRK_RESULT %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\n",
                summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99), latency.max,
                e.connect, e.read, e.write, e.status, e.timeout))
            end
            """);
        var path = Path.Combine(work, $"{t.Name}.lua");
        File.WriteAllText(path, lua.ToString());
        return path;
    }

    static async Task<string> Wrk(Options o, Target t, string script, int seconds, bool measured)
    {
        var timeout = t.Name == "login" ? 30 : 10;
        var psi = new ProcessStartInfo("wrk")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "-t", o.Threads.ToString(CultureInfo.InvariantCulture), "-c", t.Connections.ToString(CultureInfo.InvariantCulture),
                     "-d", $"{seconds}s", "--timeout", $"{timeout}s", "--latency", "-s", script, t.BaseUrl + t.Path, "--", Guid.NewGuid().ToString("N") })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        var text = await stdout + await stderr;
        if (measured) File.WriteAllText(Path.Combine(o.Work, $"{t.Name}.wrk.txt"), text);
        if (p.ExitCode != 0) throw new InvalidOperationException($"wrk failed for {t.Name}: {text}");
        return text;
    }

    static async Task<Result> Measure(Options o, Target t, string script, IConnectionMultiplexer redis)
    {
        var commands0 = await RedisCommands(redis);
        var server0 = CpuSeconds(t.Pid);
        var redis0 = CpuSeconds(o.RedisPid);
        var machine0 = MachineTicks();
        var text = await Wrk(o, t, script, o.Seconds, measured: true);
        var server1 = CpuSeconds(t.Pid);
        var redis1 = CpuSeconds(o.RedisPid);
        var machine1 = MachineTicks();
        var commands = await RedisCommands(redis) - commands0;
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("WRK_RESULT ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"no result line from wrk for {t.Name}: {text}");
        var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var errors = (long)(f[6] + f[7] + f[8] + f[9] + f[10]);
        var errorText = errors == 0 ? "0" : $"connect {f[6]}, read {f[7]}, write {f[8]}, non-2xx {f[9]}, timeout {f[10]}";
        var busy = (machine1.Total - machine0.Total) == 0 ? 0
            : 100.0 * ((machine1.Total - machine1.Idle) - (machine0.Total - machine0.Idle)) / (machine1.Total - machine0.Total);
        return new Result((long)f[0], f[1] / 1e6, (long)f[2], f[3] / 1000, f[4] / 1000, f[5] / 1000, errors, errorText,
            server1 - server0, redis1 - redis0, busy, commands);
    }

    /// <summary>Commands Redis has run (INFO commandstats: a script counts once, plus each command it calls).</summary>
    static async Task<long> RedisCommands(IConnectionMultiplexer redis)
    {
        var info = await redis.GetServers()[0].InfoAsync("commandstats");
        long calls = 0;
        foreach (var kv in info.SelectMany(g => g))
        {
            // cmdstat_get: calls=12,usec=...
            var part = kv.Value.Split(',').FirstOrDefault(x => x.StartsWith("calls=", StringComparison.Ordinal));
            if (part is not null && !kv.Key.Contains("info", StringComparison.Ordinal)) calls += long.Parse(part[6..], CultureInfo.InvariantCulture);
        }
        return calls;
    }

    /// <summary>Waits (at most 15 s) until the app is idle: the fan-out of the posts drains before the next target.</summary>
    static async Task Settle(int pid)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(15))
        {
            var before = CpuSeconds(pid);
            await Task.Delay(500);
            if ((CpuSeconds(pid) - before) / 0.5 < 0.05) return;
        }
    }

    // ---------- /proc ----------

    [DllImport("libc", EntryPoint = "sysconf")]
    static extern long SysConf(int name);
    static readonly double TicksPerSecond = SysConf(2 /* _SC_CLK_TCK */) is > 0 and var t ? t : 100;

    /// <summary>utime + stime of a process, in seconds (fields 14 and 15 of /proc/&lt;pid&gt;/stat).</summary>
    static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

    static (long Total, long Idle) MachineTicks()
    {
        var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal (guest time is already in user)
        var total = cpu.Take(8).Sum();
        return (total, cpu[3] + cpu[4]);
    }

    static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    static string Machine()
    {
        var model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        var memKb = long.Parse(File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        var kernel = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        return $"{Environment.ProcessorCount} vCPU {model}, {memKb / 1024 / 1024} GiB RAM, Linux {kernel}, .NET {Environment.Version}";
    }

    // ---------- report ----------

    static string Report(Options o, List<Target> targets, Dictionary<string, Result> best, Dictionary<string, double> ratio, Dictionary<string, double> twinRatio, Seeded seed, DateTime started,
        string loadBefore, string loadAfter, string redisVersion, long keys, int baselineBytes)
    {
        var baseline = best["baseline"];
        string Ms(double v) => v.ToString(v < 10 ? "F2" : v < 100 ? "F1" : "F0", CultureInfo.InvariantCulture);
        string N(double v) => v.ToString("N0", CultureInfo.InvariantCulture);
        string F1(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
        string Ratio(string name) => (ratio.TryGetValue(name, out var x) ? x : best[name].RequestsPerSecond / baseline.RequestsPerSecond).ToString("F2", CultureInfo.InvariantCulture);
        var rows = targets.Where(t => best.ContainsKey(t.Name)).ToList();
        var sb = new StringBuilder()
            .AppendLine("## Load")
            .AppendLine()
            .AppendLine($"Measured {started:yyyy-MM-dd HH:mm} UTC by `{o.Command}` on {Machine()}, Redis {redisVersion} on loopback; " +
                $"load average {loadBefore} at the start, {loadAfter} at the end. The app, the baseline, Redis and wrk share the same {Environment.ProcessorCount} cores. " +
                "The app runs as in production (Release, `ASPNETCORE_ENVIRONMENT=Production`, request log to the console and the log files, " +
                "OpenTelemetry without exporter, `API_DOCS=false`); the baseline is bench/Baseline: Kestrel and one route doing one " +
                "StackExchange.Redis `GET`, nothing else, on the same Redis.")
            .AppendLine()
            .AppendLine("| route | requests/s | vs baseline | vs the same answer from one `GET` | p50 ms | p99 ms | errors |")
            .AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var t in rows)
        {
            var r = best[t.Name];
            var twin = twinRatio.TryGetValue(t.Name, out var tr) ? $"**{tr.ToString("F2", CultureInfo.InvariantCulture)}**" : "";
            sb.AppendLine($"| {t.Label}, -c{t.Connections} | {N(r.RequestsPerSecond)} | **{(t.Name == "baseline" ? "1.00" : Ratio(t.Name))}** | {twin} | " +
                $"{Ms(r.P50Ms)} | {Ms(r.P99Ms)} | {r.ErrorText} |");
        }
        sb.AppendLine()
            .AppendLine("Cost of the same runs:")
            .AppendLine()
            .AppendLine("| route | server CPU | server CPU µs/request | Redis CPU | Redis CPU µs/request | Redis commands/request | bytes/response | machine busy |")
            .AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var t in rows)
        {
            var r = best[t.Name];
            sb.AppendLine($"| {t.Name} | {r.ServerCpuPercent:F0} % | {N(r.ServerCpuUsPerRequest)} | {r.RedisCpuPercent:F0} % | {N(r.RedisCpuUsPerRequest)} | " +
                $"{F1(r.RedisCommandsPerRequest)} | {N(r.Bytes / (double)Math.Max(1, r.Requests))} | {r.MachineBusyPercent:F0} % |");
        }
        var hot = new[] { ("read", "message page"), ("list", "session list") }.Where(h => best.ContainsKey(h.Item1))
            .Select(h => (h.Item2, ratio.TryGetValue(h.Item1, out var x) ? x : best[h.Item1].RequestsPerSecond / baseline.RequestsPerSecond)).ToList();
        var hotTwin = new[] { ("read", "message page"), ("list", "session list") }.Where(h => twinRatio.ContainsKey(h.Item1))
            .Select(h => (h.Item2, twinRatio[h.Item1])).ToList();
        sb.AppendLine()
            .AppendLine($"Target: the hot read routes at 50 % or more of the baseline's requests/s. This run, against the baseline's " +
                $"{N(baselineBytes)}-byte record: " + string.Join(", ", hot.Select(h => $"{h.Item1} {h.Item2 * 100:F0} %")) +
                (hot.All(h => h.Item2 >= 0.5) ? " (met)" : " (not met)") +
                (hotTwin.Count == 0 ? "." : "; against the baseline serving the same answer from one `GET`: " +
                    string.Join(", ", hotTwin.Select(h => $"{h.Item1} {h.Item2 * 100:F0} %")) + (hotTwin.All(h => h.Item2 >= 0.5) ? " (met)." : " (not met).")))
            .AppendLine()
            .AppendLine("How to read it:")
            .AppendLine($"- wrk {o.Threads} thread{(o.Threads == 1 ? "" : "s")} and {o.Connections} connections: on {Environment.ProcessorCount} cores wrk itself needs CPU, " +
                "so one thread; 32 connections keep the server busy without queueing much. " +
                $"{o.Seconds} s measured per route after a {o.Warmup} s warm-up (JIT, connection pools)" +
                (o.Rounds > 1 ? $", {o.Rounds} rounds, each opening with the baseline; a row gives its median round, and its ratio is the median of " +
                    "its per-round ratios to that round's baseline (the speed of this shared machine drifts by a fifth between minutes; login: one round)" : "") +
                ". Latency is wrk's (`--latency`), from connection to response.")
            .AppendLine("- Server CPU: utime + stime of the app's process (bench/Baseline's in the baseline row) from /proc/<pid>/stat over the measured run, " +
                "100 % = one core; per request = that CPU time divided by the requests answered. Redis the same for redis-server. " +
                "Redis commands/request: INFO commandstats over the run (a script counts once, plus every command it runs). " +
                $"Machine busy: the share of all {Environment.ProcessorCount} cores in use (wrk and anything else on the machine included).")
            .AppendLine("- Errors: wrk's connect/read/write errors, timeouts and non-2xx answers. The general rate limit (per user and per address, counted " +
                "in Redis) is raised for the run (`RATE_LIMIT_PER_USER` and `RATE_LIMIT_PER_ADDRESS` = 1,000,000,000 a minute) so that the figures are " +
                "throughput, not 429s. The limiter still runs on every `/api` request; it takes permits from Redis in batches of up to a twentieth " +
                "of the limit, so at this limit it rarely reaches Redis (at the default 1,200 a minute a busy user's instance goes to Redis every 60 requests at most).")
            .AppendLine("- `session` is the like-for-like row: one small record, through the whole stack (auth, rate limiter, request log). " +
                "The three reads (`session`, `read`, `list`) repeat one request, so after the first they are answered from the read cache " +
                "(docs/decisions.md, \"Read cache\"): one Redis `GET` of the user's event seq says the user's data has not changed, and the stored " +
                "answer is sent, as for a second device or a reload. The `-miss` rows give each request a query of its own, so every request is read " +
                "afresh, as the first read after a change is (each wrk run draws its queries under a prefix of its own: wrk's Lua repeats its random " +
                "numbers from run to run, and a repeated query is a second read the cache admits): the message page reads the stored JSON of 50 " +
                "messages (about 18 KB) in two round trips without a script (docs/decisions.md, \"Page reads\") through Wolverine and validation; the session list that of 20 sessions the same way. A post loads what it decides on (one in a row after the user's previous post decides on what that one committed: docs/decisions.md, \"Posts in a row\") and commits the " +
                "message with its two events (message_created, session_updated) in one script before answering.")
            .AppendLine("- Login is slow on purpose: PBKDF2-SHA256 with 600,000 iterations per password check (about a third of a second of one core here) makes " +
                $"guessing expensive. It is CPU-bound, so it runs with {o.LoginConnections} connections (one per core) and is not a hot read route; " +
                "its requests/s is the number of password checks these cores can do.")
            .AppendLine()
            .AppendLine($"Data, seeded over the API before the runs: {o.Users} users, {N(seed.TotalSessions)} sessions, {N(seed.TotalMessages)} messages " +
                $"({N(keys)} Redis keys with the search index); the user under load has {o.Sessions} sessions, one of {N(o.Messages)} messages " +
                "(chat-like prompts and replies, some Chinese and Japanese, replies with `params`). The baseline returns the JSON of " +
                $"`GET /api/sessions/:id` for that session ({N(baselineBytes)} bytes) from one Redis key. The raw wrk output of each route is left in `.data/bench-load/`.");
        return sb.ToString();
    }


    sealed class Options
    {
        public string Url = "http://127.0.0.1:3341";
        public string BaselineUrl = "http://127.0.0.1:3342";
        public string Redis = "127.0.0.1:6451";
        public string BaselineKey = "nb:bench:baseline";
        public int AppPid, BaselinePid, RedisPid;
        public int Seconds = 15, Warmup = 3, Threads = 1, Connections = 32, LoginConnections = 2, Rounds = 1;
        public int Users = 10, Sessions = 30, Messages = 1000;
        public string Work = ".data/bench-load";
        public string? Out;
        public HashSet<string>? Only; // a quick look at some routes: nothing written to --out
        public string Command = "bash bench/load.sh";

        public static Options Parse(string[] args)
        {
            var o = new Options();
            var extra = new List<string>();
            for (var i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
                var a = args[i];
                switch (a)
                {
                    case "--url": o.Url = Next(); break;
                    case "--baseline": o.BaselineUrl = Next(); break;
                    case "--redis": o.Redis = Next(); break;
                    case "--baseline-key": o.BaselineKey = Next(); break;
                    case "--app-pid": o.AppPid = Int(); break;
                    case "--baseline-pid": o.BaselinePid = Int(); break;
                    case "--redis-pid": o.RedisPid = Int(); break;
                    case "--work": o.Work = Next(); break;
                    case "--out": o.Out = Next(); break;
                    case "--only": o.Only = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]; break;
                    // The options bench/load.sh passes through: they belong in the reproduction command.
                    case "--seconds": o.Seconds = Int(); extra.Add($"{a} {o.Seconds}"); break;
                    case "--warmup": o.Warmup = Int(); extra.Add($"{a} {o.Warmup}"); break;
                    case "--threads": o.Threads = Int(); extra.Add($"{a} {o.Threads}"); break;
                    case "--connections": o.Connections = Int(); extra.Add($"{a} {o.Connections}"); break;
                    case "--login-connections": o.LoginConnections = Int(); extra.Add($"{a} {o.LoginConnections}"); break;
                    case "--rounds": o.Rounds = Int(); extra.Add($"{a} {o.Rounds}"); break;
                    case "--users": o.Users = Math.Max(2, Int()); extra.Add($"{a} {o.Users}"); break;
                    case "--sessions": o.Sessions = Math.Max(2, Int()); extra.Add($"{a} {o.Sessions}"); break;
                    case "--messages": o.Messages = Math.Max(1, Int()); extra.Add($"{a} {o.Messages}"); break;
                    default: throw new ArgumentException($"unknown option {a}");
                }
            }
            if (o.AppPid <= 0 || o.BaselinePid <= 0 || o.RedisPid <= 0) throw new ArgumentException("--app-pid, --baseline-pid and --redis-pid are required");
            if (o.Only is not null) o.Out = null;
            if (extra.Count > 0) o.Command += " " + string.Join(' ', extra);
            Directory.CreateDirectory(o.Work);
            return o;
        }
    }
}
