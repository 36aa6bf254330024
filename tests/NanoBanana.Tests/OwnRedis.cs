using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace NanoBanana.Tests;

/// <summary>
/// A redis-server of one test's own (the binary scripts/test.sh installs), on a loopback port the kernel
/// picks, for tests that take Redis away: <see cref="RestartLoading"/> kills it and starts it again on the
/// same port, still loading its data for a while (it answers <c>LOADING</c> meanwhile), as a Redis with a
/// large dataset does after a crash.
/// </summary>
public sealed class OwnRedis : IAsyncDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "redis");
    Process? _process;

    public int Port { get; }
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>Completes when the server started by the last <see cref="RestartLoading"/> has loaded its data.</summary>
    public Task Loaded { get; private set; } = Task.CompletedTask;

    OwnRedis()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Directory.CreateDirectory(_dir);
    }

    public static async Task<OwnRedis> Start()
    {
        var redis = new OwnRedis();
        var (_, ready) = redis.Launch();
        await ready.WaitAsync(TimeSpan.FromSeconds(30));
        return redis;
    }

    /// <summary>
    /// Writes <paramref name="keys"/> keys into a snapshot, kills the server (SIGKILL) and starts it again,
    /// loading them at <paramref name="perKey"/> each (Redis's <c>key-load-delay</c>). Returns once the new
    /// server listens and is loading.
    /// </summary>
    public async Task RestartLoading(int keys, TimeSpan perKey)
    {
        await using (var admin = await ConnectionMultiplexer.ConnectAsync($"{Endpoint},allowAdmin=true"))
        {
            var db = admin.GetDatabase();
            var filler = new string('x', 4096); // larger than the loading step below: the server answers between keys
            await Task.WhenAll(Enumerable.Range(0, keys).Select(i => db.StringSetAsync($"filler:{i}", filler)));
            await db.ExecuteAsync("SAVE"); // a snapshot on disk before the kill
        }
        _process!.Kill();
        await _process.WaitForExitAsync();
        var (loading, ready) = Launch("--key-load-delay", ((long)perKey.TotalMicroseconds).ToString(),
            "--loading-process-events-interval-bytes", "1024");
        Loaded = ready;
        await loading.WaitAsync(TimeSpan.FromSeconds(30));
    }

    (Task Loading, Task Ready) Launch(params string[] extra)
    {
        var info = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in (string[])["--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", _dir, "--save", "",
                     "--appendonly", "no", "--rdbcompression", "no", "--daemonize", "no", .. extra])
            info.ArgumentList.Add(arg);
        var loading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info };
        // The listening socket is open before the data is loaded: "Loading RDB" means clients now get LOADING.
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            if (e.Data.Contains("Loading RDB")) loading.TrySetResult();
            if (e.Data.Contains("Ready to accept connections")) { loading.TrySetResult(); ready.TrySetResult(); }
        };
        process.Start();
        process.BeginOutputReadLine();
        _process = process;
        return (loading.Task, ready.Task);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill();
            await p.WaitForExitAsync();
        }
        _process?.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
