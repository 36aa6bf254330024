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
        // No colours on a terminal: they would bypass the escaping.
        var background = new BackgroundLogWriter(new LogFile(Path.Combine(dir, "combined.log")), Console.OpenStandardOutput(),
            new LogEscaping(FileTemplate), new LogEscaping(ConsoleTemplate));
        builder.Services.AddSingleton(background);
        builder.Services.AddSingleton<RequestLog>();
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

    /// <summary>One line per request (<see cref="RequestLog"/>).</summary>
    public static IApplicationBuilder UseRequestLogging(this IApplicationBuilder app)
    {
        var log = app.ApplicationServices.GetRequiredService<RequestLog>();
        return app.Use(log.Invoke);
    }

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
