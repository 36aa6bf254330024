using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using NetVips;

namespace NanoBanana.Tests.Features.Images;

/// <summary>Small pictures made in code, friendly and hostile.</summary>
public static class TestImages
{
    /// <summary>
    /// A landscape JPEG stored 1200x800 (left half red, right half blue) whose EXIF says "rotate 90° clockwise"
    /// (orientation 6) and carries a GPS position: upright, it is 800x1200 with red on top.
    /// </summary>
    public static byte[] JpegWithOrientation6AndGps(int width = 1200, int height = 800)
    {
        using var red = Image.Black(width / 2, height, bands: 3) + new double[] { 220, 20, 20 };
        using var blue = Image.Black(width - width / 2, height, bands: 3) + new double[] { 20, 20, 220 };
        using var joined = red.Join(blue, Enums.Direction.Horizontal).Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        using var tagged = joined.Mutate(m =>
        {
            m.Set(GValue.BlobType, "exif-data", ExifWithOrientationAndGps(6));
            m.Set(GValue.GIntType, "orientation", 6);
        });
        return tagged.JpegsaveBuffer(q: 90);
    }

    /// <summary>A noisy JPEG: its entropy-coded data is large, so cutting it in half really truncates it.</summary>
    public static byte[] NoisyJpeg(int width = 800, int height = 600)
    {
        using var noise = Image.Gaussnoise(width, height, mean: 128, sigma: 60);
        using var rgb = noise.Bandjoin(noise, noise).Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        return rgb.JpegsaveBuffer(q: 95);
    }

    public static byte[] PngWithAlpha(int width = 600, int height = 400)
    {
        using var rgb = Image.Black(width, height, bands: 3) + new double[] { 30, 160, 90 };
        using var alpha = Image.Xyz(width, height)[0] * (255.0 / width);
        using var rgba = rgb.Bandjoin(alpha).Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        return rgba.PngsaveBuffer();
    }

    public static byte[] Gif(int width = 300, int height = 200)
    {
        using var img = (Image.Black(width, height, bands: 3) + new double[] { 200, 200, 40 }).Cast(Enums.BandFormat.Uchar)
            .Copy(interpretation: Enums.Interpretation.Srgb);
        return img.GifsaveBuffer();
    }

    public static byte[] Webp(int width = 2000, int height = 1000)
    {
        using var img = (Image.Black(width, height, bands: 3) + new double[] { 40, 90, 200 }).Cast(Enums.BandFormat.Uchar)
            .Copy(interpretation: Enums.Interpretation.Srgb);
        return img.WebpsaveBuffer(q: 80);
    }

    public static byte[] Avif(int width = 640, int height = 480)
    {
        using var img = (Image.Black(width, height, bands: 3) + new double[] { 120, 40, 160 }).Cast(Enums.BandFormat.Uchar)
            .Copy(interpretation: Enums.Interpretation.Srgb);
        return img.HeifsaveBuffer(q: 60, compression: Enums.ForeignHeifCompression.Av1, effort: 0);
    }

    public static byte[] SvgWithScript() => Encoding.UTF8.GetBytes(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\" height=\"100\"><script>fetch('/api/auth/me')</script><rect width=\"100\" height=\"100\"/></svg>");

    public static byte[] Html() => Encoding.UTF8.GetBytes("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>");

    /// <summary>A PNG of a few hundred bytes that claims to be 100000x100000 pixels (40 GB decoded).</summary>
    public static byte[] PngBomb(int width = 100_000, int height = 100_000)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 0; // greyscale
        Chunk(ms, "IHDR", ihdr);
        using (var z = new MemoryStream())
        {
            using (var zlib = new ZLibStream(z, CompressionLevel.SmallestSize, leaveOpen: true))
                zlib.Write(new byte[64 * 1024]); // the first rows' worth of zeros; the rest is simply missing
            Chunk(ms, "IDAT", z.ToArray());
        }
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(len, Crc32(typed));
        s.Write(len);
    }

    static uint Crc32(byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>An EXIF block (little-endian TIFF): IFD0 with Orientation and a GPS IFD with version and latitude ref.</summary>
    static byte[] ExifWithOrientationAndGps(ushort orientation)
    {
        var b = new List<byte>();
        b.AddRange("Exif\0\0"u8.ToArray());
        var tiff = new byte[8 + 30 + 30];
        "II"u8.CopyTo(tiff);
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(2), 42);
        BinaryPrimitives.WriteUInt32LittleEndian(tiff.AsSpan(4), 8);
        var p = 8;
        void Entry(ushort tag, ushort type, uint count, byte[] value)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(p), tag);
            BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(p + 2), type);
            BinaryPrimitives.WriteUInt32LittleEndian(tiff.AsSpan(p + 4), count);
            value.CopyTo(tiff.AsSpan(p + 8));
            p += 12;
        }
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(p), 2); p += 2;
        Entry(0x0112, 3, 1, BitConverter.GetBytes(orientation));
        Entry(0x8825, 4, 1, BitConverter.GetBytes(38u));
        p += 4; // next IFD: none
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(p), 2); p += 2;
        Entry(0x0000, 1, 4, [2, 2, 0, 0]);
        Entry(0x0001, 2, 2, "N\0"u8.ToArray());
        b.AddRange(tiff);
        return b.ToArray();
    }

    /// <summary>The image's metadata field names, as libvips reads them.</summary>
    public static string[] Fields(byte[] encoded)
    {
        using var img = Image.NewFromBuffer(encoded);
        return img.GetFields();
    }

    public static (int Width, int Height, int Bands, string Loader) Describe(byte[] encoded)
    {
        using var img = Image.NewFromBuffer(encoded);
        return (img.Width, img.Height, img.Bands, (string)img.Get("vips-loader"));
    }

    /// <summary>The average colour of a horizontal strip (top or bottom tenth) of the picture.</summary>
    public static double[] StripColour(byte[] encoded, bool top)
    {
        using var img = Image.NewFromBuffer(encoded);
        var h = Math.Max(1, img.Height / 10);
        using var strip = img.Crop(0, top ? 0 : img.Height - h, img.Width, h);
        return Enumerable.Range(0, 3).Select(b => { using var band = strip[b]; return band.Avg(); }).ToArray();
    }
}
