using System.Buffers.Binary;
using NetVips;

namespace NanoBanana.Infrastructure.Imaging;

public enum ImageRejection
{
    /// <summary>Not one of the accepted formats (SVG, PDF, HTML, scripts, archives, anything else): 415.</summary>
    Unsupported,
    /// <summary>Claims an accepted format but is truncated or corrupt: 400.</summary>
    Corrupt,
    /// <summary>More pixels than the configured limit (a decompression bomb, or just too big a picture): 413.</summary>
    TooManyPixels,
}

public sealed class ImageRejectedException(ImageRejection kind, string message) : Exception(message)
{
    public ImageRejection Kind { get; } = kind;
}

/// <summary>What the bytes of an accepted upload turned out to be.</summary>
public sealed record ImageFormatInfo(string Mime, string Extension, int Width, int Height);

/// <summary>
/// Judges an upload by its bytes only: the magic number names the format, libvips' own loader
/// must agree (and only the five raster loaders are allowed at all, see <see cref="Vips"/>), the
/// dimensions come from the header before a single pixel is decoded, and a cheap structural check
/// catches truncated files.
/// </summary>
public sealed class ImageInspector(long maxPixels)
{
    static readonly Dictionary<string, (string Mime, string Ext, string Loader)> Formats = new()
    {
        ["jpeg"] = ("image/jpeg", "jpg", "VipsForeignLoadJpeg"),
        ["png"] = ("image/png", "png", "VipsForeignLoadPng"),
        ["webp"] = ("image/webp", "webp", "VipsForeignLoadWebp"),
        ["gif"] = ("image/gif", "gif", "VipsForeignLoadNsgif"),
        ["avif"] = ("image/avif", "avif", "VipsForeignLoadHeif"),
        ["heic"] = ("image/heic", "heic", "VipsForeignLoadHeif"),
    };

