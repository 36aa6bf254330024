using System.Net.Sockets;
using System.Text;

namespace NanoBanana.Tests;

/// <summary>
/// Redis MONITOR on a connection of its own: every command the server processes, as it processes it.
/// Lets a test wait for the app's own Redis traffic (e.g. an UNSUBSCRIBE) instead of sleeping.
/// </summary>
public sealed class RedisMonitor : IAsyncDisposable
{
    readonly TcpClient _tcp;
    readonly CancellationTokenSource _stop = new();
    readonly List<(Func<string, bool> Match, TaskCompletionSource Done)> _waits = [];
    readonly Lock _gate = new();
    Task _reader = Task.CompletedTask;

    RedisMonitor(TcpClient tcp) => _tcp = tcp;

    public static async Task<RedisMonitor> Start(string endpoint)
    {
        var (host, port) = (endpoint.Split(':')[0], int.Parse(endpoint.Split(':')[1]));
        var tcp = new TcpClient();
        await tcp.ConnectAsync(host, port);
        var monitor = new RedisMonitor(tcp);
        var reader = new StreamReader(tcp.GetStream(), Encoding.UTF8);
        await tcp.GetStream().WriteAsync("MONITOR\r\n"u8.ToArray());
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            var ok = await reader.ReadLineAsync(cts.Token);
            if (ok != "+OK") throw new InvalidOperationException($"MONITOR answered {ok}");
        }
        monitor._reader = monitor.Read(reader);
        return monitor;
    }

    /// <summary>Completes when a command line that <paramref name="match"/> accepts is processed (after this call).</summary>
    public Task WaitFor(Func<string, bool> match)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate) _waits.Add((match, done));
        return done.Task;
    }

    async Task Read(StreamReader reader)
    {
        try
        {
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
                lock (_gate)
                    foreach (var (match, done) in _waits)
                        if (!done.Task.IsCompleted && match(line)) done.TrySetResult();
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException) { }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _tcp.Dispose();
        await _reader;
        _stop.Dispose();
    }
}
