using NetVips;

namespace NanoBanana.Infrastructure.Imaging;

/// <summary>
/// Process-wide libvips set-up, done once: only the five raster loaders we accept may run at all
/// (SVG, PDF, matrix, CSV, ImageMagick and every other loader are blocked, so no path through
/// libvips can reach them), the operation cache is off (a server sees each image once; the cache
/// would only hold memory) and each image gets a bounded number of worker threads.
/// </summary>
public static class Vips
{
    static readonly Lock Gate = new();
    static bool _initialized;

    public static readonly string[] AllowedLoaders =
        ["VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadWebp", "VipsForeignLoadNsgif", "VipsForeignLoadHeif"];

    static int? _threadsPerImage;

    /// <summary>
    /// <paramref name="concurrency"/>: libvips threads per image, fixed. Without it a thumbnail job takes the cores shared
    /// among the jobs running when it starts (<see cref="ThreadsFor"/>).
    /// </summary>
    public static void EnsureInitialized(int? concurrency = null)
    {
        lock (Gate)
        {
            if (_initialized) return;
            if (!ModuleInitializer.VipsInitialized)
                throw new InvalidOperationException("libvips did not load: " + ModuleInitializer.Exception?.Message);
            NetVips.NetVips.BlockUntrusted = true;
            Operation.Block("VipsForeignLoad", true);
            foreach (var loader in AllowedLoaders) Operation.Block(loader, false);
            Cache.Max = 0;
            Cache.MaxFiles = 0;
            Cache.MaxMem = 0;
            if (concurrency is > 0)
            {
                NetVips.NetVips.Concurrency = concurrency.Value;
                _threadsPerImage = concurrency.Value;
            }
            _initialized = true;
        }
    }

    /// <summary>
    /// libvips threads for an image job that starts while <paramref name="jobsRunning"/> (itself included) run: the cores
    /// shared among them, so two jobs on two cores take one thread each and a job alone takes both (the last of a burst
    /// does not leave a core idle). A fixed concurrency wins.
    /// </summary>
    public static int ThreadsFor(int jobsRunning, int cores) => ThreadsFor(jobsRunning, cores, _threadsPerImage);

    public static int ThreadsFor(int jobsRunning, int cores, int? fixedThreads) => fixedThreads ?? Math.Max(1, cores / Math.Max(1, jobsRunning));
}
