using System.Security.Cryptography;
using System.Text;
using NanoBanana.Infrastructure.Imaging;
using NetVips;

namespace NanoBanana.Infrastructure.Generation;

/// <summary>
/// The built-in provider: no key, no network. A generation paints a gradient and discs whose colours
/// and places come from a hash of the prompt, the seed and the picture's index; an edit keeps the input's
/// size and blends it with such a painting (and a little of each reference), only where a mask is
/// transparent when there is one. The same prompt, inputs and seed give the same bytes.
/// </summary>
public sealed class LocalProvider : IImageProvider
{
    public const string ProviderId = "local";
    public string Id => ProviderId;
    public string Name => "Local (built in, libvips)";
    public string DefaultModel => "local-vips-1";
    public bool Configured => true;
    public bool Mock => false;

    public Task<ProviderAnswer> Run(ImageRequest request, CancellationToken ct)
    {
        Vips.EnsureInitialized();
        var images = new List<byte[]>();
        for (var i = 0; i < request.N; i++)
        {
            ct.ThrowIfCancellationRequested();
            var hash = Hash(request, i);
            images.Add(request.IsEdit ? Edit(request, hash) : Paint(Size(request.Size), hash, request.OutputFormat));
        }
        return Task.FromResult(new ProviderAnswer(images, null, DefaultModel));
    }

    static byte[] Hash(ImageRequest request, int index)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{request.Prompt}\n{request.Seed}\n{index}\n"));
        foreach (var picture in request.Images) sha.AppendData(SHA256.HashData(picture.Bytes));
        if (request.Mask is { } mask) sha.AppendData(SHA256.HashData(mask.Bytes));
        return sha.GetHashAndReset();
    }

    /// <summary>"WxH" within 16..4096 per side; anything else ("auto", "2K") is 1024x1024.</summary>
    public static (int Width, int Height) Size(string? size)
    {
        var parts = size?.Split('x', 'X', '*');
        return parts is [var w, var h] && int.TryParse(w, out var width) && int.TryParse(h, out var height)
            ? (Math.Clamp(width, 16, 4096), Math.Clamp(height, 16, 4096))
            : (1024, 1024);
    }

    static byte[] Paint((int Width, int Height) size, byte[] hash, string? format)
    {
        using var painting = Painting(size.Width, size.Height, hash);
        return Save(painting, format);
    }

    static Image Painting(int width, int height, byte[] hash)
    {
        using var xyz = Image.Xyz(width, height);
        using var x = xyz[0];
        using var y = xyz[1];
        // 0 at the top-left corner, 1 at the bottom-right: a diagonal gradient between two colours.
        using var t = (x / (double)width + y / (double)height) / 2.0;
        var bands = new Image[3];
        for (var b = 0; b < 3; b++) bands[b] = t * (double)(hash[3 + b] - hash[b]) + hash[b];
        using var joined = bands[0].Bandjoin(bands[1], bands[2]);
        foreach (var band in bands) band.Dispose();
        using var rgb = joined.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        return rgb.Mutate(canvas =>
        {
            for (var k = 0; k < 5; k++)
            {
                var o = 6 + k * 5;
                double[] ink = [hash[o], hash[o + 1], hash[o + 2]];
                var cx = hash[o + 3] * width / 255;
                var cy = hash[o + 4] * height / 255;
                var radius = Math.Max(2, Math.Min(width, height) * (hash[(o + 5) % 32] % 24 + 6) / 100);
                canvas.DrawCircle(ink, cx, cy, radius, fill: true);
            }
        });
    }

    static byte[] Edit(ImageRequest request, byte[] hash)
    {
        using var input = Rgb(Image.NewFromBuffer(request.Images[0].Bytes, access: Enums.Access.Sequential));
        int width = input.Width, height = input.Height;
        using var painting = Painting(width, height, hash);
        var edited = input * 0.55 + painting * 0.45;
        foreach (var reference in request.Images.Skip(1))
        {
            using var r = Rgb(Image.NewFromBuffer(reference.Bytes));
            using var fitted = r.Resize((double)width / r.Width, vscale: (double)height / r.Height);
            var next = edited * 0.85 + fitted * 0.15;
            edited.Dispose();
            edited = next;
        }
        if (request.Mask is { } maskPicture)
        {
            // As the Images API: the mask's transparent pixels are the region to change.
            using var mask = Image.NewFromBuffer(maskPicture.Bytes);
            using var alpha = mask.HasAlpha() ? mask[mask.Bands - 1] : mask.Colourspace(Enums.Interpretation.Bw)[0];
            using var fittedAlpha = alpha.Resize((double)width / mask.Width, vscale: (double)height / mask.Height);
            using var change = (255.0 - fittedAlpha) / 255.0;
            var masked = edited * change + input * (1.0 - change);
            edited.Dispose();
            edited = masked;
        }
        using (edited)
        using (var result = edited.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb))
            return Save(result, request.OutputFormat ?? Format(request.Images[0].Mime));
    }

    static Image Rgb(Image image)
    {
        using (image)
        {
            using var flat = image.HasAlpha() ? image.Flatten(background: [255.0]) : image.Copy();
            using var srgb = flat.Colourspace(Enums.Interpretation.Srgb);
            return srgb.Bands == 3 ? srgb.Copy() : srgb.ExtractBand(0, n: 3);
        }
    }

    static string? Format(string mime) => mime switch { "image/jpeg" => "jpeg", "image/webp" => "webp", _ => null };

    static byte[] Save(Image image, string? format) => format?.ToLowerInvariant() switch
    {
        "jpeg" or "jpg" => image.JpegsaveBuffer(q: 90, keep: Enums.ForeignKeep.None),
        "webp" => image.WebpsaveBuffer(q: 90, keep: Enums.ForeignKeep.None),
        _ => image.PngsaveBuffer(keep: Enums.ForeignKeep.None),
    };
}
