using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Generation;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Features;
using NanoBanana.Features.Generation;
using NanoBanana.Features.Images;
using NanoBanana.Features.Realtime;
using NanoBanana.Features.Sessions.DeleteSession;
using NanoBanana.Infrastructure.Observability;
using NanoBanana.Infrastructure.OpenApi;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using NanoBanana.Infrastructure.Work;
using JasperFx;
using JasperFx.CodeGeneration;
using Wolverine;

// Configuration is read once, at start. Reloading appsettings on change would keep a watcher on the whole
// content root, woken (and allocating) for every line written to a log folder below it, as in the image.
var builder = WebApplication.CreateBuilder([.. args, "--hostBuilder:reloadConfigOnChange=false"]);
var settings = Settings.From(builder.Configuration, builder.Environment);
builder.Services.AddSingleton(settings);

if (string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]) && string.IsNullOrEmpty(builder.Configuration["urls"]))
    builder.WebHost.UseUrls(settings.ListenUrl);
builder.WebHost.ConfigureKestrel(k =>
{
    k.AddServerHeader = false;
    // Kestrel's own refusals are empty answers; these let the app refuse with problem details instead:
    // header bytes that are not UTF-8 reach the app (as U+FFFD, a token then 401s), and so does a long target (414).
    k.RequestHeaderEncodingSelector = _ => HttpPipeline.LenientUtf8;
    k.Limits.MaxRequestLineSize = HttpPipeline.MaxRequestLineBytes;
});

builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>, ReceiveBlocks>();
builder.AddLogging(settings);
builder.Services.AddTelemetry(builder.Configuration);
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<RequestMetrics>();
builder.Services.AddSingleton<NanoBanana.Infrastructure.Realtime.RealtimeStats>();
builder.Services.AddRedis(settings.Redis);
builder.Services.AddTokenAuth(settings.Jwt);
builder.Services.AddApiRateLimits(settings.Limits);
builder.Services.AddUserDataCache(settings.ReadCache);
builder.Services.AddProblemHandling();
builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.Encoder = Json.Api.Encoder; // stored ready-made JSON (Json.Api) is what an answer writes
    Json.Configure(o.SerializerOptions);
});
builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
builder.Services.AddCors(o => o.AddDefaultPolicy(p => p
    .WithOrigins(settings.CorsOrigins).WithHeaders("Authorization", "Content-Type", "Idempotency-Key")
    .AllowAnyMethod().WithExposedHeaders("Retry-After")
    .SetPreflightMaxAge(TimeSpan.FromHours(2)))); // Chromium's cap; fewer preflights per call
builder.Services.AddValidatorsFromAssemblyContaining<Program>(ServiceLifetime.Singleton, includeInternalTypes: true);
builder.Services.AddSingleton<Validators>();
builder.Services.AddApiDocs();
builder.Services.AddCarter();
builder.Services.AddFeatureServices();
builder.Services.AddImages(settings);
builder.Services.AddGeneration(settings);
builder.Services.AddGenerationWork();
builder.Services.AddRealtime(builder.Configuration);

builder.Host.UseWolverine(opts =>
{
    opts.ApplicationAssembly = typeof(Program).Assembly;
    // Handlers run the code pre-generated into Internal/Generated (scripts/codegen.sh writes it): no Roslyn
    // at start-up. GeneratedCodeTests fails when that code no longer matches the handlers.
    opts.CodeGeneration.TypeLoadMode = TypeLoadMode.Static;
    opts.Policies.AddMiddleware(typeof(ValidationMiddleware));
    opts.CommitReturnedChanges();
    opts.UseLeasedWork();
    opts.RoutePurgesToTheirQueue();
});

var app = builder.Build();

if (settings.KnownProxies.Length > 0) app.UseForwardedHeaders(ClientAddress.ForwardedFrom(settings.KnownProxies));
app.UseRequestBookkeeping();
app.UseRequestLogging(); // outside the error handling: logs the status the client really got
// Not for a WebSocket's request, which lasts as long as its socket: the hub answers its own refusals, and an
// awaiting middleware would hold its state for the socket's lifetime.
app.UseWhen(http => !HttpPipeline.IsUpgrade(http), answers => answers.UseExceptionHandler().UseStatusCodePages());
app.UseWebPage(settings); // static files answer before the API's body limits, auth and read cache
app.UseJsonBodyLimit(settings.Limits.JsonBodyBytes,
    path => NanoBanana.Features.Generation.Compatibility.CompatibilityRoutes.Handles(path) ? settings.Generation.MaxBodyBytes : null);
app.UseCors();
app.UseRequestTargetLimit(); // after CORS: a browser can read these refusals
app.UseJsonObjectBodies();
app.UseWebSockets();
app.UseRouting(); // after the WebSocket upgrade is known: the hub short-circuits from here (Features/Realtime/Hub.cs)
app.UseAuthentication();
app.UseRateLimiter();
app.UseAuthorization();
app.UseUserDataCache(); // after auth: a kept answer is only ever looked up for its own, signed-in user

if (settings.ApiDocs) app.MapApiDocs();
app.MapCarter();

// `codegen write` (scripts/codegen.sh) writes Internal/Generated; every other start just runs the app.
if (args is ["codegen", ..]) return await app.RunJasperFxCommands(args);
app.Run();
return 0;

public partial class Program;
