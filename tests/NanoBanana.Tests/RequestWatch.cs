using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace NanoBanana.Tests;

/// <summary>
/// Watches one test host's requests (add it as an <see cref="IStartupFilter"/>): signals each request that has
/// ended, app code and all, and records every exception thrown while one ran (first chance, caught or not, through
/// the requests' own async flow: another host's or the test client's are not counted). Throwing costs CPU and
/// garbage, which a burst of refused sockets multiplies.
/// </summary>
public sealed class RequestWatch : IStartupFilter, IDisposable
{
    readonly AsyncLocal<RequestWatch?> _inRequest = new();
    readonly ConcurrentQueue<Exception> _thrown = new();
    readonly Lock _gate = new();
    readonly List<(int Count, TaskCompletionSource Done)> _waits = [];
    int _ended;

    public RequestWatch() => AppDomain.CurrentDomain.FirstChanceException += OnThrown;

    public IReadOnlyCollection<Exception> Thrown => _thrown;

    Action<IApplicationBuilder> IStartupFilter.Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (http, inner) =>
        {
            _inRequest.Value = this;
            try { await inner(http); }
            finally { Ended(); }
        });
        next(app);
    };

    /// <summary>Completes once <paramref name="count"/> requests have ended since the host started.</summary>
    public Task WhenEnded(int count)
    {
        lock (_gate)
        {
            if (_ended >= count) return Task.CompletedTask;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waits.Add((count, done));
            return done.Task;
        }
    }

    public int EndedCount { get { lock (_gate) return _ended; } }

    void Ended()
    {
        lock (_gate)
        {
            _ended++;
            foreach (var w in _waits.Where(w => w.Count <= _ended).ToList())
            {
                _waits.Remove(w);
                w.Done.TrySetResult();
            }
        }
    }

    void OnThrown(object? sender, FirstChanceExceptionEventArgs e)
    {
        if (_inRequest.Value == this) _thrown.Enqueue(e.Exception);
    }

    public void Dispose() => AppDomain.CurrentDomain.FirstChanceException -= OnThrown;
}
