using NanoBanana.Features.Images.CollectGarbage;
using NanoBanana.Features.Images.GenerateThumbnails;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Imaging;
using NanoBanana.Infrastructure.Storage;
using Wolverine;

namespace NanoBanana.Features.Images;

public static class ImagesSetup
{
    /// <summary>Storage, imaging, the thumbnail and garbage-collection queues, and the collector's schedule.</summary>
    public static IServiceCollection AddImages(this IServiceCollection services, Settings settings)
    {
        var images = settings.Images;
        services.AddObjectStorage(settings);
        // libvips threads per image: fixed if set, else each thumbnail job takes the cores shared among the jobs running.
        Vips.EnsureInitialized(images.VipsConcurrency > 0 ? images.VipsConcurrency : null);
        services.AddSingleton(new ImageInspector((long)images.MaxMegapixels * 1_000_000));
        services.AddSingleton(new ImagingSlots(images.ThumbnailParallelism));
        services.AddHostedService<ImageWorkStarter>();
        services.AddSingleton<Messages.MessageImages.IImageDescriptions, MessageImageDescriptions>();
        services.ConfigureWolverine(opts =>
        {
            // Twice the jobs the slots take: while one job's store writes and Redis round trips are in flight, the next one's pixels run.
            opts.LocalQueue(GenerateThumbnailsHandler.Queue).MaximumParallelMessages(2 * images.ThumbnailParallelism);
            opts.PublishMessage<GenerateThumbnails.GenerateThumbnails>().ToLocalQueue(GenerateThumbnailsHandler.Queue);
            opts.LocalQueue(CollectGarbageHandler.Queue).Sequential();
            opts.PublishMessage<CollectGarbage.CollectGarbage>().ToLocalQueue(CollectGarbageHandler.Queue);
            opts.PublishMessage<GarbageCollectionDue>().ToLocalQueue(CollectGarbageHandler.Queue);
        });
        return services;
    }
}

/// <summary>
/// Once the app has started (Wolverine included): schedule the first garbage collection (each tick schedules the next).
/// Unfinished work of a dead process is taken over by the work sweep (Infrastructure/Work), not here.
/// </summary>
public sealed class ImageWorkStarter(IHostApplicationLifetime lifetime, IServiceProvider services, Settings settings,
    ILogger<ImageWorkStarter> log) : IHostedService
{
    public Task StartAsync(CancellationToken ct)
    {
        UploadSpool.Prepare(settings.Images.UploadTempPath, log);
        lifetime.ApplicationStarted.Register(() => _ = Kick());
        return Task.CompletedTask;
    }

    async Task Kick()
    {
        try
        {
            // IMessageBus is scoped: resolving it from the root provider fails where scopes are
            // validated (Development, i.e. scripts/run.sh), and then nothing was recovered or collected.
            await using var scope = services.CreateAsyncScope();
            var bus = scope.ServiceProvider.GetRequiredService<IMessageBus>();
            await bus.ScheduleAsync(new GarbageCollectionDue(), TimeSpan.FromSeconds(settings.Images.GcIntervalSeconds));
        }
        catch (Exception e)
        {
            log.LogError(e, "Could not schedule the image garbage collection");
        }
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}
