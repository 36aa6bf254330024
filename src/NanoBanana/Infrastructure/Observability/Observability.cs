using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using NanoBanana.Infrastructure.Configuration;
using Serilog;
using Serilog.Events;

namespace NanoBanana.Infrastructure.Observability;

public static class Observability
{
    // One event, one line (LogEscaping): the exception follows on the same line, its line breaks written as \n.
    const string FileTemplate = "{Timestamp:o} [{Level:u3}] {SourceContext}: {Message:lj} {Properties:j} {Exception}";

    /// <summary>
    /// Structured logs to the console, <c>logs/combined.log</c> and <c>logs/error.log</c>. The console and
    /// combined.log are written by a background task (<see cref="BackgroundLogWriter"/>): a request only
    /// queues its line. error.log is written at once, on the thread that logs: an error line must be on
    /// disk even if the process dies right after it. Each instance has its own log folder (compose gives
    /// each its own volume): the files are not opened in shared mode, whose cross-process lock and flush
    /// per line cost more than the line itself.
    /// </summary>
    public static void AddLogging(this WebApplicationBuilder builder, Settings settings)
    {
        var dir = settings.LogDirectory;
        const string ConsoleTemplate = "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj} {Exception}";
        var files = new DeferredFileFlush();
        var sinks = new LoggerConfiguration().MinimumLevel.Verbose()
            .WriteTo.File(new LogEscaping(FileTemplate), Path.Combine(dir, "combined.log"), rollingInterval: RollingInterval.Infinite,
                fileSizeLimitBytes: 50 * 1024 * 1024, rollOnFileSizeLimit: true, retainedFileCountLimit: 5, hooks: files);
        // A terminal gets the console sink (a write per line, no colours: they would bypass the escaping);
        // a pipe or a file gets lines in batches.
        var console = Console.IsOutputRedirected ? new ConsoleLines(new LogEscaping(ConsoleTemplate)) : null;
        if (console is null) sinks.WriteTo.Console(new LogEscaping(ConsoleTemplate));
        else sinks.WriteTo.Sink(console);
        var background = new BackgroundLogWriter(sinks.CreateLogger(), files.Flush, console is null ? () => { } : console.Flush);
        builder.Services.AddSingleton(background);
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddSerilog((services, cfg) => cfg
            .ReadFrom.Configuration(builder.Configuration)
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
            .MinimumLevel.Override("Wolverine", LogEventLevel.Warning)
            .MinimumLevel.Override("JasperFx", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.AspNetCore.Hosting.Lifetime", LogEventLevel.Information)
            .Enrich.FromLogContext()
            // A refused request (401, 409, 429, validation) is an answer, not a fault: the request line
            // records it. Wolverine would otherwise log each one as a failed invocation, at Error.
            .Filter.ByExcluding(e => IsExpectedOutcome(e.Exception))
            // A client that hung up cancels its request down to the handler (Wolverine logs a failed
            // invocation, at Error): nobody is left to answer and nothing failed on our side.
            .Filter.ByExcluding(e => e.Exception is OperationCanceledException && ClientGone(services))
            .WriteTo.Sink(background)
            .WriteTo.File(new LogEscaping(FileTemplate), Path.Combine(dir, "error.log"), restrictedToMinimumLevel: LogEventLevel.Error,
                fileSizeLimitBytes: 50 * 1024 * 1024, rollOnFileSizeLimit: true, retainedFileCountLimit: 5),
            // Each host keeps its own logger: the static Log.Logger is left alone, so several hosts in
            // one process (tests, benchmarks) never write into each other's log folders.
            preserveStaticLogger: true);
    }

    static bool ClientGone(IServiceProvider services) =>
        services.GetRequiredService<IHttpContextAccessor>().HttpContext?.RequestAborted.IsCancellationRequested == true;

    static bool IsExpectedOutcome(Exception? e) => e switch
    {
        NanoBanana.Infrastructure.Http.ApiProblem p => p.Status < 500 || p.IsLoadShed,
        FluentValidation.ValidationException => true,
        NanoBanana.Infrastructure.Redis.UserDataMoved => true, // decided again at once: contention, not a fault
        AggregateException { InnerExceptions.Count: 1 } a => IsExpectedOutcome(a.InnerException),
        _ => false,
    };

    /// <summary>
    /// One line per request: method, path (never the query string, which may carry a WebSocket
    /// token), status and time. Headers and bodies are never logged.
    /// </summary>
    /// <remarks>
    /// A WebSocket's request lasts as long as its socket: its line is written when the answer (101, or a
    /// refusal) starts, without awaiting the request, which would hold the logger's state for the socket's lifetime.
    /// </remarks>
    public static IApplicationBuilder UseRequestLogging(this IApplicationBuilder app)
    {
        var logger = app.ApplicationServices.GetRequiredService<Serilog.ILogger>();
        app.Use((http, next) =>
        {
            if (!NanoBanana.Infrastructure.Http.HttpPipeline.IsUpgrade(http)) return next(http);
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            http.Response.OnStarting(() =>
            {
                logger.Write(Level(http, null), RequestTemplate, http.Request.Method, http.Request.Path.Value,
                    http.Response.StatusCode, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                return Task.CompletedTask;
            });
            return next(http);
        });
        return app.UseWhen(http => !NanoBanana.Infrastructure.Http.HttpPipeline.IsUpgrade(http), answers => answers.UseSerilogRequestLogging(o =>
        {
            o.Logger = logger;
            o.MessageTemplate = RequestTemplate;
            o.GetLevel = (http, _, ex) => Level(http, ex);
        }));
    }

    const string RequestTemplate = "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0} ms";

    static LogEventLevel Level(HttpContext http, Exception? ex) =>
        http.Items.ContainsKey(NanoBanana.Infrastructure.Http.ApiProblem.LoadShedItem) ? LogEventLevel.Warning
        : ex is not null || http.Response.StatusCode >= 500 ? LogEventLevel.Error
        : http.Request.Path.StartsWithSegments("/health") || http.Items.ContainsKey(NanoBanana.Infrastructure.Http.RefusalLog.Item) ? LogEventLevel.Debug
        : LogEventLevel.Information;

    /// <summary>
    /// Traces and metrics through OpenTelemetry, exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
    /// Without an endpoint nothing is collected: an activity per request and per handler, and a histogram
    /// per request, that nobody reads would only cost CPU (/health keeps its own request counts).
    /// </summary>
    public static IServiceCollection AddTelemetry(this IServiceCollection services, IConfiguration config)
    {
        if (string.IsNullOrEmpty(config["OTEL_EXPORTER_OTLP_ENDPOINT"])) return services;
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("nanobanana", serviceVersion: typeof(Observability).Assembly.GetName().Version?.ToString()))
            .WithTracing(t =>
            {
                t.AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments("/health"));
                t.AddSource("Wolverine");
                t.AddOtlpExporter();
            })
            .WithMetrics(m =>
            {
                m.AddAspNetCoreInstrumentation();
                m.AddMeter("Wolverine");
                m.AddOtlpExporter();
            });
        return services;
    }
}
