using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace NanoBanana.Tests.Infrastructure.Generation;

/// <summary>A request as the fake provider received it.</summary>
public sealed record ReceivedRequest(string Method, string Path, string Query, IHeaderDictionary Headers, string? ContentType, byte[] Body,
    DateTimeOffset At)
{
    public string Header(string name) => Headers.TryGetValue(name, out var v) ? v.ToString() : "";
}

/// <summary>
/// An image provider's API on a loopback port (a small Kestrel app): it records every request and
/// answers with the next scripted responder (the last one repeats). <see cref="Received"/> and
/// <see cref="Aborted"/> let a test wait for what happened instead of sleeping.
/// </summary>
public sealed class FakeProvider : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly ConcurrentQueue<Func<HttpContext, Task>> _script = new();
    Func<HttpContext, Task> _last = ctx => ctx.Response.WriteAsync("{}");
    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();
    public string BaseUrl { get; private set; } = "";
    /// <summary>Completed when a request arrives.</summary>
    public TaskCompletionSource Received { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>Completed when a caller abandons a request the fake is still answering.</summary>
    public TaskCompletionSource Aborted { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    FakeProvider(WebApplication app) => _app = app;

    public static async Task<FakeProvider> Start()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var fake = new FakeProvider(app);
        app.Run(fake.Answer);
        await app.StartAsync();
        fake.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return fake;
    }

    /// <summary>Forgets the requests and the script (a fake shared by a test class, between its tests).</summary>
    public void Reset()
    {
        Requests.Clear();
        _script.Clear();
        _last = ctx => ctx.Response.WriteAsync("{}");
        Received = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Aborted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Answers the next requests with these, in order; the last keeps answering.</summary>
    public FakeProvider Answer(params Func<HttpContext, Task>[] responders)
    {
        foreach (var r in responders) _script.Enqueue(r);
        return this;
    }

    async Task Answer(HttpContext ctx)
    {
        using var buffer = new MemoryStream();
        await ctx.Request.Body.CopyToAsync(buffer);
        Requests.Enqueue(new ReceivedRequest(ctx.Request.Method, ctx.Request.Path, ctx.Request.QueryString.Value ?? "",
            new HeaderDictionary(ctx.Request.Headers.ToDictionary(h => h.Key, h => h.Value)), ctx.Request.ContentType,
            buffer.ToArray(), DateTimeOffset.UtcNow));
        if (_script.TryDequeue(out var next)) _last = next;
        Received.TrySetResult();
        ctx.RequestAborted.Register(() => Aborted.TrySetResult());
        try { await _last(ctx); }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested) { }
    }

    public static Func<HttpContext, Task> Json(int status, string json, Action<HttpResponse>? headers = null) => async ctx =>
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        headers?.Invoke(ctx.Response);
        await ctx.Response.WriteAsync(json);
    };

    /// <summary>Never answers on its own: holds the request until the caller gives up (or the fake stops).</summary>
    public static Func<HttpContext, Task> Hang => ctx => Task.Delay(Timeout.Infinite, ctx.RequestAborted);

    /// <summary>Holds the request until <paramref name="release"/> completes, then answers.</summary>
    public static Func<HttpContext, Task> After(Task release, Func<HttpContext, Task> then) => async ctx =>
    {
        await release.WaitAsync(ctx.RequestAborted);
        await then(ctx);
    };

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }
}

/// <summary>Every log line the providers write, to check what never reaches a log.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();
    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);
    public void Dispose() { }

    sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue($"{category} {logLevel}: {formatter(state, exception)} {exception}");
    }
}
