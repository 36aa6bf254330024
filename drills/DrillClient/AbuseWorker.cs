using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using StackExchange.Redis;

namespace DrillClient;

/// <summary>What the worker saw in one phase, with Redis's PING time as the machine's yardstick.</summary>
sealed class Phase
{
    public string Name { get; init; } = "";
    public List<Outcome> Outcomes { get; init; } = [];
    public List<double> Pings { get; init; } = [];
    public DateTimeOffset From { get; init; }
    public DateTimeOffset To { get; init; }
    public double AppCores { get; init; }
    public double WorkerCores { get; init; }
    public double Load { get; init; }
    public int Posted { get; init; }

    /// <summary>The attacker's process (the drill's own), measured around the phase.</summary>
    public double AttackerCores { get; set; }

    [JsonIgnore] public double P99 => Stats.Percentile(Outcomes.Select(r => r.Ms).ToList(), 0.99);
    [JsonIgnore] public List<double> ServerMs { get; } = [];
    [JsonIgnore] public double ServerP99 => Stats.Percentile(ServerMs, 0.99);

    public override string ToString() =>
        $"{Name}: worker {Outcomes.Count} requests, p50 {Report.Ms(Stats.Percentile(Outcomes.Select(r => r.Ms).ToList(), 0.5))}, " +
        $"p99 {Report.Ms(P99)}, max {Report.Ms(Outcomes.Select(r => r.Ms).DefaultIfEmpty().Max())}; in the app (request log) p99 {ServerP99:F1} ms of {ServerMs.Count}; " +
        $"Redis PING from the worker p99 {Stats.Percentile(Pings, 0.99):F1} ms; cores used: app {AppCores:F2}, attacker {AttackerCores:F2}, worker {WorkerCores:F2}; " +
        $"load average {Load:F1}";
}

/// <summary>
/// The abuse drill's worker in a process of its own (<c>DrillClient abuse-worker</c>), so the attacker's 250 loops
/// in the drill's process cannot starve the client whose latency is judged. It reads one line per phase on stdin,
/// <c>NAME SECONDS</c>, works for that long and answers the <see cref="Phase"/> as one JSON line on stdout.
/// </summary>
static class AbuseWorker
{
    public const string WorkerAddress = "127.0.0.10";
    static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static async Task<int> Run(Options o)
    {
        // Its connection is kept as a browser keeps one: opened in the warm-up, never recycled during the drill.
        var api = new Api(o.Url, TimeSpan.FromSeconds(30), WorkerAddress, connectionLifetime: Timeout.InfiniteTimeSpan);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(o.Redis);
        while (await Console.In.ReadLineAsync() is { } line && line.Split(' ') is [var name, var seconds])
        {
            var phase = await Working(name, api, o.Token, o.Session, double.Parse(seconds, CultureInfo.InvariantCulture), redis, o.AppPid);
            Console.WriteLine(JsonSerializer.Serialize(phase, JsonOptions));
        }
        return 0;
    }

    /// <summary>The worker's day: list, read a page, post, read the profile, a request every 100 ms.</summary>
    static async Task<Phase> Working(string name, Api api, string token, string sessionId, double seconds, ConnectionMultiplexer redis, int? appPid)
    {
        var from = DateTimeOffset.UtcNow;
        var (cpuFrom, wallFrom, ownFrom) = (AppCpuSeconds(appPid), Clock.Ms, Environment.CpuUsage.TotalTime.TotalSeconds);
        var until = Clock.Ms + seconds * 1000;
        var pings = new List<double>();
        var pinging = Task.Run(async () =>
        {
            var db = redis.GetDatabase();
            while (Clock.Ms < until)
            {
                pings.Add((await db.PingAsync()).TotalMilliseconds);
                await Task.Delay(50);
            }
        });
        var outcomes = new List<Outcome>();
        var posted = 0;
        for (var i = 0; Clock.Ms < until; i++)
        {
            var r = (i % 4) switch
            {
                0 => await api.Get("/api/sessions", token),
                1 => await api.Get($"/api/sessions/{sessionId}/messages?limit=50", token, "GET messages"),
                2 => await api.Post($"/api/sessions/{sessionId}/messages", token, new { role = "user", text = $"note {i}", imageIds = Array.Empty<string>() }, "POST message"),
                _ => await api.Get("/api/auth/me", token),
            };
            if (i % 4 == 2 && r.Status == 201) posted++;
            outcomes.Add(r with { Body = null });
            await Task.Delay(100);
        }
        await pinging;
        var wall = (Clock.Ms - wallFrom) / 1000;
        return new Phase
        {
            Name = name, Outcomes = outcomes, Pings = pings, From = from, To = DateTimeOffset.UtcNow, Posted = posted,
            AppCores = (AppCpuSeconds(appPid) - cpuFrom) / wall,
            WorkerCores = (Environment.CpuUsage.TotalTime.TotalSeconds - ownFrom) / wall,
            Load = LoadAverage(),
        };
    }

    /// <summary>A process's CPU time so far (user + system, from /proc), 0 when its pid is not known.</summary>
    static double AppCpuSeconds(int? pid)
    {
        if (pid is null || !File.Exists($"/proc/{pid}/stat")) return 0;
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // utime and stime are fields 14 and 15 of the line (11 and 12 after the command name), in clock ticks of 1/100 s.
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>The machine's one-minute load average (runnable threads; this machine has 2 cores).</summary>
    static double LoadAverage() => File.Exists("/proc/loadavg")
        ? double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture) : double.NaN;
}

/// <summary>The drill's side of the worker process: starts it, hands it each phase and reads back what it saw.</summary>
sealed class WorkerProcess : IAsyncDisposable
{
    static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
    readonly Process _process;

    WorkerProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    public static WorkerProcess Start(Options o, Account a, string sessionId)
    {
        // `dotnet DrillClient.dll` or the apphost: the worker is started the same way as this process.
        var host = Environment.ProcessPath!;
        var args = new List<string>();
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") args.Add(typeof(AbuseWorker).Assembly.Location);
        args.AddRange(["abuse-worker", "--url", o.Url, "--redis", o.Redis, "--token", a.Token, "--session", sessionId]);
        if (o.AppPid is { } pid) args.AddRange(["--app-pid", pid.ToString(CultureInfo.InvariantCulture)]);
        var start = new ProcessStartInfo(host, args) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        return new WorkerProcess(Process.Start(start)!);
    }

    public async Task<Phase> Run(string name, double seconds)
    {
        var cpuFrom = Environment.CpuUsage.TotalTime.TotalSeconds;
        var wallFrom = Clock.Ms;
        await _process.StandardInput.WriteLineAsync(FormattableString.Invariant($"{name} {seconds}"));
        await _process.StandardInput.FlushAsync();
        string? line;
        var other = new List<string>();
        while ((line = await _process.StandardOutput.ReadLineAsync()) is not null && !line.StartsWith('{')) other.Add(line);
        if (line is null)
            throw new InvalidOperationException($"the worker process ended: {string.Join(" ", other).Trim()}");
        var phase = JsonSerializer.Deserialize<Phase>(line, JsonOptions)!;
        phase.AttackerCores = (Environment.CpuUsage.TotalTime.TotalSeconds - cpuFrom) / ((Clock.Ms - wallFrom) / 1000);
        return phase;
    }

    public async ValueTask DisposeAsync()
    {
        _process.StandardInput.Close();
        if (!_process.WaitForExit(10_000)) _process.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
