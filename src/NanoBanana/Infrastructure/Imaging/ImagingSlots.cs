namespace NanoBanana.Infrastructure.Imaging;

/// <summary>
/// How many images libvips works on at once in this process (decode, resize, encode): one per core plus one by default. A
/// thumbnail job holds a slot for its pixels only, so its store writes and Redis round trips overlap the next job's pixels.
/// </summary>
public sealed class ImagingSlots(int slots)
{
    readonly SemaphoreSlim _free = new(slots, slots);

    /// <summary>Waits for a free slot; disposing the answer frees it.</summary>
    public async ValueTask<Slot> Enter(CancellationToken ct)
    {
        await _free.WaitAsync(ct);
        return new Slot(_free);
    }

    public readonly struct Slot(SemaphoreSlim free) : IDisposable
    {
        public void Dispose() => free.Release();
    }
}
