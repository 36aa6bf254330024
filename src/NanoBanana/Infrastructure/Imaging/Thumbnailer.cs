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
        var ordered = sizes.OrderByDescending(s => s).ToArray();
        var result = new List<Thumbnail>(ordered.Length);

        // An embedded profile (Display P3, Adobe RGB, CMYK) is converted to sRGB; without one the pixels already are.
        bool hasProfile;
        using (var header = Image.NewFromBuffer(original, access: Enums.Access.Sequential))
            hasProfile = header.Contains("icc-profile-data");

        using var largest = Image.ThumbnailBuffer(original, ordered[0], height: ordered[0], size: Enums.Size.Down,
            outputProfile: hasProfile ? "srgb" : null, failOn: Enums.FailOn.Truncated);
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

    static Image ToSrgb(Image image) =>
        image.Interpretation is Enums.Interpretation.Srgb ? image.Copy() : image.Colourspace(Enums.Interpretation.Srgb);

    static Thumbnail Save(int size, Image image) =>
        new(size, image.Width, image.Height, image.WebpsaveBuffer(q: Quality, keep: Enums.ForeignKeep.None));
}