    /// <summary>The format named by the file's first bytes, or null when it is none of the accepted ones.</summary>
    public static string? Sniff(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) return "jpeg";
        if (head.Length >= 8 && head[..8].SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A })) return "png";
        if (head.Length >= 12 && head[..4].SequenceEqual("RIFF"u8) && head[8..12].SequenceEqual("WEBP"u8)) return "webp";
        if (head.Length >= 6 && (head[..6].SequenceEqual("GIF87a"u8) || head[..6].SequenceEqual("GIF89a"u8))) return "gif";
        if (head.Length >= 12 && head[4..8].SequenceEqual("ftyp"u8))
        {
            // ISO-BMFF: the major brand, then the compatible brands up to the box's end.
            var boxSize = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(head), (uint)head.Length);
            var brands = new List<string> { System.Text.Encoding.ASCII.GetString(head[8..12]) };
            for (var i = 16; i + 4 <= boxSize; i += 4) brands.Add(System.Text.Encoding.ASCII.GetString(head[i..(i + 4)]));
            if (brands.Any(b => b is "avif" or "avis")) return "avif";
            if (brands.Any(b => b is "heic" or "heix" or "heim" or "heis" or "hevc" or "hevx" or "mif1" or "msf1")) return "heic";
        }
        return null;
    }

    /// <summary>
    /// <paramref name="jpegReachedEnd"/>: what a <see cref="JpegWalk"/> over the bytes found as they arrived (the upload
    /// spool's), so that a JPEG is not read again to be checked; null: the file is walked here.
    /// </summary>
    public ImageFormatInfo Inspect(string path, bool? jpegReachedEnd = null)
    {
        Span<byte> head = stackalloc byte[64];
        int read;
        long length;
        using (var file = File.OpenRead(path))
        {
            length = file.Length;
            read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        var format = Sniff(head[..read])
            ?? throw new ImageRejectedException(ImageRejection.Unsupported,
                "This file is not a JPEG, PNG, WebP, GIF, AVIF or HEIC image.");
        var (mime, ext, loader) = Formats[format];

        Vips.EnsureInitialized();
        string? found;
        try { found = Image.FindLoad(path); }
        catch (VipsException) { found = null; }
        if (found is null || !found.StartsWith(loader, StringComparison.Ordinal))
            throw new ImageRejectedException(found is null && format is "avif" or "heic" ? ImageRejection.Unsupported : ImageRejection.Corrupt,
                $"This file starts like a {format.ToUpperInvariant()} image but cannot be read as one.");

        int width, height;
        try
        {
            // Header only: libvips loads lazily, so no pixel is decoded here.
            using var header = Image.NewFromFile(path, access: Enums.Access.Sequential);
            width = header.Width;
            height = header.PageHeight > 0 ? Math.Min(header.Height, header.PageHeight) : header.Height;
        }
        catch (VipsException)
        {
            throw new ImageRejectedException(ImageRejection.Corrupt, $"This {format.ToUpperInvariant()} image is corrupt: its header cannot be read.");
        }
        if (width <= 0 || height <= 0)
            throw new ImageRejectedException(ImageRejection.Corrupt, "This image has no pixels.");
        if ((long)width * height > maxPixels)
            throw new ImageRejectedException(ImageRejection.TooManyPixels,
                $"This picture is {width}x{height} ({(long)width * height / 1_000_000.0:0.#} megapixels); the limit is {maxPixels / 1_000_000.0:0.#} megapixels.");

        if (format is "avif" or "heic") ProbeHeif(path, format);
        if (!IsComplete(format, path, length, jpegReachedEnd))
            throw new ImageRejectedException(ImageRejection.Corrupt, $"This {format.ToUpperInvariant()} image is truncated or corrupt.");
        return new ImageFormatInfo(mime, ext, width, height);
    }

    /// <summary>
    /// Cheap structural checks for a cut-off file, without decoding a pixel. JPEG: its markers walked to the end of the
    /// last scan (<see cref="JpegWalk"/>); the others: their trailer.
    /// </summary>
    static bool IsComplete(string format, string path, long length, bool? jpegReachedEnd)
    {
        switch (format)
        {
            case "jpeg":
                return jpegReachedEnd ?? JpegWalk.ReachesEnd(path, length);
            case "png":
                return ContainsIend(path);
            case "gif":
                return Tail(path, 1) is [0x3B];
            case "webp":
                using (var file = File.OpenRead(path))
                {
                    Span<byte> riff = stackalloc byte[8];
                    file.ReadExactly(riff);
                    return BinaryPrimitives.ReadUInt32LittleEndian(riff[4..]) + 8 <= length;
                }
            default:
                return true;
        }
    }

    /// <summary>
    /// libheif reads the container of any HEIF, but decodes only the codecs it was built with (AV1 here,
    /// usually not HEVC): decode a tiny thumbnail now so that an unreadable picture is refused at upload.
    /// </summary>
    static void ProbeHeif(string path, string format)
    {
        string? compression = null;
        try
        {
            using (var header = Image.NewFromFile(path, access: Enums.Access.Sequential))
                compression = header.Contains("heif-compression") ? header.Get("heif-compression") as string : null;
            using var probe = Image.Thumbnail(path, 16, failOn: Enums.FailOn.Truncated);
            probe.Avg();
        }
        catch (VipsException)
        {
            if (compression is "hevc" || format == "heic")
                throw new ImageRejectedException(ImageRejection.Unsupported,
                    "HEIC pictures compressed with HEVC cannot be read by this server; send JPEG, PNG, WebP or AVIF.");
            throw new ImageRejectedException(ImageRejection.Corrupt, $"This {format.ToUpperInvariant()} image is truncated or corrupt.");
        }
    }

    static byte[]? Tail(string path, int count)
    {
        using var file = File.OpenRead(path);
        if (file.Length < count) return null;
        file.Seek(-count, SeekOrigin.End);
        var buffer = new byte[count];
        file.ReadExactly(buffer);
        return buffer;
    }

    // Some encoders put bytes after IEND; accept an IEND chunk near the end.
    static bool ContainsIend(string path)
    {
        using var file = File.OpenRead(path);
        var window = (int)Math.Min(file.Length, 4096);
        file.Seek(-window, SeekOrigin.End);
        var buffer = new byte[window];
        file.ReadExactly(buffer);
        return buffer.AsSpan().IndexOf("IEND"u8) >= 0;
    }
}
