using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using StackExchange.Redis;

namespace HostileSweep;

/// <summary>
/// <c>dotnet HostileSweep.dll --url http://127.0.0.1:3321 --redis 127.0.0.1:6431 --jwt-secret ... [--subset] [--out file]</c>.
/// Exit code 0 when no rule was broken, 1 otherwise.
/// </summary>
public static class Cli
{
    public static async Task<int> Main(string[] args)
    {
        string? Get(string name) { var i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        var url = new Uri(Get("--url") ?? "http://127.0.0.1:3321");
        var redisEndpoint = Get("--redis");
        var hugeMiB = int.Parse(Get("--huge-mib") ?? "10", CultureInfo.InvariantCulture);

        using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(1) })
            { BaseAddress = url, Timeout = TimeSpan.FromSeconds(90) };
        ConnectionMultiplexer? redis = redisEndpoint is null ? null : await ConnectionMultiplexer.ConnectAsync($"{redisEndpoint},allowAdmin=true");
        var db = redis?.GetDatabase();

        var options = new SweepOptions
        {
            Http = http,
            Redis = db,
            JwtSecret = Get("--jwt-secret"),
            Full = !args.Contains("--subset"),
            HugeBytes = hugeMiB * 1024 * 1024,
            Raw = new RawHttp(url.Host, url.Port),
            OpenWebSocket = async (target, ct) =>
            {
                var socket = new ClientWebSocket();
                var uri = new Uri($"ws://{url.Authority}{target}", new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
                try
                {
                    await socket.ConnectAsync(uri, ct);
                    return socket;
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            // Thumbnails run in the background, as leased work: wait until no scope holds work.
            Settle = async action =>
            {
                await action();
                if (db is null) return;
                var waited = Stopwatch.StartNew();
                while (await WorkLeft(db) && waited.Elapsed < TimeSpan.FromSeconds(90))
                    await Task.Delay(200);
            },
            Log = line => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}"),
        };

        var report = await new Sweep(options).Run();
        var summary = report.Summary(maxViolations: 200, maxNotes: 60);
        Console.WriteLine();
        Console.WriteLine(summary);
        if (Get("--out") is { } path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            await File.WriteAllTextAsync(path, summary + "\nall violations:\n" + string.Join("\n", report.Violations) + "\n");
        }
        if (Get("--trace") is { } trace) await File.WriteAllLinesAsync(trace, report.Trace);
        if (redis is not null) await redis.DisposeAsync();
        return report.Violations.Count == 0 ? 0 : 1;
    }

    /// <summary>Background work held or due in any scope listed in the app's lease store (Infrastructure/Work).</summary>
    static async Task<bool> WorkLeft(StackExchange.Redis.IDatabase db)
    {
        foreach (var scope in await db.SortedSetRangeByRankAsync("nb:work:scopes"))
            if (await db.SortedSetLengthAsync($"nb:{{{scope}}}:work") > 0) return true;
        return false;
    }
}
