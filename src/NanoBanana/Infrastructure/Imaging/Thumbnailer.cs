using NetVips;

namespace NanoBanana.Infrastructure.Imaging;

public sealed record Thumbnail(int Size, int Width, int Height, byte[] Webp);

/// <summary>
/// Thumbnails as sharp makes them, on the same libvips: shrink-on-load to the largest size (EXIF
/// orientation applied, first frame of a GIF), the smaller sizes from that in-memory result, colour
/// in sRGB, WebP with no metadata at all (GPS, camera, comments).
/// </summary>
public static class Thumbnailer
{
    public const int Quality = 80;

    /// <summary>One thumbnail per size, the long side at most that size, never upscaled.</summary>
    public static IReadOnlyList<Thumbnail> Make(byte[] original, IReadOnlyList<int> sizes)
    {
        Vips.EnsureInitialized();
        using var source = Source.NewFromMemory(original);
        return Make(source, sizes);
    }

    /// <summary>
    /// The same from an open file: libvips reads it through a small buffer of its own, so no array of the whole
    /// original is made (megabytes a picture, fresh pages each time).
    /// </summary>
    public static IReadOnlyList<Thumbnail> Make(FileStream original, IReadOnlyList<int> sizes)
    {
        Vips.EnsureInitialized();
        using var source = Source.NewFromDescriptor((int)original.SafeFileHandle.DangerousGetHandle());
        return Make(source, sizes);
    }

    static int _running;

    /// <summary>From a source libvips can rewind (memory or a file): it is read once for the header, then to decode.</summary>
    static IReadOnlyList<Thumbnail> Make(Source original, IReadOnlyList<int> sizes)
    {
        var threads = Vips.ThreadsFor(Interlocked.Increment(ref _running), Environment.ProcessorCount);
        try { return Make(original, sizes, threads); }
        finally { Interlocked.Decrement(ref _running); }
    }

    static IReadOnlyList<Thumbnail> Make(Source original, IReadOnlyList<int> sizes, int threads)
    {
        var ordered = sizes.OrderByDescending(s => s).ToArray();
        var result = new List<Thumbnail>(ordered.Length);

        using var largest = Largest(original, ordered[0], threads);
        using var srgb = ToSrgb(largest);
        // Keep the largest in memory: the smaller sizes are made from it, not from the original again.
        using var source = ordered.Length > 1 ? srgb.CopyMemory() : srgb.Copy();
        result.Add(Save(ordered[0], source));
        foreach (var size in ordered.Skip(1))
        {
            using var smaller = source.ThumbnailImage(size, height: size, size: Enums.Size.Down, noRotate: true);
            result.Add(Save(size, smaller));
        }
        return result.OrderBy(t => t.Size).ToList();
    }

    /// <summary>
    /// The largest thumbnail, straight from the encoded bytes. For a JPEG, shrink-on-load is chosen as sharp
    /// does by default ("fast shrink-on-load"): the largest DCT scale (1/2, 1/4, 1/8) that keeps the picture
    /// at least as big as the target. libvips' own thumbnail keeps a further factor of two in reserve, so a
    /// 12 MP photo going to 1024 px would be decoded at full size: four times the pixels for the same result.
    /// </summary>
    static Image Largest(Source original, int size, int threads)
    {
        using var header = Image.NewFromSource(original, access: Enums.Access.Sequential);
        // An embedded profile (Display P3, Adobe RGB, CMYK) is converted to sRGB; without one the pixels already are.
        var profile = header.Contains("icc-profile-data") ? "srgb" : null;
        var loader = header.Contains("vips-loader") ? header.Get("vips-loader") as string : null;
        var ratio = Math.Max(header.Width, header.Height) / (double)size;
        var shrink = ratio >= 8 ? 8 : ratio >= 4 ? 4 : ratio >= 2 ? 2 : 1;
        if (loader is not "jpegload_source" || shrink == 1)
        {
            using var thumbnail = Image.ThumbnailSource(original, size, height: size, size: Enums.Size.Down,
                outputProfile: profile, failOn: Enums.FailOn.Truncated);
            return WithThreads(thumbnail, threads);
        }

        // Decoded as a stream and shrunk before it is turned upright: the rotation then reads 1024 px held in memory,
        // not the whole decoded picture (which it would need in memory to read in any order).
        var upright = !header.Contains("orientation") || header.Get("orientation") is 1;
        using var loaded = Image.NewFromSource(original, access: Enums.Access.Sequential, failOn: Enums.FailOn.Truncated,
            kwargs: new VOption { { "shrink", shrink } });
        using var shrunk = WithThreads(loaded, threads);
        var resized = shrunk.ThumbnailImage(size, height: size, size: Enums.Size.Down, outputProfile: profile,
            failOn: Enums.FailOn.Truncated, noRotate: true);
        if (upright) return resized;
        using (resized)
        using (var held = resized.CopyMemory())
            return held.Autorot();
    }

    // libvips reads "vips-concurrency" on the image a pipeline computes (it passes down to what is made from it): the
    // threads of this job alone, where the process-wide setting would change them for every job at once.
    static Image WithThreads(Image image, int threads) => image.Mutate(m => m.Set(GValue.GIntType, "vips-concurrency", threads));

    static Image ToSrgb(Image image) =>
        image.Interpretation is Enums.Interpretation.Srgb ? image.Copy() : image.Colourspace(Enums.Interpretation.Srgb);

    static Thumbnail Save(int size, Image image) =>
        new(size, image.Width, image.Height, image.WebpsaveBuffer(q: Quality, keep: Enums.ForeignKeep.None));
}
