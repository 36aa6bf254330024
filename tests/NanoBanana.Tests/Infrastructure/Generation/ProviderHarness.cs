using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Generation;
using NanoBanana.Infrastructure.Imaging;
using NetVips;

namespace NanoBanana.Tests.Infrastructure.Generation;

/// <summary>
/// The providers as the app wires them (named HttpClients, resilience pipelines, the inspector), built
/// from environment-style settings without the rest of the app. Each harness has its own pipelines,
/// so one test's failures never open another test's circuit breaker.
/// </summary>
public sealed class ProviderHarness : IAsyncDisposable
{
    readonly ServiceProvider _services;
    public CapturedLogs Logs { get; } = new();
    public ImageProviders Providers { get; }

    /// <summary>
    /// A short backoff so the failure paths run in a fraction of a second; an attempt timeout long enough
    /// for a cold first call on a busy machine (the timeout tests set their own short one).
    /// </summary>
    public static readonly Dictionary<string, string?> FastDefaults = new()
    {
        ["GENERATION_TIMEOUT_SECONDS"] = "20",
        ["GENERATION_RETRY_DELAY_MS"] = "5",
        ["GENERATION_MAX_ATTEMPTS"] = "3",
    };

    public ProviderHarness(IDictionary<string, string?> env)
    {
        var all = new Dictionary<string, string?>(FastDefaults);
        foreach (var (k, v) in env) all[k] = v;
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(Logs).SetMinimumLevel(LogLevel.Trace));
        services.AddSingleton(new ImageInspector(50_000_000));
        services.AddGeneration(new Settings { Generation = GenerationSettings.From((name, _) => all.GetValueOrDefault(name)) });
        _services = services.BuildServiceProvider();
        Providers = _services.GetRequiredService<ImageProviders>();
    }

    public IImageProvider this[string id] => Providers.Find(id)!;

    public Task<ImageResult> Run(string id, ImageRequest request, CancellationToken ct = default) =>
        Providers.Run(this[id], request, mock: false, ct);

    public ValueTask DisposeAsync() => _services.DisposeAsync();

    /// <summary>A real PNG of the given size and colour.</summary>
    public static byte[] Png(int width, int height, double r = 200, double g = 60, double b = 40)
    {
        NanoBanana.Infrastructure.Imaging.Vips.EnsureInitialized();
        using var img = (Image.Black(width, height, bands: 3) + new[] { r, g, b }).Cast(Enums.BandFormat.Uchar)
            .Copy(interpretation: Enums.Interpretation.Srgb);
        return img.PngsaveBuffer();
    }
}
